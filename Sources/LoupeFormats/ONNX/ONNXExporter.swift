import CONNXProto
import CProtobufC
import Foundation
import LoupeGraph
import LoupeTensor

/// Writes Loupe's graph IR as an ONNX `ModelProto`, through the protobuf-c generated code.
///
/// The graph is first brought to the target opset's form (`Graph.rewrittenForOpset`, in
/// ONNXExport+Opset.swift): nodes imported from older or newer opsets get the attributes and
/// inputs the target opset defines, Loupe's inference-only fusion is undone and `loupe.*`
/// attributes are dropped. Then every message is built as a C struct in an arena that owns
/// all the memory, packed with `onnx__model_proto__pack`, and freed.
///
/// The bytes are deterministic: attributes are written sorted by name, initializers in order
/// of first use, and nothing depends on time or hashing order.
public enum ONNXExporter {
    /// Opsets of the default domain Loupe writes.
    public static let opsets = 13...21
    /// Written as `producer_version`; kept equal to the CLI's `--version` (a CLI test checks).
    public static let producerVersion = "0.1.0"
    /// Protobuf messages cannot exceed 2 GiB; larger models need external data, which Loupe
    /// does not write.
    static let maxBytes = Int(Int32.max)

    /// What `loupe convert` writes: `graph` in topological order with its constant subgraphs
    /// folded into initializers and the nodes no graph output needs removed.
    public static func simplified(_ graph: Graph) throws -> Graph {
        var g = graph
        try g.sortTopologically()
        try g.foldConstants()
        g.eliminateDeadNodes()
        return g
    }

    /// Serializes a graph as an ONNX ModelProto at `opset` (13...21).
    public static func serialize(_ graph: Graph, opset: Int = 13) throws -> [UInt8] {
        guard opsets.contains(opset) else {
            throw LoupeError(.invalidArgument, "cannot export at opset \(opset); Loupe writes opsets \(opsets.lowerBound) to \(opsets.upperBound)")
        }
        let g = try graph.rewrittenForOpset(opset)
        // Refuse before allocating anything when the weights alone pass the protobuf limit.
        var weightBytes = 0
        for (name, t) in g.initializers {
            var bytes = ONNXImporter.elementSize(t.dtype), overflow = false
            for d in t.shape {
                let (p, o) = bytes.multipliedReportingOverflow(by: max(d, 0))
                bytes = p
                overflow = overflow || o
            }
            guard !overflow, bytes <= maxBytes else {
                throw LoupeError(.tooLarge, "initializer '\(name)' of shape \(describe(t.shape)) takes over 2 GiB; ONNX files over 2 GiB need external data, which Loupe does not write")
            }
            weightBytes += bytes
        }
        guard weightBytes <= maxBytes else {
            throw LoupeError(.tooLarge, "the initializers take \(weightBytes) bytes; ONNX files over 2 GiB need external data, which Loupe does not write")
        }
        let arena = CArena()
        let model = try buildModel(g, opset: opset, arena: arena)
        let size = onnx__model_proto__get_packed_size(model)
        guard size <= maxBytes else {
            throw LoupeError(.tooLarge, "the model would take \(size) bytes; ONNX files over 2 GiB need external data, which Loupe does not write")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { onnx__model_proto__pack(model, $0.baseAddress!) }
        guard written == size else {
            throw LoupeError.invalid("protobuf packing wrote \(written) bytes, \(size) expected")
        }
        return bytes
    }

    /// Writes the model; refuses to overwrite an existing file unless `overwrite`.
    public static func write(_ graph: Graph, to path: String, opset: Int = 13, overwrite: Bool = false) throws {
        try checkDestination(path, overwrite: overwrite)
        var bytes = try serialize(graph, opset: opset)
        do {
            // Written from the array's own storage: no second copy of a large model.
            try bytes.withUnsafeMutableBytes { b in
                try Data(bytesNoCopy: b.baseAddress!, count: b.count, deallocator: .none)
                    .write(to: URL(fileURLWithPath: path), options: .atomic)
            }
        } catch {
            throw LoupeError(.io, "\(path): cannot write (\(error.localizedDescription))")
        }
    }

    /// Throws unless `path` can be written: its folder exists and is writable, and the file
    /// does not exist yet (or `overwrite`). Lets a command fail before loading anything.
    public static func checkDestination(_ path: String, overwrite: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw LoupeError(.io, "\(path) is a directory") }
            if !overwrite { throw LoupeError(.invalidArgument, "\(path) exists; pass `overwrite: true` to overwrite it") }
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard fm.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw LoupeError(.io, "\(path): the folder \(folder) does not exist")
        }
        guard fm.isWritableFile(atPath: folder) else {
            throw LoupeError(.io, "\(path): the folder \(folder) is not writable")
        }
    }

    /// The IR version that goes with each opset (onnx's version table).
    static func irVersion(opset: Int) -> Int64 {
        switch opset {
        case ...14: 7
        case 15...18: 8
        case 19...20: 9
        default: 10
        }
    }

    // MARK: - Messages

    static func buildModel(_ g: Graph, opset: Int, arena: CArena) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        let m = arena.message(onnx__model_proto__init)
        m.pointee.has_ir_version = 1
        m.pointee.ir_version = irVersion(opset: opset)
        m.pointee.producer_name = arena.string("loupe")
        m.pointee.producer_version = arena.string(producerVersion)
        m.pointee.doc_string = arena.string("Exported by loupe \(producerVersion) at opset \(opset)")
        var imports: [(String, Int)] = [("", opset)]
        let usedDomains = Set(g.nodes.map(\.domain).filter { !$0.isEmpty && $0 != "ai.onnx" })
        for d in usedDomains.sorted() {
            guard let v = g.domainOpsets[d] else {
                throw LoupeError.unsupported("nodes of domain '\(d)' have no opset version to declare")
            }
            imports.append((d, v))
        }
        m.pointee.n_opset_import = imports.count
        m.pointee.opset_import = arena.pointers(imports) { d, v in
            let o = arena.message(onnx__operator_set_id_proto__init)
            if !d.isEmpty { o.pointee.domain = arena.string(d) }
            o.pointee.has_version = 1
            o.pointee.version = Int64(v)
            return o
        }
        m.pointee.graph = try buildGraph(g, arena: arena)
        return m
    }

    static func buildGraph(_ g: Graph, arena: CArena) throws -> UnsafeMutablePointer<Onnx__GraphProto> {
        let gp = arena.message(onnx__graph_proto__init)
        gp.pointee.name = arena.string(g.name.isEmpty ? "loupe" : g.name)
        gp.pointee.n_node = g.nodes.count
        gp.pointee.node = try arena.pointers(g.nodes) { try buildNode($0, arena: arena) }
        // Initializers in order of first use (by nodes, then graph outputs), each once.
        var order: [String] = []
        var seen = Set<String>()
        for name in g.nodes.flatMap(\.inputs) + g.outputs.map(\.name) where g.initializers[name] != nil {
            if seen.insert(name).inserted { order.append(name) }
        }
        gp.pointee.n_initializer = order.count
        gp.pointee.initializer = try arena.pointers(order) { name in
            do {
                return try buildTensor(g.initializers[name]!, name: name, arena: arena)
            } catch let e as LoupeError {
                throw e.context("initializer '\(name)'")
            }
        }
        gp.pointee.n_input = g.inputs.count
        gp.pointee.input = arena.pointers(g.inputs) { buildValueInfo($0, arena: arena) }
        gp.pointee.n_output = g.outputs.count
        gp.pointee.output = arena.pointers(g.outputs) { buildValueInfo($0, arena: arena) }
        return gp
    }

    static func buildValueInfo(_ v: ValueInfo, arena: CArena) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let vp = arena.message(onnx__value_info_proto__init)
        vp.pointee.name = arena.string(v.name)
        let tt = arena.message(onnx__type_proto__tensor__init)
        tt.pointee.has_elem_type = 1
        tt.pointee.elem_type = v.dtype.rawValue
        if let dims = v.dims {
            let sp = arena.message(onnx__tensor_shape_proto__init)
            sp.pointee.n_dim = dims.count
            sp.pointee.dim = arena.pointers(dims) { d in
                let dp = arena.message(onnx__tensor_shape_proto__dimension__init)
                switch d {
                case .fixed(let n):
                    dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                    dp.pointee.dim_value = Int64(n)
                case .symbol(let s) where !s.isEmpty:
                    dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                    dp.pointee.dim_param = arena.string(s)
                case .symbol:
                    break  // an unknown dimension: neither value nor name
                }
                return dp
            }
            tt.pointee.shape = sp
        }
        let tp = arena.message(onnx__type_proto__init)
        tp.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        tp.pointee.tensor_type = tt
        vp.pointee.type = tp
        return vp
    }

    static func buildNode(_ n: Node, arena: CArena) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let np = arena.message(onnx__node_proto__init)
        np.pointee.name = arena.string(n.name)
        np.pointee.op_type = arena.string(n.opType)
        if !n.domain.isEmpty && n.domain != "ai.onnx" { np.pointee.domain = arena.string(n.domain) }
        np.pointee.n_input = n.inputs.count
        np.pointee.input = arena.pointers(n.inputs) { arena.string($0) }
        np.pointee.n_output = n.outputs.count
        np.pointee.output = arena.pointers(n.outputs) { arena.string($0) }
        let attributes = n.attributes.keys.filter { !$0.hasPrefix("loupe.") }.sorted()
        np.pointee.n_attribute = attributes.count
        np.pointee.attribute = try arena.pointers(attributes) { name in
            do {
                return try buildAttribute(name, n.attributes[name]!, arena: arena)
            } catch let e as LoupeError {
                throw e.context("\(n.label) attribute '\(name)'")
            }
        }
        return np
    }

    static func buildAttribute(_ name: String, _ value: Attribute, arena: CArena) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let a = arena.message(onnx__attribute_proto__init)
        a.pointee.name = arena.string(name)
        a.pointee.has_type = 1
        switch value {
        case .int(let v):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            a.pointee.has_i = 1
            a.pointee.i = Int64(v)
        case .float(let v):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            a.pointee.has_f = 1
            a.pointee.f = v
        case .string(let s):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            a.pointee.has_s = 1
            a.pointee.s = arena.bytes(Array(s.utf8))
        case .ints(let v):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            a.pointee.n_ints = v.count
            a.pointee.ints = arena.array(v.map(Int64.init))
        case .floats(let v):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            a.pointee.n_floats = v.count
            a.pointee.floats = arena.array(v)
        case .strings(let v):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS
            a.pointee.n_strings = v.count
            a.pointee.strings = arena.array(v.map { arena.bytes(Array($0.utf8)) })
        case .tensor(let t):
            a.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            a.pointee.t = try buildTensor(t, name: "", arena: arena)
        case .graph:
            throw LoupeError.unsupported("graph-valued attributes (If, Loop, Scan bodies) cannot be exported; Loupe keeps only their names")
        }
        return a
    }

    /// A tensor with its values as little-endian `raw_data`.
    static func buildTensor(_ t: Tensor, name: String, arena: CArena) throws -> UnsafeMutablePointer<Onnx__TensorProto> {
        let tp = arena.message(onnx__tensor_proto__init)
        if !name.isEmpty { tp.pointee.name = arena.string(name) }
        tp.pointee.n_dims = t.shape.count
        tp.pointee.dims = arena.array(t.shape.map(Int64.init))
        tp.pointee.has_data_type = 1
        tp.pointee.data_type = t.dtype.rawValue
        let have = t.dtype.isFloatingPoint ? t.floats.count : t.ints.count
        guard have == t.count else {
            throw LoupeError.invalid("tensor of shape \(describe(t.shape)) holds \(have) values, \(t.count) expected")
        }
        let size = t.count * ONNXImporter.elementSize(t.dtype)
        guard size <= maxBytes else {
            throw LoupeError(.tooLarge, "tensor of shape \(describe(t.shape)) takes \(size) bytes; ONNX tensors over 2 GiB need external data, which Loupe does not write")
        }
        let raw = try arena.raw(size)
        encode(t, into: raw)
        tp.pointee.has_raw_data = 1
        tp.pointee.raw_data = ProtobufCBinaryData(len: size, data: raw.assumingMemoryBound(to: UInt8.self))
        return tp
    }

    /// Writes the values of `t` in the file's encoding — fixed width, little-endian, bool one
    /// byte — to `p`, which holds `t.count` elements of the dtype's size.
    static func encode(_ t: Tensor, into p: UnsafeMutableRawPointer) {
        func store<T: FixedWidthInteger>(_ values: some Sequence<T>) {
            for (i, v) in values.enumerated() {
                p.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            }
        }
        switch t.dtype {
        case .float32:
            #if _endian(little)
            t.floats.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            #else
            store(t.floats.lazy.map(\.bitPattern))
            #endif
        case .float64: store(t.floats.lazy.map { Double($0).bitPattern })
        case .float16: store(t.floats.lazy.map(floatToHalf))
        case .int64, .uint64: store(t.ints)
        case .int32: store(t.ints.lazy.map { Int32(truncatingIfNeeded: $0) })
        case .uint32: store(t.ints.lazy.map { UInt32(truncatingIfNeeded: $0) })
        case .int16: store(t.ints.lazy.map { Int16(truncatingIfNeeded: $0) })
        case .uint16: store(t.ints.lazy.map { UInt16(truncatingIfNeeded: $0) })
        case .int8: store(t.ints.lazy.map { Int8(truncatingIfNeeded: $0) })
        case .uint8: store(t.ints.lazy.map { UInt8(truncatingIfNeeded: $0) })
        case .bool: store(t.ints.lazy.map { UInt8($0 != 0 ? 1 : 0) })
        }
    }
}

/// Owns every C allocation of one export; all of it is freed when the arena goes away.
/// Messages are zeroed, then initialised by their protobuf-c `init` function.
final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit { for b in blocks { free(b) } }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard let p = calloc(1, max(bytes, 1)) else { fatalError("out of memory allocating \(bytes) bytes") }
        blocks.append(p)
        return p
    }

    /// A block for tensor data; large, so running out of memory is an error, not a trap.
    func raw(_ bytes: Int) throws -> UnsafeMutableRawPointer {
        guard let p = malloc(max(bytes, 1)) else {
            throw LoupeError(.tooLarge, "out of memory allocating \(bytes) bytes for tensor data")
        }
        blocks.append(p)
        return p
    }

    func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let p = allocate(MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
        initialize(p)
        return p
    }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(s.utf8CString)
        let p = allocate(utf8.count).bindMemory(to: CChar.self, capacity: utf8.count)
        p.update(from: utf8, count: utf8.count)
        return p
    }

    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let p = allocate(values.count * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: max(values.count, 1))
        p.initialize(from: values, count: values.count)
        return p
    }

    func bytes(_ values: [UInt8]) -> ProtobufCBinaryData {
        ProtobufCBinaryData(len: values.count, data: array(values))
    }

    /// An array of pointers to messages built by `make`, one per element.
    func pointers<E, T>(_ elements: [E], _ make: (E) throws -> UnsafeMutablePointer<T>) rethrows -> UnsafeMutablePointer<UnsafeMutablePointer<T>?> {
        array(try elements.map { Optional(try make($0)) })
    }
}

/// IEEE 754 single to half precision, rounding to nearest even; overflow gives infinity.
func floatToHalf(_ f: Float) -> UInt16 {
    let bits = f.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exp = Int((bits >> 23) & 0xff)
    var mant = bits & 0x7f_ffff
    if exp == 0xff { return sign | 0x7c00 | (mant != 0 ? 0x200 : 0) }
    let e = exp - 127 + 15
    if e >= 31 { return sign | 0x7c00 }
    if e <= 0 {
        if e < -10 { return sign }
        mant |= 0x80_0000
        let shift = UInt32(14 - e)
        var h = mant >> shift
        let rest = mant & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rest > half || (rest == half && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }
    var h = UInt32(e) << 10 | (mant >> 13)
    let rest = mant & 0x1fff
    if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h += 1 }
    return sign | UInt16(h)
}
