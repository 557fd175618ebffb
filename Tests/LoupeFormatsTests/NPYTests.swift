import Foundation
import LoupeTensor
import XCTest

@testable import LoupeFormats

/// The .npy fixtures hold `a = arange(6).reshape(2, 3)` transformed as noted in
/// Scripts/fixtures/make-format-fixtures.py; the expected values are recomputed here.
final class NPYTests: XCTestCase {
    private let a: [Int64] = [0, 1, 2, 3, 4, 5]

    private func check(_ name: String, dtype: DType, ints expected: [Int64], file: StaticString = #filePath, line: UInt = #line) throws {
        let t = try NPY.read(path: fixture(name))
        XCTAssertEqual(t.shape, [2, 3], name, file: file, line: line)
        XCTAssertEqual(t.dtype, dtype, name, file: file, line: line)
        XCTAssertEqual(t.ints, expected, name, file: file, line: line)
        XCTAssertTrue(t.floats.isEmpty, file: file, line: line)
    }

    private func check(_ name: String, dtype: DType, floats expected: [Double], file: StaticString = #filePath, line: UInt = #line) throws {
        let t = try NPY.read(path: fixture(name))
        XCTAssertEqual(t.shape, [2, 3], name, file: file, line: line)
        XCTAssertEqual(t.dtype, dtype, name, file: file, line: line)
        XCTAssertEqual(t.floats, expected.map { Float($0) }, name, file: file, line: line)
    }

    func testFloatDtypes() throws {
        try check("f4.npy", dtype: .float32, floats: a.map { Double($0) * 0.5 - 1 })
        try check("f8.npy", dtype: .float64, floats: a.map { Double($0) * 0.25 + 1e-3 })
        try check("f2.npy", dtype: .float16, floats: a.map { Double($0) * 0.5 - 1 })
        try check("be_f8.npy", dtype: .float64, floats: a.map { Double($0) * 0.25 + 1e-3 })
        try check("v2_f4.npy", dtype: .float32, floats: a.map { Double($0) * 0.5 - 1 })
        try check("v3_f4.npy", dtype: .float32, floats: a.map { Double($0) * 0.5 - 1 })
    }

    func testIntegerDtypes() throws {
        try check("i8.npy", dtype: .int64, ints: a.map { $0 * 1_000_000_007 - 3_000_000_000 })
        try check("i4.npy", dtype: .int32, ints: a.map { $0 * 100_000 - 250_000 })
        try check("be_i4.npy", dtype: .int32, ints: a.map { $0 * 100_000 - 250_000 })
        try check("i2.npy", dtype: .int16, ints: a.map { $0 * 1000 - 2500 })
        try check("i1.npy", dtype: .int8, ints: a.map { $0 * 40 - 128 })
        try check("u1.npy", dtype: .uint8, ints: a.map { $0 * 50 })
        try check("u2.npy", dtype: .uint16, ints: a.map { $0 * 13000 })
        try check("u4.npy", dtype: .uint32, ints: a.map { $0 * 800_000_000 })
        try check("b1.npy", dtype: .bool, ints: a.map { $0 % 2 })
    }

    func testFortranOrderIsTransposedToRowMajor() throws {
        let t = try NPY.read(path: fixture("fortran_f4.npy"))
        XCTAssertEqual(t.shape, [2, 3, 4])
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(Float(100 * i + 10 * j + k)) } } }
        XCTAssertEqual(t.floats, expected)
    }

    func testScalarAndEmpty() throws {
        let s = try NPY.read(path: fixture("scalar_f8.npy"))
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.floats, [2.5])
        let e = try NPY.read(path: fixture("empty_f4.npy"))
        XCTAssertEqual(e.shape, [0, 3])
        XCTAssertEqual(e.floats, [])
    }

    func testHalfConversion() {
        XCTAssertEqual(NPY.halfToFloat(0x3C00), 1)
        XCTAssertEqual(NPY.halfToFloat(0xC000), -2)
        XCTAssertEqual(NPY.halfToFloat(0x7BFF), 65504)
        XCTAssertEqual(NPY.halfToFloat(0x0001), 1.0 / 16_777_216)  // smallest subnormal, 2^-24
        XCTAssertEqual(NPY.halfToFloat(0x8200), -1.0 / 32768)  // subnormal: -512 * 2^-24
        XCTAssertEqual(NPY.halfToFloat(0x7C00), .infinity)
        XCTAssertEqual(NPY.halfToFloat(0xFC00), -.infinity)
        XCTAssertTrue(NPY.halfToFloat(0x7E00).isNaN)
        XCTAssertEqual(NPY.halfToFloat(0x8000).sign, .minus)
    }

    func testErrorsNameTheFile() {
        func expect(_ name: String, _ kind: LoupeError.Kind, _ words: [String], line: UInt = #line) {
            do {
                _ = try NPY.read(path: fixture(name))
                XCTFail("\(name) should not load", line: line)
            } catch let e as LoupeError {
                XCTAssertEqual(e.kind, kind, "\(e)", line: line)
                for w in [name] + words { XCTAssertTrue(e.message.contains(w), "'\(e.message)' should mention '\(w)'", line: line) }
            } catch {
                XCTFail("\(error)", line: line)
            }
        }
        expect("truncated.npy", .invalidModel, ["truncated data", "[2, 3]", "24 bytes"])
        expect("truncated_header.npy", .invalidModel, ["truncated header"])
        expect("garbled.npy", .invalidModel, ["garbled header"])
        expect("huge.npy", .tooLarge, ["99999999999"])
        expect("c8.npy", .unsupported, ["'<c8'"])
        expect("rgb.jpg", .invalidModel, ["not an npy file"])
    }

    func testWriteMatchesNumpyByteForByte() throws {
        let cases: [(String, Tensor)] = [
            ("expected_write_f4.npy", Tensor(shape: [2, 2], floats: [1.5, -2, 0.25, 1e6])),
            ("expected_write_i8.npy", Tensor(shape: [3], ints: [7, -1, 1 << 40])),
            ("expected_write_scalar_f4.npy", .scalar(3)),
        ]
        for (name, tensor) in cases {
            let numpy = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            XCTAssertEqual(NPY.encode(tensor), numpy, name)
        }
    }

    func testWriteReadRoundTrip() throws {
        let path = NSTemporaryDirectory() + "loupe-npy-\(getpid()).npy"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tensors = [
            Tensor(shape: [2, 1, 3], floats: [0, -1, 2.5, .infinity, 1e-30, 7]),
            Tensor(shape: [4], ints: [Int64.min, -1, 0, Int64.max]),
            Tensor(shape: [2], ints: [1, 0], dtype: .bool),
            Tensor(shape: [3], ints: [255, 0, 7], dtype: .uint8),
            Tensor(shape: [2], ints: [-32768, 32767], dtype: .int16),
            Tensor(shape: [1], ints: [-1], dtype: .uint64),
        ]
        for t in tensors {
            try NPY.write(t, path: path)
            let back = try NPY.read(path: path)
            XCTAssertEqual(back.shape, t.shape)
            XCTAssertEqual(back.dtype, t.dtype)
            XCTAssertEqual(back.floats, t.floats)
            XCTAssertEqual(back.ints, t.ints)
        }
        XCTAssertThrowsError(try NPY.write(tensors[0], path: "/nonexistent/dir/t.npy")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/dir/t.npy"))
        }
    }
}
