import CHDF5
import Foundation
import LoupeTensor

/// A read-only HDF5 file, opened from disk or from bytes in memory (the `model.weights.h5`
/// inside a `.keras` archive). This is the only file that touches the HDF5 C library: it
/// silences HDF5's own error printing and turns every failure into a `LoupeError`.
final class HDF5File {
    private let id: hid_t
    /// The name errors use (the file, or `archive.keras/model.weights.h5`).
    let name: String
    /// The decoded bytes of all datasets read from this file (`ReadLimits.maxDecodedBytesPerFile`).
    private lazy var budget = ReadLimits.Budget(file: name)

    private static let setUp: Void = {
        H5open()
        _ = loupe_h5_silence()
    }()

    /// Opens `path` read-only.
    init(path: String) throws {
        _ = Self.setUp
        name = (path as NSString).lastPathComponent
        try InputFile.check(path, as: "model")
        guard H5Fis_hdf5(path) > 0 else {
            throw LoupeError.invalid("\(name): not an HDF5 file (no HDF5 signature; the file may be truncated or of another format)")
        }
        let file = name
        try InputFile.read(path, as: "model", mapped: true).withUnsafeBytes { try HDF5GlobalHeapCheck.check($0, name: file) }
        let f = H5Fopen(path, loupe_h5f_acc_rdonly(), loupe_h5p_default())
        guard f >= 0 else { throw LoupeError.invalid("\(name): HDF5 cannot open the file (truncated or corrupt)") }
        id = f
    }

    /// Opens an HDF5 file image held in memory; nothing is written to disk.
    init(image: Data, name: String) throws {
        _ = Self.setUp
        self.name = name
        try image.withUnsafeBytes { try HDF5GlobalHeapCheck.check($0, name: name) }
        let fapl = H5Pcreate(loupe_h5p_file_access())
        guard fapl >= 0 else { throw LoupeError.invalid("\(name): HDF5 cannot create a file-access list") }
        defer { H5Pclose(fapl) }
        var f: hid_t = -1
        if H5Pset_fapl_core(fapl, 1 << 16, false) >= 0 {
            // HDF5 copies the image (default callbacks), so the buffer is only borrowed here.
            let ok = image.withUnsafeBytes { H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) } >= 0
            if ok { f = H5Fopen(name, loupe_h5f_acc_rdonly(), fapl) }
        }
        guard f >= 0 else { throw LoupeError.invalid("\(name): not a readable HDF5 file (truncated or corrupt)") }
        id = f
    }

    deinit { H5Fclose(id) }

    /// True when `path` (slash-separated, from the root) names a group or dataset.
    func exists(_ path: String) -> Bool {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            guard H5Lexists(id, prefix, loupe_h5p_default()) > 0 else { return false }
        }
        return true
    }

    /// The string attribute `attr` of the object at `path`, as a list (a scalar gives one
    /// element), or nil when there is no such attribute. Reads fixed-length and
    /// variable-length strings.
    func strings(_ path: String, _ attr: String) throws -> [String]? {
        guard exists(path) || path == "/" else { return nil }
        guard H5Aexists_by_name(id, path, attr, loupe_h5p_default()) > 0 else { return nil }
        let a = H5Aopen_by_name(id, path, attr, loupe_h5p_default(), loupe_h5p_default())
        guard a >= 0 else { throw bad("cannot open attribute '\(attr)' of '\(path)'") }
        defer { H5Aclose(a) }
        let type = H5Aget_type(a)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else {
            throw bad("attribute '\(attr)' of '\(path)' is not a string")
        }
        let space = H5Aget_space(a)
        defer { H5Sclose(space) }
        let n = Int(H5Sget_simple_extent_npoints(space))
        guard n >= 0, n < 10_000_000 else { throw bad("attribute '\(attr)' of '\(path)' has an invalid size") }
        if n == 0 { return [] }
        if H5Tis_variable_str(type) > 0 {
            let mem = H5Tcopy(loupe_h5_c_s1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, loupe_h5t_variable())
            H5Tset_cset(mem, H5Tget_cset(type))
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            guard H5Aread(a, mem, &ptrs) >= 0 else { throw bad("cannot read attribute '\(attr)' of '\(path)'") }
            defer { for p in ptrs where p != nil { H5free_memory(p) } }
            return ptrs.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, size < 1 << 30, n * size < 1 << 31 else { throw bad("attribute '\(attr)' of '\(path)' is too large") }
        var buf = [UInt8](repeating: 0, count: n * size)
        guard H5Aread(a, type, &buf) >= 0 else { throw bad("cannot read attribute '\(attr)' of '\(path)'") }
        return (0..<n).map { i in
            let chunk = buf[(i * size)..<((i + 1) * size)]
            let end = chunk.firstIndex(of: 0) ?? chunk.endIndex
            return String(decoding: chunk[chunk.startIndex..<end], as: UTF8.self)
        }
    }

    /// A dataset read as float32 (HDF5 converts float16/float64/integers), with its shape.
    func tensor(_ path: String) throws -> Tensor {
        guard exists(path) else { throw bad("no dataset '\(path)'") }
        let d = H5Dopen2(id, path, loupe_h5p_default())
        guard d >= 0 else { throw bad("'\(path)' is not a dataset") }
        defer { H5Dclose(d) }
        let type = H5Dget_type(d)
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        guard cls == H5T_FLOAT || cls == H5T_INTEGER else { throw bad("dataset '\(path)' is not numeric") }
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 8 else { throw bad("dataset '\(path)' has an invalid rank") }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        let shape = dims.prefix(rank).map { Int(clamping: $0) }
        let count: Int
        do { count = try Tensor.checkedCount(shape) } catch let e as LoupeError { throw e.context("\(name): dataset '\(path)'") }
        try checkStorage(d, type: type, path: path, shape: shape, count: count)
        try budget.take(count * 4, for: "dataset '\(path)' of shape \(describe(shape))")
        var values = [Float](repeating: 0, count: count)
        if count > 0 {
            let ok = values.withUnsafeMutableBytes {
                H5Dread(d, loupe_h5_native_float(), loupe_h5s_all(), loupe_h5s_all(), loupe_h5p_default(), $0.baseAddress)
            }
            guard ok >= 0 else { throw bad("cannot read dataset '\(path)' (the file may be truncated or corrupt)") }
        }
        return Tensor(shape: shape, floats: values)
    }

    /// The most a filtered (compressed) dataset may expand: its decoded float32 values may take
    /// at most this many times its stored bytes, plus `filteredSlack`. Trained weights compress
    /// by less than 2:1; deflate reaches about 1000:1 only on constant data, so a small file
    /// cannot declare gigabytes of zeros.
    static let maxFilteredExpansion = 64
    static let filteredSlack = 1 << 20

    /// Refuses a dataset whose decoded size the file cannot back: an unfiltered dataset must
    /// store all its bytes (one never written would read as gigabytes of fill value), and a
    /// filtered one may expand at most `maxFilteredExpansion` times.
    private func checkStorage(_ d: hid_t, type: hid_t, path: String, shape: [Int], count: Int) throws {
        guard count > 0 else { return }
        let stored = Int(clamping: H5Dget_storage_size(d))
        let plist = H5Dget_create_plist(d)
        let filters = plist >= 0 ? Int(H5Pget_nfilters(plist)) : 0
        if plist >= 0 { H5Pclose(plist) }
        let declared = count.multipliedReportingOverflow(by: max(Int(H5Tget_size(type)), 1))
        if filters == 0 {
            guard !declared.overflow, stored >= declared.partialValue else {
                throw bad("dataset '\(path)' of shape \(describe(shape)) needs \(declared.overflow ? "more than \(Int.max)" : String(declared.partialValue)) bytes but the file stores \(stored) (truncated, or never written)")
            }
        } else {
            let decoded = count.multipliedReportingOverflow(by: 4)
            let allowed = stored.multipliedReportingOverflow(by: Self.maxFilteredExpansion)
            guard !decoded.overflow, allowed.overflow || decoded.partialValue <= allowed.partialValue + Self.filteredSlack else {
                throw LoupeError(.tooLarge, "\(name): compressed dataset '\(path)' of shape \(describe(shape)) would decode to \(decoded.overflow ? "more than \(Int.max)" : String(decoded.partialValue)) bytes from \(stored) stored bytes, more than \(Self.maxFilteredExpansion) times as many; refusing to read it")
            }
        }
    }

    private func bad(_ message: String) -> LoupeError { LoupeError.invalid("\(name): \(message)") }
}
