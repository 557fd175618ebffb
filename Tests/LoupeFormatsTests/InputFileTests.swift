import CHDF5
import Foundation
import LoupeTensor
import LoupeTestSupport
import XCTest

@testable import LoupeFormats

/// The file helpers (`InputFile`, `OutputFile`), the image pixel limit and the HDF5 storage
/// check: every refusal names the path and the cause, and nothing is allocated for sizes the
/// file cannot back.
final class InputFileTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try TemporaryFolder.make("loupe-inputfile", for: self).path
    }

    private func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }

    private func message(_ body: () throws -> Any) -> (LoupeError.Kind, String)? {
        do { _ = try body() } catch let e as LoupeError { return (e.kind, e.message) } catch { return (.io, "not a LoupeError: \(error)") }
        return nil
    }

    func testReadsRegularFilesWholeCopiedOrMapped() throws {
        let bytes = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: path("a.bin")))
        XCTAssertEqual(try InputFile.read(path("a.bin"), as: "model"), bytes)
        XCTAssertEqual(try InputFile.read(path("a.bin"), as: "model", mapped: true), bytes)
        XCTAssertEqual(try InputFile.check(path("a.bin"), as: "model"), 100_000)
        try Data().write(to: URL(fileURLWithPath: path("empty.bin")))
        XCTAssertEqual(try InputFile.read(path("empty.bin"), as: "model", mapped: true), Data())
        try Data("é labels\n".utf8).write(to: URL(fileURLWithPath: path("labels.txt")))
        XCTAssertEqual(try InputFile.text(path("labels.txt"), as: "labels file"), "é labels\n")
    }

    func testRefusalsNameThePathAndTheCause() throws {
        try Data(count: 10).write(to: URL(fileURLWithPath: path("ten.bin")))
        let cases: [(String, () throws -> Any, LoupeError.Kind, String)] = [
            ("missing", { try InputFile.read(self.path("none.png"), as: "image") }, .io,
             "cannot read image '\(path("none.png"))': no such file or directory"),
            ("directory", { try InputFile.read(self.dir, as: "image") }, .io,
             "cannot read image '\(dir)': it is a directory, not a file"),
            ("device", { try InputFile.read("/dev/zero", as: "npy file") }, .io,
             "cannot read npy file '/dev/zero': it is not a regular file (a device, pipe or socket)"),
            ("under a file", { try InputFile.read(self.path("ten.bin") + "/x", as: "model") }, .io,
             "cannot read model '\(path("ten.bin"))/x': a part of the path is not a directory"),
            ("too large", { try InputFile.read(self.path("ten.bin"), as: "labels file", maxBytes: 9) }, .tooLarge,
             "cannot read labels file '\(path("ten.bin"))': it holds 10 bytes, more than the 9 bytes Loupe reads from a labels file"),
            ("check a directory", { try InputFile.check(self.dir, as: "model") }, .io,
             "cannot read model '\(dir)': it is a directory, not a file"),
            ("empty path", { try InputFile.read("", as: "image") }, .io, "cannot read image: the path is empty"),
        ]
        for (name, body, kind, text) in cases {
            let got = message(body)
            XCTAssertEqual(got?.0, kind, name)
            XCTAssertEqual(got?.1, text, name)
        }
        try Data([0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: path("bad.txt")))
        XCTAssertEqual(message { try InputFile.text(self.path("bad.txt"), as: "labels file") }?.1,
                       "cannot read labels file '\(path("bad.txt"))': it is not UTF-8 text")
    }

    /// Tests run as root, where `chmod` cannot provoke EACCES; the words are checked here.
    func testErrnoWords() {
        XCTAssertEqual(InputFile.cause(errno: EACCES), "permission denied")
        XCTAssertEqual(InputFile.cause(errno: EPERM), "permission denied")
        XCTAssertEqual(InputFile.cause(errno: ENOENT), "no such file or directory")
        XCTAssertEqual(InputFile.cause(errno: EISDIR), "it is a directory, not a file")
        XCTAssertEqual(InputFile.cause(errno: ENOSPC), "no space left on the device")
        XCTAssertEqual(InputFile.cause(errno: EXDEV), String(cString: strerror(EXDEV)).lowercased())
    }

    func testOutputFileNamesAMissingFolder() throws {
        let t = Tensor(shape: [2], floats: [1, 2])
        let missing = path("no-folder")
        XCTAssertEqual(message { try NPY.write(t, path: missing + "/t.npy") }?.1,
                       "cannot write npy file '\(missing)/t.npy': the folder '\(missing)' does not exist")
        try Data(count: 1).write(to: URL(fileURLWithPath: path("file")))
        XCTAssertEqual(message { try NPY.write(t, path: self.path("file") + "/t.npy") }?.1,
                       "cannot write npy file '\(path("file"))/t.npy': '\(path("file"))' is not a folder")
        XCTAssertEqual(message { try NPY.write(t, path: self.dir) }?.1, "cannot write npy file '\(dir)': it is a directory")
        let img = try RGBImage(width: 1, height: 1, channels: 1, pixels: [0.5])
        XCTAssertEqual(message { try ImageIO.writePNG(img, path: missing + "/p.png") }?.1,
                       "cannot write PNG '\(missing)/p.png': the folder '\(missing)' does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))
        try NPY.write(t, path: path("t.npy"))
        XCTAssertEqual(try NPY.read(path: path("t.npy")).floats, [1, 2])
    }

    func testPixelLimitIsInclusiveAndChecksTheHeader() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("rgb8.png")))
        let img = try ImageIO.decode(data)
        let n = img.width * img.height
        XCTAssertEqual(try ImageIO.decode(data, maxPixels: n), img)
        let refused = message { try ImageIO.decode(data, maxPixels: n - 1) }
        XCTAssertEqual(refused?.0, .tooLarge)
        XCTAssertEqual(refused?.1, "the PNG header declares \(img.width)x\(img.height) = \(n) pixels, more than the limit of \(n - 1) \(ImageIO.pixelLimitHint)")
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: fixture("rgb.jpg")))
        let j = try ImageIO.decode(jpeg)
        XCTAssertTrue(message { try ImageIO.decode(jpeg, maxPixels: j.width * j.height - 1) }?.1.hasPrefix("the JPEG header declares") ?? false)
    }

    /// An HDF5 file written here through the C library: a stored dataset reads back; one never
    /// written (1 GiB declared, nothing stored) and one of gzip-compressed zeros (16 MiB from
    /// some kilobytes) are refused before their buffers are allocated.
    func testHDF5DatasetsMustBeBackedByTheirStoredBytes() throws {
        let file = path("sizes.h5")
        H5open()
        let f = H5Fcreate(file, 0x0002 /* H5F_ACC_TRUNC */, 0, 0)
        XCTAssertGreaterThanOrEqual(f, 0)
        func dataset(_ name: String, _ count: Int, plist: hid_t = 0, write values: [Float]? = nil) {
            var dims = [hsize_t(count)]
            let space = H5Screate_simple(1, &dims, nil)
            let d = H5Dcreate2(f, name, loupe_h5_native_float(), space, 0, plist, 0)
            XCTAssertGreaterThanOrEqual(d, 0, name)
            if let values {
                let ok = values.withUnsafeBytes { H5Dwrite(d, loupe_h5_native_float(), 0, 0, 0, $0.baseAddress) }
                XCTAssertGreaterThanOrEqual(ok, 0, name)
            }
            H5Dclose(d)
            H5Sclose(space)
        }
        dataset("written", 32, write: (0..<32).map { Float($0) / 4 })
        dataset("unwritten", 1 << 28)
        let dcpl = H5Pcreate(H5P_CLS_DATASET_CREATE_ID_g)
        var chunk = [hsize_t(1 << 18)]
        H5Pset_chunk(dcpl, 1, &chunk)
        H5Pset_deflate(dcpl, 9)
        dataset("zeros_gzip", 1 << 22, plist: dcpl, write: [Float](repeating: 0, count: 1 << 22))
        H5Pclose(dcpl)
        H5Fclose(f)

        let h5 = try HDF5File(path: file)
        XCTAssertEqual(try h5.tensor("written").floats, (0..<32).map { Float($0) / 4 })
        XCTAssertEqual(message { try h5.tensor("unwritten") }?.1,
                       "sizes.h5: dataset 'unwritten' of shape [268435456] needs 1073741824 bytes but the file stores 0 (truncated, or never written)")
        let gz = message { try h5.tensor("zeros_gzip") }
        XCTAssertEqual(gz?.0, .tooLarge)
        XCTAssertTrue(gz?.1.hasPrefix("sizes.h5: compressed dataset 'zeros_gzip' of shape [4194304] would decode to 16777216 bytes from ") ?? false, gz?.1 ?? "no error")
    }
}
