import Foundation
import LoupeFormats
import LoupeTensor
import LoupeTestSupport
import XCTest

/// Issue 17 point 7 end to end: `--threads 1` and `--threads 2` give the same bits for a
/// forward pass at batch 4 and for the explanation methods whose work Loupe spreads over its
/// own threads (occlusion's window batches, integrated gradients' step batches, SmoothGrad's
/// samples) as well as the gradient and CAM methods, on the shapes VGG model with `--exact`
/// (Winograd's forward kernel rounds differently per thread count with more than one image;
/// docs/engine.md "Threads"). The kernel-level check over every convolution shape and ISA path
/// is `ThreadCountDeterminismTests`.
final class ThreadsCLITests: XCTestCase {
    static let shapes = CLITests.root.appendingPathComponent("SampleModels/shapes")

    func testOneAndTwoThreadsGiveTheSameBits() throws {
        let dir = try TemporaryFolder.make("loupe-threads", for: self)
        let model = Self.shapes.appendingPathComponent("shapes-vgg.onnx").path
        let image = Self.shapes.appendingPathComponent("test/003-star.png").path
        // A batch of 4 random images for `run`.
        var rng = SeededRandom(seed: 17)
        let batch = rng.tensor([4, 3, 64, 64], 0, 1)
        let input = dir.appendingPathComponent("batch.npy").path
        try NPY.write(batch, path: input)

        var runs: [[String: [UInt32]]] = []
        for threads in ["1", "2"] {
            var got: [String: [UInt32]] = [:]
            let out = dir.appendingPathComponent("run-\(threads)").path
            let r = try CLITests.run(["run", model, "--input", "input=\(input)", "--output-dir", out, "--threads", threads, "--exact"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let names = try FileManager.default.contentsOfDirectory(atPath: out)
            XCTAssertEqual(names.count, 1, "\(names)")
            got["run"] = try NPY.read(path: out + "/" + names[0]).floats.map(\.bitPattern)
            for method in ["saliency", "guided-backprop", "grad-cam", "integrated-gradients", "occlusion", "smoothgrad"] {
                let npy = dir.appendingPathComponent("\(method)-\(threads).npy").path
                var args = ["explain", model, image, "--preprocess", "none", "--threads", threads, "--exact",
                            "-o", dir.appendingPathComponent("\(method)-\(threads).png").path, "--save-npy", npy]
                if method == "smoothgrad" {
                    args += ["--method", "saliency", "--noise-tunnel", "smoothgrad", "--noise-samples", "8"]
                } else {
                    args += ["--method", method]
                }
                if method == "occlusion" { args += ["--window", "8x8", "--stride", "4x4"] }
                if method == "integrated-gradients" { args += ["--steps", "16"] }
                let e = try CLITests.run(args)
                XCTAssertEqual(e.status, 0, "\(method): \(e.stderr)")
                got[method] = try NPY.read(path: npy).floats.map(\.bitPattern)
            }
            runs.append(got)
        }
        XCTAssertEqual(runs[0].keys.sorted(), runs[1].keys.sorted())
        for (name, one) in runs[0] {
            let two = runs[1][name]!
            XCTAssertFalse(one.isEmpty, name)
            XCTAssertTrue(one.contains { $0 != 0 && $0 != 0x8000_0000 }, "\(name) is all zeros")
            XCTAssertEqual(one.count, two.count, name)
            let differ = zip(one, two).filter { $0 != $1 }.count
            XCTAssertEqual(differ, 0, "\(name): \(differ) of \(one.count) values differ between --threads 1 and 2")
        }
    }
}
