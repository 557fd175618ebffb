import Foundation
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// Bad input tried as an attacker would: every case runs the built binary and checks the
/// exit code and the words of the message (the file's path and the cause), so that a case
/// that starts to crash, to succeed, or to answer in a system error domain fails here.
/// Exit code 1 is a `LoupeError`; 64 is a flag refused by the argument parser.
/// The hostile files are written at run time into a temporary folder.
final class BadInputTests: XCTestCase {
    static let model = CLITests.model
    static let image = CLITests.images.appendingPathComponent("disc.png").path  // 64x64 RGB

    struct Case {
        var name: String
        var args: [String]
        var status: Int32
        var fragments: [String]
    }

    private var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryFolder.make("loupe-badinput", for: self).path
    }

    private func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    @discardableResult
    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    private func check(_ cases: [Case], file: StaticString = #filePath, line: UInt = #line) throws {
        for c in cases {
            let r = try CLITests.run(c.args)
            XCTAssertEqual(r.status, c.status, "\(c.name): exit \(r.status)\n\(r.stderr)", file: file, line: line)
            for f in c.fragments {
                XCTAssertTrue(r.stderr.contains(f), "\(c.name): '\(f)' not in: \(r.stderr)", file: file, line: line)
            }
            XCTAssertFalse(r.stderr.contains("Domain"), "\(c.name): a system error domain leaked: \(r.stderr)", file: file, line: line)
        }
    }

    // MARK: - Hostile files

    /// A PNG whose IHDR declares `width` x `height` (gray 8-bit, or RGB with `rgb`), followed by
    /// a small IDAT and IEND: the pixel limit must refuse it from the header alone.
    static func pngHeader(width: UInt32, height: UInt32, rgb: Bool = false) -> [UInt8] {
        func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let typed = Array(type.utf8) + body
            return be32(UInt32(body.count)) + typed + be32(ZipArchive.crc32(Data(typed)))
        }
        let ihdr = be32(width) + be32(height) + [8, rgb ? 2 : 0, 0, 0, 0]
        // zlib: one stored block of 16 zero bytes, then its Adler-32 (a = 1, b = 16).
        let idat: [UInt8] = [0x78, 0x01, 0x01, 16, 0, 0xEF, 0xFF] + [UInt8](repeating: 0, count: 16) + [0, 16, 0, 1]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// The repository's baseline JPEG with its frame header patched to `width` x `height`.
    static func jpegHeader(width: UInt16, height: UInt16) throws -> [UInt8] {
        var j = [UInt8](try Data(contentsOf: CLITests.root.appendingPathComponent("Tests/LoupeFormatsTests/Fixtures/rgb.jpg")))
        var i = 2
        while i + 9 < j.count, j[i] == 0xFF {
            let marker = j[i + 1], length = Int(j[i + 2]) << 8 | Int(j[i + 3])
            if marker == 0xC0 || marker == 0xC2 {
                j[i + 5] = UInt8(height >> 8); j[i + 6] = UInt8(height & 0xFF)
                j[i + 7] = UInt8(width >> 8); j[i + 8] = UInt8(width & 0xFF)
                return j
            }
            i += 2 + length
        }
        throw XCTSkip("no SOF marker found in rgb.jpg")
    }

    /// An `.npy` file: magic, version, header (padded to 64 bytes), body.
    static func npy(_ header: String, body: [UInt8], magic: [UInt8] = [0x93] + Array("NUMPY".utf8), version: [UInt8] = [1, 0]) -> [UInt8] {
        var h = Array(header.utf8)
        h += [UInt8](repeating: 0x20, count: (64 - (10 + h.count + 1) % 64) % 64) + [0x0A]
        return magic + version + [UInt8(h.count & 0xFF), UInt8(h.count >> 8)] + h + body
    }

    // MARK: - Cases

    func testHostileImages() throws {
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.image)))
        let jpg = try Self.jpegHeader(width: 64, height: 64)
        let m = Self.model
        let bombPNG = try write("bomb.png", Self.pngHeader(width: 20000, height: 20000))
        let bombRGB = try write("bomb-rgb.png", Self.pngHeader(width: 26000, height: 26000, rgb: true))
        let bombJPG = try write("bomb.jpg", try Self.jpegHeader(width: 60000, height: 60000))
        let folder = path("folder.png")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let limit = "more than the limit of 178956970 pixels"
        try check([
            Case(name: "zero-byte PNG", args: ["predict", m, try write("empty.png", [])], status: 1,
                 fragments: ["empty.png", "the file is empty"]),
            Case(name: "zero-byte JPEG", args: ["predict", m, try write("empty.jpg", [])], status: 1,
                 fragments: ["empty.jpg", "the file is empty"]),
            Case(name: "truncated PNG", args: ["predict", m, try write("cut.png", Array(png.prefix(png.count / 2)))], status: 1,
                 fragments: ["cut.png", "PNG data is truncated"]),
            Case(name: "truncated JPEG", args: ["predict", m, try write("cut.jpg", Array(jpg.prefix(jpg.count / 2)))], status: 1,
                 fragments: ["cut.jpg", "JPEG"]),
            Case(name: "PNG bomb 20000x20000", args: ["predict", m, bombPNG], status: 1,
                 fragments: [bombPNG, "20000x20000 = 400000000 pixels", limit, "--max-pixels"]),
            Case(name: "PNG bomb 26000x26000 RGB (under 2^31 samples)", args: ["predict", m, bombRGB], status: 1,
                 fragments: [bombRGB, "26000x26000 = 676000000 pixels", limit, "--max-pixels"]),
            Case(name: "JPEG bomb 60000x60000", args: ["predict", m, bombJPG], status: 1,
                 fragments: [bombJPG, "JPEG header declares 60000x60000 = 3600000000 pixels", limit, "--max-pixels"]),
            Case(name: "a directory as an image", args: ["predict", m, folder], status: 1,
                 fragments: ["cannot read image '\(folder)': it is a directory"]),
            Case(name: "a missing image", args: ["predict", m, path("none.png")], status: 1,
                 fragments: ["cannot read image '\(path("none.png"))': no such file or directory"]),
            Case(name: "a device as an image", args: ["predict", m, "/dev/zero"], status: 1,
                 fragments: ["cannot read image '/dev/zero': it is not a regular file"]),
            Case(name: "text named .png", args: ["predict", m, try write("text.png", Array("not a picture\n".utf8))], status: 1,
                 fragments: ["text.png", "not a PNG or JPEG file (first bytes: 6e 6f 74"]),
            Case(name: "below --max-pixels", args: ["predict", m, Self.image, "--max-pixels", "4095"], status: 1,
                 fragments: ["disc.png", "64x64 = 4096 pixels, more than the limit of 4095 pixels"]),
            Case(name: "--max-pixels 0", args: ["predict", m, Self.image, "--max-pixels", "0"], status: 64,
                 fragments: ["--max-pixels must be positive, got 0"]),
        ])
        // The limit is inclusive, and raising it is what lets the picture through.
        let atLimit = try CLITests.run(["predict", m, Self.image, "--max-pixels", "4096"])
        XCTAssertEqual(atLimit.status, 0, atLimit.stderr)
        XCTAssertTrue(atLimit.stdout.contains("%"), atLimit.stdout)
    }

    func testMalformedNPY() throws {
        let m = Self.model
        let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 64, 64), }"
        let body = [UInt8](repeating: 0, count: 4 * 3 * 64 * 64)
        func npyCase(_ name: String, _ bytes: [UInt8], _ fragments: [String]) throws -> Case {
            let p = try write(name, bytes)
            return Case(name: name, args: ["predict", m, "--input-npy", p], status: 1, fragments: ["npy file '\(p)'"] + fragments)
        }
        let full = Self.npy(good, body: body)
        try check([
            try npyCase("empty.npy", [], ["truncated: 0 bytes"]),
            try npyCase("magic.npy", Self.npy(good, body: body, magic: [0x93] + Array("NUMPX".utf8)), ["not an npy file"]),
            try npyCase("version.npy", Self.npy(good, body: body, version: [9, 0]), ["npy format version 9.0"]),
            try npyCase("header.npy", Array(full.prefix(40)), ["truncated header"]),
            try npyCase("list.npy", Self.npy("[1, 2, 3]", body: body), ["garbled header: expected '{'"]),
            try npyCase("keys.npy", Self.npy("{'descr': '<f4', 'shape': (1, 3, 64, 64), }", body: body), ["the header has no 'fortran_order'"]),
            try npyCase("dtype.npy", Self.npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1, 3, 64, 64), }", body: body + body),
                        ["dtype '<c8' is not supported"]),
            try npyCase("object.npy", Self.npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", body: [0, 0, 0, 0, 0, 0, 0, 0]),
                        ["dtype '|O' is not supported"]),
            try npyCase("short.npy", Self.npy(good, body: Array(body.prefix(1000))), ["needs 49152 bytes but only 1000 follow the header"]),
            try npyCase("huge.npy", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }", body: body),
                        ["more than 2147483648 elements"]),
            try npyCase("negative.npy", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, -3, 64, 64), }", body: body),
                        ["expected a dimension at '-3"]),
            // A well-formed file of the wrong shape: the message names the input and both shapes.
            Case(name: "npy of the wrong shape",
                 args: ["predict", m, "--input-npy", try write("shape.npy", Self.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", body: Array(body.prefix(16))))],
                 status: 1, fragments: ["input 'input' has shape [2, 2] but the model declares [batch, 3, 64, 64]"]),
            Case(name: "missing npy", args: ["predict", m, "--input-npy", path("none.npy")], status: 1,
                 fragments: ["cannot read npy file '\(path("none.npy"))': no such file or directory"]),
            Case(name: "a directory as npy", args: ["predict", m, "--input-npy", dir], status: 1,
                 fragments: ["cannot read npy file '\(dir)': it is a directory"]),
        ])
        // Fortran order is supported: the same zeros in column-major order run.
        let fortran = try write("fortran.npy", Self.npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3, 64, 64), }", body: body))
        let r = try CLITests.run(["predict", m, "--input-npy", fortran])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testNumericFlagsMethodsLayersAndTargets() throws {
        let (m, img) = (Self.model, Self.image)
        let out = path("x.png")
        func explain(_ extra: [String]) -> [String] { ["explain", m, img, "-o", out] + extra }
        try check([
            Case(name: "--threads 0", args: ["predict", m, img, "--threads", "0"], status: 64, fragments: ["--threads must be between 1 and 1024, got 0"]),
            Case(name: "--threads=-2", args: ["predict", m, img, "--threads=-2"], status: 64, fragments: ["--threads must be between 1 and 1024, got -2"]),
            Case(name: "--threads -2", args: ["predict", m, img, "--threads", "-2"], status: 64, fragments: ["--threads must be between 1 and 1024, got -2"]),
            Case(name: "--top 0", args: ["predict", m, img, "--top", "0"], status: 64, fragments: ["--top must be at least 1"]),
            Case(name: "--resize 0", args: ["predict", m, img, "--resize", "0"], status: 64, fragments: ["--resize must be positive"]),
            Case(name: "--crop 0x0", args: ["predict", m, img, "--crop", "0x0"], status: 64, fragments: ["--crop expects HxW such as 16x16, got '0x0'"]),
            Case(name: "--window 0x0", args: explain(["--method", "occlusion", "--window", "0x0"]), status: 64,
                 fragments: ["--window expects HxW such as 16x16, got '0x0'"]),
            Case(name: "--stride=-1x8", args: explain(["--method", "occlusion", "--stride=-1x8"]), status: 64,
                 fragments: ["--stride expects HxW such as 16x16, got '-1x8'"]),
            Case(name: "--batch 0", args: explain(["--method", "occlusion", "--batch", "0"]), status: 64, fragments: ["--batch must be at least 1"]),
            Case(name: "--alpha 2", args: explain(["--alpha", "2"]), status: 64, fragments: ["--alpha must be between 0 and 1"]),
            Case(name: "--quantile 1.5", args: explain(["--quantile", "1.5"]), status: 64, fragments: ["--quantile must be between 0 and 1"]),
            Case(name: "bench --runs 0", args: ["bench", m, "--runs", "0"], status: 64, fragments: ["--runs must be at least 1"]),
            Case(name: "bench --batch 0", args: ["bench", m, "--batch", "0"], status: 64, fragments: ["--batch must be at least 1"]),
            Case(name: "unknown method", args: explain(["--method", "magic"]), status: 64, fragments: ["--method", "unknown method 'magic'", "valid: saliency"]),
            Case(name: "bench unknown method", args: ["bench", m, "--method", "magic"], status: 64, fragments: ["--method", "unknown method 'magic'"]),
            Case(name: "unknown layer", args: explain(["--method", "grad-cam", "--layer", "nosuch"]), status: 1,
                 fragments: ["no layer named 'nosuch'", "/8/Conv"]),
            Case(name: "filters unknown layer", args: ["filters", m, "--layer", "nosuch", "-o", out], status: 1,
                 fragments: ["no Conv layer named 'nosuch'"]),
            Case(name: "target out of range", args: explain(["--target", "99"]), status: 1,
                 fragments: ["target 99 is out of range: the model has 5 classes (0 to 4)"]),
            Case(name: "unknown target label", args: explain(["--target", "zebra"]), status: 1,
                 fragments: ["target 'zebra' is neither a class index nor a label"]),
            Case(name: "a directory as labels", args: ["predict", m, img, "--labels", dir], status: 1,
                 fragments: ["cannot read labels file '\(dir)': it is a directory"]),
            Case(name: "missing labels", args: ["predict", m, img, "--labels", path("none.txt")], status: 1,
                 fragments: ["cannot read labels file '\(path("none.txt"))': no such file or directory"]),
        ])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no case may write its output")
    }

    func testOutputsAndModels() throws {
        let (m, img) = (Self.model, Self.image)
        let missing = path("no-such-folder")
        let mine = try write("mine.png", Array("mine\n".utf8))
        let folder = path("folder.onnx")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let folderH5 = path("folder.h5")
        try FileManager.default.createDirectory(atPath: folderH5, withIntermediateDirectories: true)
        let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: img)))
        try check([
            Case(name: "-o in a missing folder", args: ["explain", m, img, "-o", missing + "/x.png"], status: 1,
                 fragments: ["cannot write PNG '\(missing)/x.png': the folder '\(missing)' does not exist"]),
            Case(name: "--save-npy in a missing folder", args: ["filters", m, "-o", path("f.png"), "--save-npy", missing + "/f.npy"], status: 1,
                 fragments: ["cannot write npy file '\(missing)/f.npy': the folder '\(missing)' does not exist"]),
            Case(name: "explain --save-npy in a missing folder", args: ["explain", m, img, "-o", path("e.png"), "--save-npy", missing + "/e.npy"],
                 status: 1, fragments: ["cannot write npy file '\(missing)/e.npy': the folder '\(missing)' does not exist"]),
            Case(name: "-o under a file", args: ["filters", m, "-o", mine + "/f.png"], status: 1,
                 fragments: ["cannot write PNG '\(mine)/f.png': '\(mine)' is not a folder"]),
            Case(name: "report in a missing folder", args: ["report", m, img, "-o", missing + "/r.html"], status: 1,
                 fragments: ["the folder '\(missing)' does not exist"]),
            Case(name: "existing output without --force", args: ["explain", m, img, "-o", mine], status: 1,
                 fragments: ["\(mine) exists; pass --force to overwrite it"]),
            Case(name: "text named .onnx", args: ["inspect", try write("text.onnx", Array("not a model\n".utf8))], status: 1,
                 fragments: ["text.onnx", "not a valid ONNX model"]),
            Case(name: "PNG named .onnx", args: ["inspect", try write("picture.onnx", png)], status: 1,
                 fragments: ["picture.onnx", "not a valid ONNX model"]),
            Case(name: "a directory as a model", args: ["inspect", folder], status: 1,
                 fragments: ["cannot read model '\(folder)': it is a directory"]),
            Case(name: "a directory named .h5", args: ["inspect", folderH5], status: 1,
                 fragments: ["cannot read model '\(folderH5)': it is a directory"]),
            Case(name: "zero-byte .onnx", args: ["inspect", try write("empty.onnx", [])], status: 1,
                 fragments: ["cannot read model '\(path("empty.onnx"))': the file is empty"]),
            Case(name: "zero-byte .h5", args: ["inspect", try write("empty.h5", [])], status: 1,
                 fragments: ["empty.h5", "not an HDF5 file"]),
            Case(name: "zero-byte .keras", args: ["inspect", try write("empty.keras", [])], status: 1,
                 fragments: ["empty.keras", "not a ZIP archive"]),
            Case(name: "missing model", args: ["inspect", path("none.onnx")], status: 1,
                 fragments: ["cannot read model '\(path("none.onnx"))': no such file or directory"]),
            Case(name: "unknown model extension", args: ["inspect", mine], status: 1,
                 fragments: ["unknown model format '.png'"]),
        ])
        // Every output is checked before any is written: nothing half done.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("e.png")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("f.png")))
        XCTAssertEqual(try String(contentsOfFile: mine, encoding: .utf8), "mine\n", "a user's file was overwritten")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing), "a missing output folder was created")
    }
}
