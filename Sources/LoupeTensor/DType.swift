/// Element types. Values are ONNX `TensorProto.DataType` codes.
///
/// Storage: `float32` (and `float16`/`float64`, converted on import) live in `Tensor.floats`;
/// every integer type and `bool` live in `Tensor.ints` as `Int64`, with the dtype
/// kept so that outputs are written back with the type the graph declared.
public enum DType: Int32, Sendable, CaseIterable {
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13

    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .float64 }

    public var name: String {
        switch self {
        case .float32: "float32"
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .bool: "bool"
        case .float16: "float16"
        case .float64: "float64"
        case .uint32: "uint32"
        case .uint64: "uint64"
        }
    }

    /// Wraps an Int64 to the range of this integer type, as a C cast would.
    public func wrap(_ v: Int64) -> Int64 {
        switch self {
        case .uint8: Int64(UInt8(truncatingIfNeeded: v))
        case .int8: Int64(Int8(truncatingIfNeeded: v))
        case .uint16: Int64(UInt16(truncatingIfNeeded: v))
        case .int16: Int64(Int16(truncatingIfNeeded: v))
        case .int32: Int64(Int32(truncatingIfNeeded: v))
        case .uint32: Int64(UInt32(truncatingIfNeeded: v))
        case .bool: v != 0 ? 1 : 0
        default: v
        }
    }
}
