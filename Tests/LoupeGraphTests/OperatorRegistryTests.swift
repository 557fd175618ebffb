import Foundation
import XCTest
@testable import LoupeGraph

/// Op knowledge sits with the op, and nothing is forgotten: every type declared as an operator
/// in `Sources/LoupeGraph/Ops/*.swift` is registered, and every registered op has a gradient
/// test (its op type named in a `*GradientTests.swift` file: a finite-difference check, or for
/// piecewise-constant and bool/integer ops a test that the rule gives zeros or nothing) or an
/// exemption below with its reason. Swift cannot list a protocol's conformers at run time, so
/// the declarations are read from the source files.
final class OperatorRegistryTests: XCTestCase {
    /// Ops with no gradient test, and why none is needed (op type: reason). Empty today: even
    /// Shape, Size and Constant have a test that their rule returns nothing.
    static let noGradientTest: [String: String] = [:]

    static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let opsFolder = testsFolder.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/LoupeGraph/Ops")

    /// (type name, file) of every `struct|enum|class Name: ...Operator...` in Ops/*.swift.
    static func declaredOperators() throws -> [(String, String)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: opsFolder.path).filter { $0.hasSuffix(".swift") }
        let declaration = try NSRegularExpression(
            pattern: #"^\s*(?:public\s+|final\s+)*(?:struct|enum|class)\s+(\w+)\s*:\s*([^{]*)\{"#, options: .anchorsMatchLines)
        var found: [(String, String)] = []
        for file in files.sorted() {
            let text = try String(contentsOf: opsFolder.appendingPathComponent(file), encoding: .utf8)
            let ns = text as NSString
            for m in declaration.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                let conformances = ns.substring(with: m.range(at: 2)).split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                if conformances.contains(where: { $0.hasSuffix("Operator") }) {
                    found.append((ns.substring(with: m.range(at: 1)), file))
                }
            }
        }
        return found
    }

    func testEveryDeclaredOperatorIsRegistered() throws {
        let declared = try Self.declaredOperators()
        XCTAssertGreaterThan(declared.count, 80, "the scan found the op files")
        let registered = Set(OperatorRegistry.all.map { String(describing: $0) })
        for (name, file) in declared {
            XCTAssertTrue(registered.contains(name), "\(name) (Ops/\(file)) is not in OperatorRegistry.all")
        }
        XCTAssertEqual(registered.count, OperatorRegistry.all.count, "a type is registered twice")
        XCTAssertEqual(OperatorRegistry.byType.count, OperatorRegistry.all.count, "two types share an opType")
        XCTAssertEqual(registered.subtracting(declared.map(\.0)), [], "registered, but declared nowhere in Ops/*.swift")
    }

    func testEveryRegisteredOperatorHasAGradientTestOrAnExemption() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.testsFolder.path)
            .filter { $0.hasSuffix("GradientTests.swift") }
        XCTAssertFalse(files.isEmpty)
        let text = try files.map { try String(contentsOf: Self.testsFolder.appendingPathComponent($0), encoding: .utf8) }
            .joined(separator: "\n")
        for type in OperatorRegistry.all {
            let op = type.opType
            let tested = text.contains("\"\(op)\"")
            let exempt = Self.noGradientTest[op] != nil
            XCTAssertTrue(tested || exempt,
                          "\(op) has no gradient test in \(files.sorted().joined(separator: ", ")) and no entry in noGradientTest")
            XCTAssertFalse(tested && exempt, "\(op) has a gradient test: remove its exemption")
        }
        for op in Self.noGradientTest.keys {
            XCTAssertNotNil(OperatorRegistry.byType[op], "exemption for \(op), which is not registered")
        }
    }
}
