import LoupeTensor

/// An ONNX node attribute, as stored in the file (names and defaults are the op spec's).
public enum Attribute: Sendable {
    case int(Int)
    case float(Float)
    case string(String)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case tensor(Tensor)
    /// Graph-valued attributes (If, Loop, Scan): kept only so the error can name them.
    case graph
}

/// Typed access to a node's attributes with the ONNX default given at the call site.
public struct Attributes: Sendable {
    public var values: [String: Attribute]
    public let owner: String

    public init(_ values: [String: Attribute], owner: String) {
        self.values = values
        self.owner = owner
    }

    public func has(_ name: String) -> Bool { values[name] != nil }

    func wrong(_ name: String, _ want: String) -> LoupeError {
        LoupeError.invalid("\(owner): attribute '\(name)' should be \(want)")
    }

    public func int(_ name: String, _ def: Int) throws -> Int {
        switch values[name] {
        case nil: return def
        case .int(let v): return v
        default: throw wrong(name, "an int")
        }
    }
    public func int(_ name: String) throws -> Int? {
        values[name] == nil ? nil : try int(name, 0)
    }
    public func float(_ name: String, _ def: Float) throws -> Float {
        switch values[name] {
        case nil: return def
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw wrong(name, "a float")
        }
    }
    public func string(_ name: String, _ def: String) throws -> String {
        switch values[name] {
        case nil: return def
        case .string(let v): return v
        default: throw wrong(name, "a string")
        }
    }
    public func ints(_ name: String) throws -> [Int]? {
        switch values[name] {
        case nil: return nil
        case .ints(let v): return v
        case .int(let v): return [v]
        default: throw wrong(name, "a list of ints")
        }
    }
    public func ints(_ name: String, _ def: [Int]) throws -> [Int] { try ints(name) ?? def }
    public func floats(_ name: String) throws -> [Float]? {
        switch values[name] {
        case nil: return nil
        case .floats(let v): return v
        case .float(let v): return [v]
        default: throw wrong(name, "a list of floats")
        }
    }
    public func tensor(_ name: String) throws -> Tensor? {
        switch values[name] {
        case nil: return nil
        case .tensor(let t): return t
        default: throw wrong(name, "a tensor")
        }
    }
}
