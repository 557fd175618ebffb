import LoupeTensor

/// The most a file may make Loupe decode, checked before the bytes are read or allocated
/// (docs/fuzzing.md lists every limit and why it has its value):
/// - one tensor: `Tensor.maxElements` elements (`LoupeConfiguration.maxElements`, 2^31);
/// - one image: `ImageIO.defaultMaxPixels` pixels (178,956,970, Pillow's bomb limit), from the header;
/// - one text file (labels, Keras config): `InputFile.maxTextBytes` (64 MiB);
/// - one compressed HDF5 dataset: `HDF5File.maxFilteredExpansion` times its stored bytes;
/// - one whole file: `maxDecodedBytesPerFile` of weights, summed over its ONNX initializers
///   (typed fields, `raw_data`, external data) or its HDF5 datasets.
public enum ReadLimits {
    /// 16 GiB: ten times the largest models Loupe is meant for (VGG-19's weights are 0.55 GB,
    /// ConvNeXt-XLarge's 1.4 GB), and more than a protobuf file can hold (2 GiB), so only
    /// external data or an HDF5 file can reach it.
    public static let maxDecodedBytesPerFile = 16 << 30

    /// Counts the bytes one file decodes and throws once they pass `maxDecodedBytesPerFile`.
    final class Budget {
        /// The file's name for messages; nil when the caller adds it (the ONNX importer does).
        let file: String?
        private(set) var used = 0
        init(file: String?) { self.file = file }

        /// Takes `bytes` (the next tensor's decoded size, before it is read) from the budget.
        func take(_ bytes: Int, for what: String) throws {
            let (sum, overflow) = used.addingReportingOverflow(bytes)
            guard !overflow, sum <= ReadLimits.maxDecodedBytesPerFile else {
                throw LoupeError(.tooLarge, "\(file.map { "\($0): " } ?? "")\(what) would bring the weights read from this file past \(ReadLimits.maxDecodedBytesPerFile) bytes (ReadLimits.maxDecodedBytesPerFile), after \(used) bytes; refusing to read it")
            }
            used = sum
        }
    }
}
