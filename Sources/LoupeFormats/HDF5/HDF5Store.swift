import CHDF5
import Foundation
import LoupeTensor

/// An HDF5 file Loupe writes: extendible one- and two-dimensional datasets in the root group
/// (float32, int32, int64 and variable-length UTF-8 strings) that grow row by row, and string
/// attributes on the root. It reads back what it writes, for resuming and merging.
///
/// Every dataset is chunked with an unlimited first dimension, so rows can be appended after
/// the file was closed; `flush()` puts what was appended on disk. This and `HDF5File` (the
/// reader of Keras weights) are the only files that touch libhdf5; failures become
/// `LoupeError`s naming the file.
final class HDF5Store {
    enum Mode { case create, readWrite, readOnly }

    enum Kind {
        case float32(columns: Int), int32, int64, string
        var rank: Int { if case .float32 = self { 2 } else { 1 } }
    }

    private let id: hid_t
    let path: String

    private static let setUp: Void = {
        H5open()
        _ = loupe_h5_silence()
    }()

    /// True when `path` starts with the HDF5 signature.
    static func isHDF5(_ path: String) -> Bool {
        _ = setUp
        return H5Fis_hdf5(path) > 0
    }

    /// Creates (truncating) or opens the file at `path`.
    init(path: String, mode: Mode) throws {
        _ = Self.setUp
        self.path = path
        let f: hid_t
        switch mode {
        case .create:
            try OutputFile.checkFolder(path, as: "HDF5")
            f = H5Fcreate(path, loupe_h5f_acc_trunc(), loupe_h5p_default(), loupe_h5p_default())
        case .readWrite, .readOnly:
            try InputFile.check(path, as: "HDF5 file")
            guard H5Fis_hdf5(path) > 0 else { throw LoupeError.invalid("\(path): not an HDF5 file") }
            f = H5Fopen(path, mode == .readOnly ? loupe_h5f_acc_rdonly() : loupe_h5f_acc_rdwr(), loupe_h5p_default())
        }
        guard f >= 0 else {
            throw LoupeError(.io, "\(path): HDF5 cannot \(mode == .create ? "create" : "open") the file\(mode == .create ? "" : " (truncated or corrupt, or open elsewhere)")")
        }
        id = f
    }

    deinit { H5Fclose(id) }

    private func fail(_ message: String) -> LoupeError { LoupeError(.io, "\(path): \(message)") }

    /// Writes what was appended to disk.
    func flush() throws {
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw fail("cannot flush the file to disk") }
    }

    func exists(_ name: String) -> Bool { H5Lexists(id, name, loupe_h5p_default()) > 0 }

    // MARK: attributes

    /// Sets the scalar UTF-8 string attribute `name` of the root group, replacing it.
    func setAttribute(_ name: String, _ value: String) throws {
        if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
        let type = try stringType()
        defer { H5Tclose(type) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let a = H5Acreate2(id, name, type, space, loupe_h5p_default(), loupe_h5p_default())
        guard a >= 0 else { throw fail("cannot create attribute '\(name)'") }
        defer { H5Aclose(a) }
        let ok = value.withCString { s -> herr_t in
            var p: UnsafePointer<CChar>? = s
            return H5Awrite(a, type, &p)
        }
        guard ok >= 0 else { throw fail("cannot write attribute '\(name)'") }
    }

    /// The scalar string attribute `name` of the root group, or nil when there is none.
    func attribute(_ name: String) throws -> String? {
        guard H5Aexists(id, name) > 0 else { return nil }
        let a = H5Aopen(id, name, loupe_h5p_default())
        guard a >= 0 else { throw fail("cannot open attribute '\(name)'") }
        defer { H5Aclose(a) }
        let fileType = H5Aget_type(a)
        defer { H5Tclose(fileType) }
        guard H5Tget_class(fileType) == H5T_STRING, H5Tis_variable_str(fileType) > 0 else {
            throw fail("attribute '\(name)' is not a variable-length string")
        }
        let space = H5Aget_space(a)
        defer { H5Sclose(space) }
        guard H5Sget_simple_extent_npoints(space) == 1 else { throw fail("attribute '\(name)' is not a single string") }
        let type = try stringType()
        defer { H5Tclose(type) }
        var p: UnsafeMutablePointer<CChar>? = nil
        guard H5Aread(a, type, &p) >= 0 else { throw fail("cannot read attribute '\(name)'") }
        defer { if p != nil { H5free_memory(p) } }
        return p.map { String(cString: $0) } ?? ""
    }

    // MARK: datasets

    /// Creates an empty extendible dataset: `[0, columns]` float32, or `[0]` of the others.
    func createDataset(_ name: String, _ kind: Kind, chunkRows: Int = 256) throws {
        let rank = kind.rank
        var dims: [hsize_t] = [0], maxDims: [hsize_t] = [loupe_h5s_unlimited()], chunk: [hsize_t] = [hsize_t(max(chunkRows, 1))]
        if case .float32(let columns) = kind {
            guard columns > 0 else { throw fail("dataset '\(name)' needs at least one column") }
            dims.append(hsize_t(columns)); maxDims.append(hsize_t(columns)); chunk.append(hsize_t(columns))
            // Chunks of about 1 MiB at most, at least one row.
            chunk[0] = hsize_t(max(1, min(chunkRows, (1 << 18) / columns)))
        }
        let space = H5Screate_simple(Int32(rank), dims, maxDims)
        guard space >= 0 else { throw fail("cannot make the dataspace of '\(name)'") }
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(loupe_h5p_dataset_create())
        defer { H5Pclose(dcpl) }
        guard H5Pset_chunk(dcpl, Int32(rank), chunk) >= 0 else { throw fail("cannot set the chunks of '\(name)'") }
        let type = try fileType(kind)
        defer { H5Tclose(type) }
        let d = H5Dcreate2(id, name, type, space, loupe_h5p_default(), dcpl, loupe_h5p_default())
        guard d >= 0 else { throw fail("cannot create dataset '\(name)'") }
        H5Dclose(d)
    }

    /// The number of rows (first dimension) of dataset `name`, and its column count (1 for
    /// one-dimensional datasets).
    func shape(_ name: String) throws -> (rows: Int, columns: Int) {
        let d = try open(name)
        defer { H5Dclose(d) }
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank == 1 || rank == 2 else { throw fail("dataset '\(name)' has rank \(rank), expected 1 or 2") }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return (Int(clamping: dims[0]), rank == 2 ? Int(clamping: dims[1]) : 1)
    }

    /// Cuts dataset `name` to its first `rows` rows (or grows it, with fill values).
    func setRows(_ name: String, _ rows: Int) throws {
        let (_, columns) = try shape(name)
        let d = try open(name)
        defer { H5Dclose(d) }
        let rank = try rankOf(d)
        let dims: [hsize_t] = rank == 2 ? [hsize_t(rows), hsize_t(columns)] : [hsize_t(rows)]
        guard H5Dset_extent(d, dims) >= 0 else { throw fail("cannot resize dataset '\(name)' to \(rows) rows") }
    }

    func append(_ name: String, floats: [Float]) throws {
        let (rows, columns) = try shape(name)
        guard floats.count % columns == 0 else { throw fail("\(floats.count) values are not whole rows of \(columns) for '\(name)'") }
        try floats.withUnsafeBytes { try append(name, at: rows, count: floats.count / columns, columns: columns, type: loupe_h5_native_float(), $0.baseAddress) }
    }

    func append(_ name: String, int32s: [Int32]) throws {
        let rows = try shape(name).rows
        try int32s.withUnsafeBytes { try append(name, at: rows, count: int32s.count, columns: 1, type: loupe_h5_native_int32(), $0.baseAddress) }
    }

    func append(_ name: String, int64s: [Int64]) throws {
        let rows = try shape(name).rows
        try int64s.withUnsafeBytes { try append(name, at: rows, count: int64s.count, columns: 1, type: loupe_h5_native_int64(), $0.baseAddress) }
    }

    func append(_ name: String, strings: [String]) throws {
        let rows = try shape(name).rows
        let copies = strings.map { strdup($0) }
        defer { for p in copies { free(p) } }
        let type = try stringType()
        defer { H5Tclose(type) }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        try pointers.withUnsafeMutableBytes { try append(name, at: rows, count: strings.count, columns: 1, type: type, $0.baseAddress) }
    }

    /// Writes `count` rows from `buffer` (in memory type `type`) at row `start`, growing the
    /// dataset first.
    private func append(_ name: String, at start: Int, count: Int, columns: Int, type: hid_t, _ buffer: UnsafeRawPointer?) throws {
        guard count > 0 else { return }
        let d = try open(name)
        defer { H5Dclose(d) }
        let rank = try rankOf(d)
        let newDims: [hsize_t] = rank == 2 ? [hsize_t(start + count), hsize_t(columns)] : [hsize_t(start + count)]
        guard H5Dset_extent(d, newDims) >= 0 else { throw fail("cannot grow dataset '\(name)'") }
        let fileSpace = H5Dget_space(d)
        defer { H5Sclose(fileSpace) }
        let offset: [hsize_t] = rank == 2 ? [hsize_t(start), 0] : [hsize_t(start)]
        let size: [hsize_t] = rank == 2 ? [hsize_t(count), hsize_t(columns)] : [hsize_t(count)]
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, offset, nil, size, nil) >= 0 else {
            throw fail("cannot select rows \(start)..<\(start + count) of '\(name)'")
        }
        let memSpace = H5Screate_simple(Int32(rank), size, nil)
        defer { H5Sclose(memSpace) }
        guard H5Dwrite(d, type, memSpace, fileSpace, loupe_h5p_default(), buffer) >= 0 else {
            throw fail("cannot write rows \(start)..<\(start + count) of '\(name)' (disk full?)")
        }
    }

    func floats(_ name: String) throws -> (values: [Float], columns: Int) {
        let (rows, columns) = try shape(name)
        try requireClass(name, H5T_FLOAT)
        var v = [Float](repeating: 0, count: rows * columns)
        try v.withUnsafeMutableBytes { try read(name, type: loupe_h5_native_float(), $0.baseAddress, count: rows) }
        return (v, columns)
    }

    func int32s(_ name: String) throws -> [Int32] {
        let rows = try shape(name).rows
        try requireClass(name, H5T_INTEGER)
        var v = [Int32](repeating: 0, count: rows)
        try v.withUnsafeMutableBytes { try read(name, type: loupe_h5_native_int32(), $0.baseAddress, count: rows) }
        return v
    }

    func int64s(_ name: String) throws -> [Int64] {
        let rows = try shape(name).rows
        try requireClass(name, H5T_INTEGER)
        var v = [Int64](repeating: 0, count: rows)
        try v.withUnsafeMutableBytes { try read(name, type: loupe_h5_native_int64(), $0.baseAddress, count: rows) }
        return v
    }

    func strings(_ name: String) throws -> [String] {
        let rows = try shape(name).rows
        try requireClass(name, H5T_STRING)
        let type = try stringType()
        defer { H5Tclose(type) }
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: rows)
        try pointers.withUnsafeMutableBytes { try read(name, type: type, $0.baseAddress, count: rows) }
        defer { for p in pointers where p != nil { H5free_memory(p) } }
        return pointers.map { $0.map { String(cString: $0) } ?? "" }
    }

    private func read(_ name: String, type: hid_t, _ buffer: UnsafeMutableRawPointer?, count: Int) throws {
        guard count > 0 else { return }
        let d = try open(name)
        defer { H5Dclose(d) }
        guard H5Dread(d, type, loupe_h5s_all(), loupe_h5s_all(), loupe_h5p_default(), buffer) >= 0 else {
            throw fail("cannot read dataset '\(name)' (the file may be truncated or corrupt)")
        }
    }

    private func requireClass(_ name: String, _ cls: H5T_class_t) throws {
        let d = try open(name)
        defer { H5Dclose(d) }
        let t = H5Dget_type(d)
        defer { H5Tclose(t) }
        guard H5Tget_class(t) == cls else { throw fail("dataset '\(name)' has another type than expected") }
        if cls == H5T_STRING, H5Tis_variable_str(t) <= 0 { throw fail("dataset '\(name)' does not hold variable-length strings") }
    }

    private func open(_ name: String) throws -> hid_t {
        guard exists(name) else { throw fail("no dataset '\(name)'") }
        let d = H5Dopen2(id, name, loupe_h5p_default())
        guard d >= 0 else { throw fail("'\(name)' is not a dataset") }
        return d
    }

    private func rankOf(_ d: hid_t) throws -> Int {
        let space = H5Dget_space(d)
        defer { H5Sclose(space) }
        return Int(H5Sget_simple_extent_ndims(space))
    }

    /// Variable-length UTF-8 strings (h5py reads them as `str`).
    private func stringType() throws -> hid_t {
        let t = H5Tcopy(loupe_h5_c_s1())
        guard t >= 0, H5Tset_size(t, loupe_h5t_variable()) >= 0, H5Tset_cset(t, H5T_CSET_UTF8) >= 0 else {
            throw fail("cannot make the string type")
        }
        return t
    }

    private func fileType(_ kind: Kind) throws -> hid_t {
        switch kind {
        case .float32: return H5Tcopy(loupe_h5_native_float())
        case .int32: return H5Tcopy(loupe_h5_native_int32())
        case .int64: return H5Tcopy(loupe_h5_native_int64())
        case .string: return try stringType()
        }
    }
}
