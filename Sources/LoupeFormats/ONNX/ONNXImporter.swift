import CONNXProto
import CProtobufC
import Foundation
import LoupeGraph
import LoupeTensor

/// Reads ONNX files (ModelProto, and TensorProto `.pb` files) into Loupe's graph IR.
/// This is the only file that touches the protobuf-c generated code.
public enum ONNXImporter {
    /// Loads a model file. Initializers are read in every storage form: typed fields,
    /// `raw_data`, and external data files, whose locations must stay inside the
    /// model's folder.
    ///
    /// Memory: the file is mapped, unpacked by protobuf-c (which copies every field) and
    /// unmapped before the conversion; each initializer's bytes are freed from the unpacked
    /// message as soon as they are a `Tensor`. So a model's weights are held about twice at
    /// the peak, not three times (ResNet-50: 350 → about 200 MB; issue 17 point 6).
    public static func load(path: String) throws -> Graph {
        let file = (path as NSString).lastPathComponent
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            let model = try unpackModel(path)
            defer { onnx__model_proto__free_unpacked(model, nil) }
            return try convertModel(model.pointee, folder: folder)
        } catch let e as LoupeError {
            throw e.context(file)
        }
    }

    /// The unpacked ModelProto of the file at `path`; the mapping is gone when this returns.
    static func unpackModel(_ path: String) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        let data = try readFile(path)
        return try data.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress ?? (data.isEmpty ? UnsafePointer<UInt8>(bitPattern: 1) : nil),
                  let model = onnx__model_proto__unpack(nil, data.count, base) else {
                throw LoupeError.invalid("not a valid ONNX model (protobuf parse failed; the file may be truncated or not ONNX)")
            }
            return model
        }
    }

    /// Reads a serialized TensorProto (the `.pb` files of ONNX test data).
    public static func loadTensor(path: String) throws -> Tensor {
        let data = try InputFile.read(path, as: "tensor file", mapped: true)
        do {
            return try data.withUnsafeBytes { raw -> Tensor in
                guard let base = raw.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer<UInt8>(bitPattern: 1),
                      let t = onnx__tensor_proto__unpack(nil, data.count, base) else {
                    throw LoupeError.invalid("not a valid serialized TensorProto")
                }
                defer { onnx__tensor_proto__free_unpacked(t, nil) }
                return try convertTensor(t.pointee, folder: URL(fileURLWithPath: path).deletingLastPathComponent())
            }
        } catch let e as LoupeError {
            throw e.context((path as NSString).lastPathComponent)
        }
    }

    static func readFile(_ path: String) throws -> Data {
        let data = try InputFile.read(path, as: "model", mapped: true)
        guard !data.isEmpty else { throw LoupeError.invalid("cannot read model '\(path)': the file is empty") }
        return data
    }

    // MARK: - Model and graph

    static func convertModel(_ m: Onnx__ModelProto, folder: URL) throws -> Graph {
        var opset = 1
        var sawDefault = false
        var domainOpsets: [String: Int] = [:]
        for i in 0..<m.n_opset_import {
            guard let o = m.opset_import[i]?.pointee else { continue }
            let dom = str(o.domain)
            if dom.isEmpty || dom == "ai.onnx" {
                opset = Int(o.version)
                sawDefault = true
            } else {
                domainOpsets[dom] = Int(o.version)
            }
        }
        if !sawDefault && m.ir_version >= 3 {
            // IR 3+ files must declare an opset; treat a missing one as opset 1 with a note.
            opset = 1
        }
        guard opset >= 1, opset <= 22 else {
            throw LoupeError.unsupported("default-domain opset \(opset) is outside the range Loupe reads (1 to 22)")
        }
        guard let gp = m.graph?.pointee else { throw LoupeError.invalid("the model has no graph") }
        var g = try convertGraph(gp, folder: folder)
        g.opset = opset
        g.domainOpsets = domainOpsets
        g.metadata["producer"] = [str(m.producer_name), str(m.producer_version)].filter { !$0.isEmpty }.joined(separator: " ")
        g.metadata["ir_version"] = "\(m.ir_version)"
        g.metadata["opset"] = "\(opset)"
        for i in 0..<m.n_functions {
            if let f = m.functions[i]?.pointee {
                g.metadata["function:\(str(f.domain)).\(str(f.name))"] = "local function (not expanded)"
            }
        }
        return g
    }

    static func convertGraph(_ gp: Onnx__GraphProto, folder: URL) throws -> Graph {
        var g = Graph()
        let budget = ReadLimits.Budget(file: nil)  // load() names the file
        g.name = str(gp.name)
        if gp.n_sparse_initializer > 0 {
            throw LoupeError.unsupported("sparse initializers are not supported (\(gp.n_sparse_initializer) found)")
        }
        for i in 0..<gp.n_initializer {
            guard let tp = gp.initializer[i] else { continue }
            let name = str(tp.pointee.name)
            do {
                g.initializers[name] = try convertTensor(tp.pointee, folder: folder, budget: budget)
            } catch let e as LoupeError {
                throw e.context("initializer '\(name)'")
            }
            releaseBulkData(tp)
        }
        for i in 0..<gp.n_input {
            guard let v = gp.input[i]?.pointee else { continue }
            let info = try convertValueInfo(v)
            if g.initializers[info.name] == nil { g.inputs.append(info) }
        }
        for i in 0..<gp.n_output {
            guard let v = gp.output[i]?.pointee else { continue }
            g.outputs.append(try convertValueInfo(v))
        }
        var usedNames = Set<String>()
        for i in 0..<gp.n_node {
            guard let np = gp.node[i]?.pointee else { continue }
            var node = try convertNode(np, index: i)
            var unique = node.name
            var k = 1
            while usedNames.contains(unique) { unique = "\(node.name)_\(k)"; k += 1 }
            node.name = unique
            usedNames.insert(unique)
            g.nodes.append(node)
        }
        return g
    }

    static func convertValueInfo(_ v: Onnx__ValueInfoProto) throws -> ValueInfo {
        let name = str(v.name)
        var dtype = DType.float32
        var dims: [Dim]? = nil
        if let tp = v.type?.pointee {
            guard tp.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = tp.tensor_type?.pointee else {
                throw LoupeError.unsupported("value '\(name)' is not a tensor (sequence, map, optional and sparse types are not supported)")
            }
            if tt.has_elem_type != 0 {
                guard let d = DType(rawValue: tt.elem_type) else {
                    throw LoupeError.unsupported("value '\(name)' has element type \(dataTypeName(tt.elem_type)), which Loupe does not support")
                }
                dtype = d
            }
            if let sp = tt.shape?.pointee {
                var ds: [Dim] = []
                for j in 0..<sp.n_dim {
                    guard let d = sp.dim[j]?.pointee else { ds.append(.symbol("")); continue }
                    switch d.value_case {
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                        // Paddle2ONNX and some TensorFlow exporters write a dynamic size as
                        // dim_value -1 or 0: read both as a symbol without a name, as
                        // onnxruntime reads -1. (Initializer shapes are TensorProto dims,
                        // read elsewhere, where 0 stays a real empty dimension.)
                        guard d.dim_value >= -1 else {
                            throw LoupeError.invalid("value '\(name)' declares dimension \(j) as \(d.dim_value); a size is non-negative, or -1 for a dynamic one")
                        }
                        ds.append(d.dim_value <= 0 ? .symbol("") : .fixed(Int(d.dim_value)))
                    case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                        ds.append(.symbol(str(d.dim_param)))
                    default:
                        ds.append(.symbol(""))
                    }
                }
                dims = ds
            }
        }
        return ValueInfo(name: name, dtype: dtype, dims: dims)
    }

    static func convertNode(_ np: Onnx__NodeProto, index: Int) throws -> Node {
        var node = Node(
            name: str(np.name), opType: str(np.op_type), domain: str(np.domain),
            inputs: (0..<np.n_input).map { str(np.input[$0]) },
            outputs: (0..<np.n_output).map { str(np.output[$0]) })
        // Nodes without a name get OpType_index, so that every message can name them.
        if node.name.isEmpty { node.name = "\(node.opType)_\(index)" }
        for i in 0..<np.n_attribute {
            guard let a = np.attribute[i]?.pointee else { continue }
            let name = str(a.name)
            do {
                node.attributes[name] = try convertAttribute(a)
            } catch let e as LoupeError {
                throw e.context("\(node.label) attribute '\(name)'")
            }
        }
        return node
    }

    static func convertAttribute(_ a: Onnx__AttributeProto) throws -> Attribute {
        if !str(a.ref_attr_name).isEmpty {
            throw LoupeError.unsupported("attribute references (inside functions) are not supported")
        }
        var type = a.has_type != 0 ? a.type : ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
        if type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED {
            // IR version 1 files omit the type: infer it from the field that is set.
            if a.n_floats > 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS }
            else if a.n_ints > 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS }
            else if a.n_strings > 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS }
            else if a.t != nil { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR }
            else if a.g != nil { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH }
            else if a.has_f != 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT }
            else if a.has_i != 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT }
            else if a.has_s != 0 { type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING }
        }
        switch type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return .float(a.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return .int(try int(a.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return .string(bytesString(a.s))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
            return .floats(Array(UnsafeBufferPointer(start: a.floats, count: a.n_floats)))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
            return .ints(try UnsafeBufferPointer(start: a.ints, count: a.n_ints).map(int))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
            return .strings((0..<a.n_strings).map { bytesString(a.strings[$0]) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = a.t?.pointee else { throw LoupeError.invalid("tensor attribute without a tensor") }
            return .tensor(try convertTensor(t, folder: nil))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
            return .graph
        default:
            throw LoupeError.unsupported("attribute type \(type.rawValue) is not supported")
        }
    }

    /// Attribute and dimension values must fit an Int on every platform Loupe runs on.
    static func int(_ v: Int64) throws -> Int { Int(v) }

    // MARK: - Tensors

    /// With a `budget`, the tensor's decoded size is taken from it before anything is read.
    static func convertTensor(_ t: Onnx__TensorProto, folder: URL?, budget: ReadLimits.Budget? = nil) throws -> Tensor {
        let shape = try (0..<t.n_dims).map { i -> Int in
            let d = t.dims[i]
            guard d >= 0 else { throw LoupeError.invalid("negative dimension \(d) in tensor '\(str(t.name))'") }
            return Int(d)
        }
        let count = try Tensor.checkedCount(shape)
        let code = t.has_data_type != 0 ? t.data_type : 0
        guard let dtype = DType(rawValue: code) else {
            throw LoupeError.unsupported("tensor '\(str(t.name))' has element type \(dataTypeName(code)), which Loupe does not support")
        }
        if t.segment != nil { throw LoupeError.unsupported("segmented tensors are not supported") }
        let bytes = count * elementSize(dtype)  // count <= maxElements, so no overflow
        try budget?.take(bytes, for: "tensor '\(str(t.name))' of shape \(describe(shape)) (\(bytes) bytes)")

        // Locate the bytes: raw_data, external file, or typed fields.
        var raw: Data? = nil
        if t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            raw = try readExternal(t, folder: folder, bytes: bytes)
        } else if t.has_raw_data != 0 {
            // Borrowed, not copied: the message outlives this call (a 400 MB FC layer is not copied twice).
            raw = t.raw_data.len == 0 ? Data() : Data(bytesNoCopy: t.raw_data.data, count: t.raw_data.len, deallocator: .none)
        }
        let name = str(t.name)
        func mismatch(_ have: Int) -> LoupeError {
            LoupeError.invalid("tensor '\(name)' of shape \(describe(shape)) needs \(count) \(dtype.name) values but holds \(have)")
        }
        if let raw {
            let size = elementSize(dtype)
            guard raw.count == count * size else { throw mismatch(raw.count / max(size, 1)) }
            return raw.withUnsafeBytes { b in decodeRaw(b, dtype: dtype, shape: shape, count: count) }
        }
        switch dtype {
        case .float32:
            guard t.n_float_data == count else { throw mismatch(t.n_float_data) }
            return Tensor(shape: shape, floats: Array(UnsafeBufferPointer(start: t.float_data, count: count)))
        case .float64:
            guard t.n_double_data == count else { throw mismatch(t.n_double_data) }
            return Tensor(shape: shape, floats: UnsafeBufferPointer(start: t.double_data, count: count).map { Float($0) }, dtype: .float64)
        case .float16:
            guard t.n_int32_data == count else { throw mismatch(t.n_int32_data) }
            return Tensor(shape: shape, floats: UnsafeBufferPointer(start: t.int32_data, count: count).map { halfToFloat(UInt16(truncatingIfNeeded: $0)) }, dtype: .float16)
        case .int64:
            guard t.n_int64_data == count else { throw mismatch(t.n_int64_data) }
            return Tensor(shape: shape, ints: Array(UnsafeBufferPointer(start: t.int64_data, count: count)), dtype: .int64)
        case .uint32, .uint64:
            guard t.n_uint64_data == count else { throw mismatch(t.n_uint64_data) }
            return Tensor(shape: shape, ints: UnsafeBufferPointer(start: t.uint64_data, count: count).map { Int64(bitPattern: $0) }, dtype: dtype)
        case .int32, .int16, .int8, .uint16, .uint8, .bool:
            guard t.n_int32_data == count else { throw mismatch(t.n_int32_data) }
            return Tensor(shape: shape, ints: UnsafeBufferPointer(start: t.int32_data, count: count).map { dtype.wrap(Int64($0)) }, dtype: dtype)
        }
    }

    /// Frees a converted tensor's bulk storage (`raw_data`, `float_data`) from the unpacked
    /// message, leaving the fields empty: protobuf-c's `free_unpacked` skips NULL buffers, and
    /// with the default allocator (NULL, as `unpackModel` passes) the buffers are `malloc`ed.
    static func releaseBulkData(_ tp: UnsafeMutablePointer<Onnx__TensorProto>) {
        if let d = tp.pointee.raw_data.data {
            free(d)
            tp.pointee.raw_data.data = nil
            tp.pointee.raw_data.len = 0
        }
        if let f = tp.pointee.float_data {
            free(f)
            tp.pointee.float_data = nil
            tp.pointee.n_float_data = 0
        }
    }

    /// Reads `location`/`offset`/`length` external data, refusing locations outside `folder`
    /// and, before reading, any length other than the tensor's `bytes` (a one-element tensor
    /// must not read a whole 50 GB file before the sizes are compared).
    static func readExternal(_ t: Onnx__TensorProto, folder: URL?, bytes: Int) throws -> Data {
        guard let folder else { throw LoupeError.invalid("external data is only allowed for initializers of a model file") }
        var location = "", offset = 0, length: Int? = nil
        for i in 0..<t.n_external_data {
            guard let e = t.external_data[i]?.pointee else { continue }
            let v = str(e.value)
            switch str(e.key) {
            case "location": location = v
            case "offset":
                guard let o = Int(v), o >= 0 else { throw LoupeError.invalid("external data offset '\(v)' is not a non-negative integer") }
                offset = o
            case "length":
                guard let l = Int(v), l >= 0 else { throw LoupeError.invalid("external data length '\(v)' is not a non-negative integer") }
                length = l
            default: break
            }
        }
        guard !location.isEmpty else { throw LoupeError.invalid("external data without a location") }
        let base = folder.standardizedFileURL.resolvingSymlinksInPath()
        let file = URL(fileURLWithPath: location, relativeTo: base).standardizedFileURL.resolvingSymlinksInPath()
        let basePath = base.path.hasSuffix("/") ? base.path : base.path + "/"
        guard !location.hasPrefix("/"), file.path.hasPrefix(basePath) else {
            throw LoupeError.invalid("external data location '\(location)' escapes the model's folder \(base.path); refusing to read it")
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        guard attributes?[.type] as? FileAttributeType == .typeRegular,
              let h = FileHandle(forReadingAtPath: file.path) else {
            throw LoupeError(.io, "external data file '\(location)' (beside the model) cannot be opened as a regular file")
        }
        defer { try? h.close() }
        let size = (attributes?[.size] as? Int) ?? 0
        let len = length ?? (size - offset)
        // `len <= size - offset`, not `offset + len <= size`: a huge length must not overflow.
        guard offset <= size, len >= 0, len <= size - offset else {
            throw LoupeError.invalid("external data '\(location)' offset \(offset) length \(len) runs past the file's end (\(size) bytes)")
        }
        guard len == bytes else {
            throw LoupeError.invalid("tensor '\(str(t.name))' needs \(bytes) bytes but its external data '\(location)' \(length == nil ? "holds" : "declares") \(len) from offset \(offset)")
        }
        // `read(upToCount:)` throws where `readData(ofLength:)` would trap.
        let data: Data
        do {
            try h.seek(toOffset: UInt64(offset))
            data = try h.read(upToCount: len) ?? Data()
        } catch {
            throw LoupeError(.io, "external data file '\(location)' cannot be read (\(error.localizedDescription))")
        }
        guard data.count == len else {
            throw LoupeError(.io, "external data file '\(location)' gave \(data.count) bytes, \(len) expected")
        }
        return data
    }

    static func elementSize(_ d: DType) -> Int {
        switch d {
        case .float32, .int32, .uint32: 4
        case .float64, .int64, .uint64: 8
        case .float16, .int16, .uint16: 2
        case .int8, .uint8, .bool: 1
        }
    }

    /// Decodes little-endian raw bytes into Loupe storage.
    static func decodeRaw(_ b: UnsafeRawBufferPointer, dtype: DType, shape: [Int], count: Int) -> Tensor {
        func load<T>(_: T.Type) -> [T] {
            (0..<count).map { b.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
        switch dtype {
        case .float32:
            var f = [Float](repeating: 0, count: count)
            f.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: b.baseAddress, count: count * 4)) }
            return Tensor(shape: shape, floats: f)
        case .float64: return Tensor(shape: shape, floats: load(Double.self).map { Float($0) }, dtype: .float64)
        case .float16: return Tensor(shape: shape, floats: load(UInt16.self).map(halfToFloat), dtype: .float16)
        case .int64: return Tensor(shape: shape, ints: load(Int64.self), dtype: .int64)
        case .uint64: return Tensor(shape: shape, ints: load(UInt64.self).map { Int64(bitPattern: $0) }, dtype: .uint64)
        case .int32: return Tensor(shape: shape, ints: load(Int32.self).map { Int64($0) }, dtype: .int32)
        case .uint32: return Tensor(shape: shape, ints: load(UInt32.self).map { Int64($0) }, dtype: .uint32)
        case .int16: return Tensor(shape: shape, ints: load(Int16.self).map { Int64($0) }, dtype: .int16)
        case .uint16: return Tensor(shape: shape, ints: load(UInt16.self).map { Int64($0) }, dtype: .uint16)
        case .int8: return Tensor(shape: shape, ints: load(Int8.self).map { Int64($0) }, dtype: .int8)
        case .uint8: return Tensor(shape: shape, ints: load(UInt8.self).map { Int64($0) }, dtype: .uint8)
        case .bool: return Tensor(shape: shape, ints: load(UInt8.self).map { $0 != 0 ? 1 : 0 }, dtype: .bool)
        }
    }

    // MARK: - Helpers

    static func str(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
    static func bytesString(_ b: ProtobufCBinaryData) -> String {
        guard b.len > 0, let d = b.data else { return "" }
        return String(decoding: UnsafeBufferPointer(start: d, count: b.len), as: UTF8.self)
    }

    static func dataTypeName(_ code: Int32) -> String {
        let names: [Int32: String] = [0: "UNDEFINED", 8: "STRING", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
                                      17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ",
                                      21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1"]
        return names[code] ?? DType(rawValue: code)?.name ?? "code \(code)"
    }
}

/// IEEE 754 half to single precision.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exp = Int((h >> 10) & 0x1f)
    let mant = UInt32(h & 0x3ff)
    if exp == 0 {
        let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}
