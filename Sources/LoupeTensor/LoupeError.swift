/// Every error a file or a user can cause. Messages name the file, node, op and shapes
/// involved so that the user can act on them without a debugger. They name the library's
/// own parameters in backticks (`` `window` ``, `` `overwrite: true` ``), never a command-line
/// flag: the `loupe` command maps those names to its flags (`Sources/loupe/FlagNames.swift`).
public struct LoupeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case invalidModel = "invalid model"
        case unsupported = "unsupported"
        case shapeMismatch = "shape mismatch"
        case tooLarge = "too large"
        case io = "I/O error"
        case invalidArgument = "invalid argument"
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Prefixes the message with context such as `node 'conv1' (Conv)` or a file name.
    public func context(_ prefix: String) -> LoupeError {
        LoupeError(kind, "\(prefix): \(message)")
    }
}

extension LoupeError {
    public static func invalid(_ message: String) -> LoupeError { LoupeError(.invalidModel, message) }
    public static func unsupported(_ message: String) -> LoupeError { LoupeError(.unsupported, message) }
    public static func shape(_ message: String) -> LoupeError { LoupeError(.shapeMismatch, message) }
}

/// Formats a shape the way messages print it: `[1, 3, 224, 224]`.
public func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
