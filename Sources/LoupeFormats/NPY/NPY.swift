import Foundation
import LoupeTensor

/// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), as specified in
/// `numpy/lib/format.py`:
///
///     "\x93NUMPY" major minor  header-length (uint16 LE for 1.x, uint32 LE for 2.x/3.x)
///     header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
///             padded with spaces and a final '\n' (latin-1 in 1.x/2.x, UTF-8 in 3.x)
///     data:   count * itemsize bytes, C or Fortran order
///
/// Reading accepts the numeric dtypes `f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1` in either byte
/// order (big-endian data is swapped) and both memory orders (Fortran data is transposed into
/// Loupe's row-major layout). Floats land in `Tensor.floats` (f2/f8 converted to Float, dtype
/// kept), integers and booleans in `Tensor.ints`. Complex, string, object and structured
/// dtypes are refused. Errors name the file.
///
/// Writing stores floating tensors as `<f4` and integer/boolean tensors in their own dtype
/// (`<i8` for int64, `|b1` for bool, ...), in C order, version 1.0 unless the header needs 2.0.
public enum NPY {
    /// Reads the `.npy` file at `path`.
    public static func read(path: String) throws -> Tensor {
        let data = try InputFile.read(path, as: "npy file")
        do {
            return try decode(data)
        } catch let e as LoupeError {
            throw e.context("npy file '\(path)'")
        }
    }

    /// Writes `tensor` to `path` as `.npy`.
    public static func write(_ tensor: Tensor, path: String) throws {
        try OutputFile.write(encode(tensor), to: path, as: "npy file")
    }

    // MARK: - Decoding

    /// Element types, as the `descr` code without byte order.
    private enum Kind { case f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1 }

    private static let kinds: [String: (Kind, DType, Int)] = [
        "f2": (.f2, .float16, 2), "f4": (.f4, .float32, 4), "f8": (.f8, .float64, 8),
        "i1": (.i1, .int8, 1), "i2": (.i2, .int16, 2), "i4": (.i4, .int32, 4), "i8": (.i8, .int64, 8),
        "u1": (.u1, .uint8, 1), "u2": (.u2, .uint16, 2), "u4": (.u4, .uint32, 4), "u8": (.u8, .uint64, 8),
        "b1": (.b1, .bool, 1),
    ]

    /// Decodes a whole `.npy` file held in memory.
    public static func decode(_ data: Data) throws -> Tensor {
        let bytes = [UInt8](data)
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw LoupeError.invalid(bytes.count < 10 && Array(bytes.prefix(6)) == Array(magic.prefix(min(6, bytes.count)))
                ? "truncated: \(bytes.count) bytes, too short for the npy preamble"
                : "not an npy file (it does not start with \\x93NUMPY)")
        }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw LoupeError.invalid("truncated: \(bytes.count) bytes, too short for the npy \(major).\(minor) preamble") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw LoupeError.unsupported("npy format version \(major).\(minor) (Loupe reads 1.0, 2.0 and 3.0)")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= bytes.count else {
            throw LoupeError.invalid("truncated header: it claims \(headerLength) bytes but only \(bytes.count - headerStart) follow the preamble")
        }
        let headerBytes = bytes[headerStart..<dataStart]
        guard let text = major == 3 ? String(bytes: headerBytes, encoding: .utf8) : String(bytes: headerBytes, encoding: .isoLatin1) else {
            throw LoupeError.invalid("the header is not valid \(major == 3 ? "UTF-8" : "latin-1") text")
        }
        let header = try Header(parsing: text)

        // descr: byte order + kind code, e.g. '<f4', '|u1', '>i8'.
        var descr = Substring(header.descr)
        var bigEndian = false
        if let first = descr.first, "<>|=".contains(first) {
            bigEndian = first == ">"
            descr = descr.dropFirst()
        }
        guard let (kind, dtype, itemSize) = kinds[String(descr)] else {
            throw LoupeError.unsupported("dtype '\(header.descr)' is not supported; Loupe reads f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1")
        }
        if itemSize == 1 { bigEndian = false }
        let count = try Tensor.checkedCount(header.shape)
        let needed = count.multipliedReportingOverflow(by: itemSize)
        let available = bytes.count - dataStart
        guard !needed.overflow, needed.partialValue <= available else {
            throw LoupeError.invalid("truncated data: shape \(describe(header.shape)) of '\(header.descr)' needs \(count * itemSize) bytes but only \(available) follow the header")
        }

        var tensor: Tensor = bytes.withUnsafeBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[dataStart..<(dataStart + count * itemSize)])
            return convert(raw, kind: kind, dtype: dtype, count: count, shape: header.shape, swap: bigEndian)
        }
        if header.fortranOrder && header.shape.count > 1 {
            tensor = fromFortranOrder(tensor)
        }
        return tensor
    }

    private static func convert(_ raw: UnsafeRawBufferPointer, kind: Kind, dtype: DType, count: Int, shape: [Int], swap: Bool) -> Tensor {
        switch kind {
        case .f4:
            return Tensor(shape: shape, floats: (0..<count).map { i in
                let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)
                return Float(bitPattern: swap ? bits.byteSwapped : bits)
            }, dtype: dtype)
        case .f8:
            return Tensor(shape: shape, floats: (0..<count).map { i in
                let bits = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                return Float(Double(bitPattern: swap ? bits.byteSwapped : bits))
            }, dtype: dtype)
        case .f2:
            return Tensor(shape: shape, floats: (0..<count).map { i in
                let bits = raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)
                return halfToFloat(swap ? bits.byteSwapped : bits)
            }, dtype: dtype)
        case .i1: return Tensor(shape: shape, ints: loadInts(raw, Int8.self, count, swap), dtype: dtype)
        case .i2: return Tensor(shape: shape, ints: loadInts(raw, Int16.self, count, swap), dtype: dtype)
        case .i4: return Tensor(shape: shape, ints: loadInts(raw, Int32.self, count, swap), dtype: dtype)
        case .i8: return Tensor(shape: shape, ints: loadInts(raw, Int64.self, count, swap), dtype: dtype)
        case .u1: return Tensor(shape: shape, ints: loadInts(raw, UInt8.self, count, swap), dtype: dtype)
        case .u2: return Tensor(shape: shape, ints: loadInts(raw, UInt16.self, count, swap), dtype: dtype)
        case .u4: return Tensor(shape: shape, ints: loadInts(raw, UInt32.self, count, swap), dtype: dtype)
        case .u8:  // kept as the Int64 bit pattern, as DType.uint64 storage is
            return Tensor(shape: shape, ints: loadInts(raw, UInt64.self, count, swap), dtype: dtype)
        case .b1:
            return Tensor(shape: shape, ints: (0..<count).map { raw[$0] != 0 ? 1 : 0 }, dtype: dtype)
        }
    }

    private static func loadInts<T: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer, _: T.Type, _ count: Int, _ swap: Bool) -> [Int64] {
        let size = MemoryLayout<T>.size
        return (0..<count).map { i in
            let v = raw.loadUnaligned(fromByteOffset: i * size, as: T.self)
            return Int64(truncatingIfNeeded: swap ? v.byteSwapped : v)
        }
    }

    /// IEEE 754 binary16 to Float, including subnormals, infinities and NaN.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {  // zero or subnormal: mantissa * 2^-24
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// Fortran (column-major) data read as flat storage → the same array in row-major order.
    private static func fromFortranOrder(_ t: Tensor) -> Tensor {
        let shape = t.shape
        let rank = shape.count
        var fStrides = [Int](repeating: 1, count: rank)
        for k in 1..<rank { fStrides[k] = fStrides[k - 1] * shape[k - 1] }
        let count = t.count
        var source = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for i in 0..<count {
            source[i] = offset
            var k = rank - 1
            while k >= 0 {
                index[k] += 1
                offset += fStrides[k]
                if index[k] < shape[k] { break }
                offset -= fStrides[k] * shape[k]
                index[k] = 0
                k -= 1
            }
        }
        return t.gathering(source, shape: shape)
    }

    /// The parsed header dict.
    private struct Header {
        var descr = ""
        var fortranOrder = false
        var shape: [Int] = []

        /// Parses the small subset of Python literal syntax numpy writes: a dict of string
        /// keys to strings, booleans and tuples of integers.
        init(parsing text: String) throws {
            var p = Parser(Array(text.unicodeScalars))
            var seen = Set<String>()
            try p.expect("{")
            while true {
                p.skipSpace()
                if p.accept("}") { break }
                let key = try p.string()
                try p.expect(":")
                switch key {
                case "descr":
                    p.skipSpace()
                    if p.peek == "[" {
                        throw LoupeError.unsupported("structured dtype (a list 'descr'); Loupe reads plain numeric arrays only")
                    }
                    descr = try p.string()
                case "fortran_order": fortranOrder = try p.bool()
                case "shape": shape = try p.intTuple()
                default: throw LoupeError.invalid("unexpected key '\(key)' in the header")
                }
                seen.insert(key)
                p.skipSpace()
                if p.accept(",") { continue }
                try p.expect("}")
                break
            }
            let missing = ["descr", "fortran_order", "shape"].filter { !seen.contains($0) }
            guard missing.isEmpty else {
                throw LoupeError.invalid("the header has no \(missing.map { "'\($0)'" }.joined(separator: ", ")) (header: \(text.trimmingCharacters(in: .whitespacesAndNewlines)))")
            }
        }
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0
        init(_ s: [Unicode.Scalar]) { self.s = s }

        var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }
        var context: String {
            let rest = String(String.UnicodeScalarView(s[min(i, s.count)...].prefix(20)))
            return rest.isEmpty ? "at the end of the header" : "at '\(rest)'"
        }

        mutating func skipSpace() {
            while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1 }
        }
        mutating func accept(_ c: Unicode.Scalar) -> Bool {
            skipSpace()
            if peek == c { i += 1; return true }
            return false
        }
        mutating func expect(_ c: Unicode.Scalar) throws {
            guard accept(c) else { throw LoupeError.invalid("garbled header: expected '\(c)' \(context)") }
        }
        mutating func string() throws -> String {
            skipSpace()
            guard let q = peek, q == "'" || q == "\"" else {
                throw LoupeError.invalid("garbled header: expected a quoted string \(context)")
            }
            i += 1
            var out = String.UnicodeScalarView()
            while let c = peek, c != q {
                out.append(c)
                i += 1
            }
            guard peek == q else { throw LoupeError.invalid("garbled header: unterminated string") }
            i += 1
            return String(out)
        }
        mutating func bool() throws -> Bool {
            skipSpace()
            for (word, value) in [("True", true), ("False", false)] {
                let w = Array(word.unicodeScalars)
                if i + w.count <= s.count, Array(s[i..<(i + w.count)]) == w {
                    i += w.count
                    return value
                }
            }
            throw LoupeError.invalid("garbled header: expected True or False \(context)")
        }
        mutating func intTuple() throws -> [Int] {
            try expect("(")
            var values: [Int] = []
            while true {
                if accept(")") { return values }
                skipSpace()
                var digits = ""
                while let c = peek, ("0"..."9").contains(c) {
                    digits.unicodeScalars.append(c)
                    i += 1
                }
                guard !digits.isEmpty else { throw LoupeError.invalid("garbled header: expected a dimension \(context)") }
                guard let v = Int(digits) else { throw LoupeError(.tooLarge, "dimension \(digits) does not fit in 64 bits") }
                if peek == "L" { i += 1 }  // Python 2 long literal
                values.append(v)
                if accept(",") { continue }
                try expect(")")
                return values
            }
        }
    }

    // MARK: - Encoding

    /// The `.npy` bytes for `tensor` (see the type's doc comment for the dtypes written).
    public static func encode(_ tensor: Tensor) -> Data {
        let descr: String
        var body = Data()
        if tensor.isFloat {
            descr = "<f4"
            #if _endian(little)
            body = tensor.floats.withUnsafeBytes { Data($0) }
            #else
            for v in tensor.floats { appendLE(&body, v.bitPattern) }
            #endif
        } else {
            let ints = tensor.ints
            switch tensor.dtype {
            case .bool: descr = "|b1"; body = Data(ints.map { $0 != 0 ? 1 : 0 })
            case .uint8: descr = "|u1"; body = Data(ints.map { UInt8(truncatingIfNeeded: $0) })
            case .int8: descr = "|i1"; body = Data(ints.map { UInt8(truncatingIfNeeded: $0) })
            case .int16: descr = "<i2"; for v in ints { appendLE(&body, Int16(truncatingIfNeeded: v)) }
            case .uint16: descr = "<u2"; for v in ints { appendLE(&body, UInt16(truncatingIfNeeded: v)) }
            case .int32: descr = "<i4"; for v in ints { appendLE(&body, Int32(truncatingIfNeeded: v)) }
            case .uint32: descr = "<u4"; for v in ints { appendLE(&body, UInt32(truncatingIfNeeded: v)) }
            case .uint64: descr = "<u8"; for v in ints { appendLE(&body, UInt64(bitPattern: v)) }
            default:
                descr = "<i8"
                #if _endian(little)
                body = ints.withUnsafeBytes { Data($0) }
                #else
                for v in ints { appendLE(&body, v) }
                #endif
            }
        }
        let shapeText: String
        switch tensor.shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(tensor.shape[0]),)"
        default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header = Array("{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        // Pad so that the data starts on a 64-byte boundary; the header ends with '\n'.
        let v1 = header.count + 1 + 10 <= 65535
        let preamble = v1 ? 10 : 12
        let padding = (64 - (preamble + header.count + 1) % 64) % 64
        header += [UInt8](repeating: 0x20, count: padding) + [0x0A]
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, v1 ? 1 : 2, 0])
        if v1 {
            appendLE(&out, UInt16(header.count))
        } else {
            appendLE(&out, UInt32(header.count))
        }
        out.append(contentsOf: header)
        out.append(body)
        return out
    }

    private static func appendLE<T: FixedWidthInteger>(_ data: inout Data, _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) }
    }
}
