import Foundation
import LoupeTensor

/// Reads the entries of a ZIP archive held in memory, as Keras 3 writes `.keras` files:
/// entries *stored* without compression (Python's `zipfile` default). Entries are read
/// from the central directory (PKWARE APPNOTE 4.3.12, 4.3.16); nothing is extracted to
/// disk, and names that could escape a folder (`../`, absolute paths) are refused.
struct ZipArchive {
    struct Entry {
        var name: String
        var method: Int
        var compressedSize: Int
        var size: Int
        var crc: UInt32
        var localOffset: Int
    }

    let data: Data
    let name: String
    let entries: [String: Entry]

    init(data: Data, name: String) throws {
        self.data = data
        self.name = name
        entries = try data.withUnsafeBytes { raw in try Self.centralDirectory(raw.bindMemory(to: UInt8.self), name: name) }
    }

    private static func centralDirectory(_ bytes: UnsafeBufferPointer<UInt8>, name: String) throws -> [String: Entry] {
        func bad(_ message: String) -> LoupeError { LoupeError.invalid("\(name): \(message)") }
        var entries: [String: Entry] = [:]
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        // End of central directory: 22 bytes plus a comment of at most 65535 bytes.
        guard bytes.count >= 22 else { throw bad("not a ZIP archive (too short)") }
        var eocd = -1
        var o = bytes.count - 22
        while o >= max(0, bytes.count - 22 - 65535) {
            if u32(o) == 0x0605_4b50 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw bad("not a ZIP archive (no end-of-central-directory record; truncated?)") }
        let count = u16(eocd + 10)
        let dirSize = u32(eocd + 12)
        let dirOffset = u32(eocd + 16)
        guard count != 0xFFFF, dirOffset != 0xFFFF_FFFF else { throw LoupeError.unsupported("\(name): ZIP64 archives are not supported") }
        guard dirOffset + dirSize <= eocd else { throw bad("the central directory lies outside the file (truncated?)") }
        var p = dirOffset
        for _ in 0..<count {
            guard p + 46 <= eocd, u32(p) == 0x0201_4b50 else { throw bad("corrupt central directory") }
            let nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32)
            guard p + 46 + nameLen <= eocd else { throw bad("corrupt central directory") }
            let entryName = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            let parts = entryName.split(separator: "/", omittingEmptySubsequences: false)
            if entryName.hasPrefix("/") || entryName.hasPrefix("\\") || entryName.contains("\\")
                || parts.contains("..") || entryName.contains(":") {
                throw bad("entry '\(entryName)' points outside the archive; refusing to read it")
            }
            let e = Entry(name: entryName, method: u16(p + 10), compressedSize: u32(p + 20), size: u32(p + 24),
                          crc: UInt32(u32(p + 16)), localOffset: u32(p + 42))
            guard e.size != 0xFFFF_FFFF, e.localOffset != 0xFFFF_FFFF else {
                throw LoupeError.unsupported("\(name): ZIP64 entries are not supported ('\(entryName)')")
            }
            entries[entryName] = e
            p += 46 + nameLen + extraLen + commentLen
        }
        return entries
    }

    /// The bytes of one entry, checked against its CRC-32.
    func read(_ entryName: String) throws -> Data? {
        guard let e = entries[entryName] else { return nil }
        guard e.method == 0 else {
            throw LoupeError.unsupported("\(name): entry '\(entryName)' is compressed (method \(e.method)); Loupe reads the stored entries Keras writes")
        }
        let o = e.localOffset
        guard o + 30 <= data.count else { throw bad("entry '\(entryName)' lies outside the file (truncated?)") }
        let header = [UInt8](data[(data.startIndex + o)..<(data.startIndex + o + 30)])
        func u16(_ i: Int) -> Int { Int(header[i]) | Int(header[i + 1]) << 8 }
        guard u16(0) | u16(2) << 16 == 0x0403_4b50 else { throw bad("corrupt local header for '\(entryName)'") }
        let start = o + 30 + u16(26) + u16(28)
        guard e.compressedSize == e.size, start + e.size <= data.count else {
            throw bad("entry '\(entryName)' lies outside the file (truncated?)")
        }
        let bytes = data.subdata(in: (data.startIndex + start)..<(data.startIndex + start + e.size))
        guard Self.crc32(bytes) == e.crc else { throw bad("entry '\(entryName)' fails its CRC check (corrupt file)") }
        return bytes
    }

    private static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ d: Data) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        d.withUnsafeBytes { raw in
            for b in raw.bindMemory(to: UInt8.self) { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    private func bad(_ message: String) -> LoupeError { LoupeError.invalid("\(name): \(message)") }
}
