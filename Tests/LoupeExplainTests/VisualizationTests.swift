import Foundation
import LoupeFormats
import LoupeGraph
import LoupeTensor
import LoupeTestSupport
import XCTest
@testable import LoupeExplain

/// Feature visualisation: the parameterisation and transforms against Lucent's own functions
/// (Scripts/fixtures/make-visualize-fixtures.py), their gradients by finite differences and
/// adjoint identities, determinism, and known answers on the shapes sample models.
final class VisualizationTests: XCTestCase {
    static let fixtures = explainFixtures.appendingPathComponent("visualize")
    static let shapes = explainFixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SampleModels/shapes")

    func load(_ name: String) throws -> Tensor { try NPY.read(path: Self.fixtures.appendingPathComponent(name).path) }

    // MARK: - Against Lucent

    func testFourierImageMatchesLucent() throws {
        for (h, w) in [(6, 8), (5, 7)] {
            let p = try load("fft-\(h)x\(w)-params.npy").floats
            let f = FourierImage(channels: 3, height: h, width: w)
            XCTAssertEqual(f.parameterCount, p.count)
            assertClose(f.image(p), try load("fft-\(h)x\(w)-image.npy").floats, 1e-5)
            let param = ImageParameterization(channels: 3, height: h, width: w, basis: .fourier(decayPower: 1))
            assertClose(param.image(p), try load("fft-\(h)x\(w)-rgb.npy").floats, 1e-5)
        }
    }

    func testWarpsMatchLucentTransforms() throws {
        let x = try load("warp-input.npy")
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        func check(_ warp: Warp, _ name: String) throws {
            let want = try load(name)
            XCTAssertEqual([c, warp.outHeight, warp.outWidth], want.shape, name)
            let got = warp.apply(x.floats, channels: c)
            let diff = zip(got, want.floats).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(diff, 1e-5, name)
        }
        try check(.pad(height: h, width: w, by: 12, fill: 0.5), "warp-pad.npy")
        try check(StandardTransforms.scale(height: h, width: w, by: 0.9), "warp-scale-0.9.npy")
        try check(StandardTransforms.scale(height: h, width: w, by: 1.1), "warp-scale-1.1.npy")
        try check(.rotate(height: h, width: w, degrees: 7), "warp-rotate-7.npy")
        try check(.rotate(height: h, width: w, degrees: -10), "warp-rotate--10.npy")
        try check(.translate(height: h, width: w, dx: 3, dy: 5), "warp-jitter-3-5.npy")
        try check(.resize(height: h, width: w, toHeight: 17, toWidth: 23), "warp-upsample.npy")
    }

    // MARK: - Gradients

    /// Central differences of L(p) = Σ r ⊙ image(p) along random directions, in Double.
    func testParameterisationGradients() throws {
        var rng = SeededRandom(seed: 7)
        for basis in [ImageParameterization.Basis.fourier(decayPower: 1)] {
            for (c, h, w) in [(3, 6, 8), (3, 5, 7), (1, 4, 5), (4, 3, 6)] {
                let param = ImageParameterization(channels: c, height: h, width: w, basis: basis)
                var vr = VisualizationRandom(seed: 3)
                var p = param.initialParameters(random: &vr)
                for i in p.indices { p[i] += rng.uniform(-0.3, 0.3) }
                let r = (0..<c * h * w).map { _ in rng.uniform(-1, 1) }
                func loss(_ q: [Float]) -> Double { zip(param.image(q), r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
                let g = param.backward(r, image: param.image(p))
                for _ in 0..<4 {
                    let d = (0..<p.count).map { _ in rng.uniform(-1, 1) }
                    let eps: Float = 1e-2
                    let plus = zip(p, d).map { $0 + eps * $1 }, minus = zip(p, d).map { $0 - eps * $1 }
                    let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
                    let analytic = zip(g, d).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                    XCTAssertEqual(analytic, numeric, accuracy: 2e-3 * max(1, abs(numeric)), "\(basis) \(c)x\(h)x\(w)")
                }
            }
        }
    }

    /// Every warp is affine; its gradient is the adjoint of the linear part: ⟨W x − W 0, y⟩ = ⟨x, Wᵀ y⟩.
    func testWarpAdjoints() throws {
        var rng = SeededRandom(seed: 11)
        var vr = VisualizationRandom(seed: 5)
        let (c, h, w) = (3, 13, 10)
        var warps: [Warp] = [.pad(height: h, width: w, by: 12, fill: 0.5), .rotate(height: h, width: w, degrees: 9),
                             .translate(height: h, width: w, dx: 2, dy: -3), .resize(height: h, width: w, toHeight: 29, toWidth: 7),
                             StandardTransforms.scale(height: h, width: w, by: 0.92), StandardTransforms.scale(height: h, width: w, by: 1.08)]
        for _ in 0..<3 { warps += StandardTransforms().sample(height: h, width: w, random: &vr).prefix(1) }
        for warp in warps {
            let x = (0..<c * h * w).map { _ in rng.uniform(-1, 1) }
            let y = (0..<c * warp.outHeight * warp.outWidth).map { _ in rng.uniform(-1, 1) }
            let zero = warp.apply([Float](repeating: 0, count: x.count), channels: c)
            let wx = zip(warp.apply(x, channels: c), zero).map { $0 - $1 }
            let lhs = zip(wx, y).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, warp.adjoint(y, channels: c)).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)))
        }
    }

    func testFourierInverse() throws {
        var rng = SeededRandom(seed: 2)
        for (h, w) in [(6, 8), (5, 7), (16, 9)] {
            let param = ImageParameterization(channels: 3, height: h, width: w, basis: .fourier(decayPower: 1))
            let u = (0..<3 * h * w).map { _ in rng.uniform(0.05, 0.95) }
            assertClose(param.image(param.parameters(for: u)), u, 1e-4)
        }
    }

    // MARK: - On the shapes sample models

    func model(_ name: String) throws -> ExplainableModel {
        try ExplainableModel(graph: try ModelFile.load(path: Self.shapes.appendingPathComponent(name).path))
    }

    func testDeterministicForASeed() throws {
        let m = try model("shapes-gap.onnx")
        var s = FeatureVisualization.Settings()
        s.steps = 24
        s.seed = 9
        let a = try FeatureVisualization.run(m, objective: .classScore(2), input: InputValues(), settings: s)
        let b = try FeatureVisualization.run(m, objective: .classScore(2), input: InputValues(), settings: s)
        XCTAssertEqual(a.image.floats, b.image.floats)
        XCTAssertEqual(a.history, b.history)
        s.seed = 10
        let c = try FeatureVisualization.run(m, objective: .classScore(2), input: InputValues(), settings: s)
        XCTAssertNotEqual(a.image.floats, c.image.floats)
    }

    /// The unit image shifted by (dx, dy), mid-gray coming in.
    func shifted(_ u: Tensor, dx: Int, dy: Int) -> Tensor {
        let (c, h, w) = (u.shape[0], u.shape[1], u.shape[2])
        var out = [Float](repeating: 0.5, count: u.count)
        for k in 0..<c { for y in 0..<h { for x in 0..<w {
            let (sy, sx) = (y - dy, x - dx)
            if sy >= 0, sy < h, sx >= 0, sx < w { out[k * h * w + y * w + x] = u.floats[k * h * w + sy * w + sx] }
        } } }
        return Tensor(shape: [1, c, h, w], floats: out)
    }

    /// `PowerSpectrum` against numpy (Scripts/fixtures/make-spectrum-fixture.py): the radially
    /// averaged power and the log-log slope of a 1/f^0.8 image with noise.
    func testPowerSpectrumMatchesNumpy() throws {
        for size in ["64x64", "48x40"] {
            let u = try load("spectrum-\(size).npy")
            let (power, _) = PowerSpectrum.radialPower(u)
            let want = try load("spectrum-\(size)-power.npy").floats
            XCTAssertEqual(power.count, want.count)
            for (g, w) in zip(power, want) { XCTAssertEqual(g, Double(w), accuracy: 1e-5 * max(1, Double(w)), size) }
            XCTAssertEqual(PowerSpectrum.slope(u), Double(try load("spectrum-\(size)-slope.npy").floats[0]), accuracy: 1e-5, size)
        }
    }

    /// Issue 16's known answers: each class's picture is that class for the GAP model with
    /// probability ≥ 0.99, and ≥ 0.9 after random 4-pixel shifts. Power spectra (`PowerSpectrum`,
    /// both methods at their defaults, 512 steps (128 for the default on VGG), seed 0): the default's falls steeply (slope
    /// below −2, as natural images' −2); the textbook method's (`naive`) falls too, but slowly:
    /// measured −0.2 to −1.0, not flat (white noise: 0), and at least 1 flatter than the
    /// default's for every class.
    func testKnownAnswersOnShapes() throws {
        let steps = Int(ProcessInfo.processInfo.environment["LOUPE_VISUALIZE_STEPS"] ?? "") ?? 512
        var rng = SeededRandom(seed: 16)
        for name in ["shapes-gap.onnx", "shapes-vgg.onnx"] {
            let m = try model(name)
            var slopes: [String: [Double]] = [:]
            for naive in [false, true] {
                var s = FeatureVisualization.Settings()
                // The defaults' 512 steps, except the default method on the VGG model (128, to
                // keep the test short; its slopes at 512 are in docs/visualize.md).
                s.steps = name == "shapes-vgg.onnx" && !naive ? min(steps, 128) : steps
                s.naive = naive
                for c in 0..<6 {
                    let r = try FeatureVisualization.run(m, objective: .classScore(c), input: InputValues(), settings: s)
                    slopes[naive ? "naive" : "default", default: []].append(PowerSpectrum.slope(r.image))
                    guard name == "shapes-gap.onnx", !naive else { continue }
                    let p = softmax(r.logits)
                    XCTAssertGreaterThanOrEqual(p[c], 0.99, "class \(c)")
                    var worst: Float = 1
                    for _ in 0..<8 {
                        let (dx, dy) = (rng.next() & 1 == 0 ? 4 : -4, Int(rng.next() % 9) - 4)
                        let (sx, sy) = rng.next() & 1 == 0 ? (dx, dy) : (dy, dx)
                        let (logits, _) = try m.forward(shifted(r.image, dx: sx, dy: sy))
                        worst = min(worst, softmax(logits)[c])
                    }
                    XCTAssertGreaterThanOrEqual(worst, 0.9, "class \(c) shifted by 4 pixels")
                    print("\(name) class \(c): p = \(p[c]), worst shifted p = \(worst)")
                }
            }
            let d = slopes["default"]!, n = slopes["naive"]!
            print("\(name) spectrum slopes, default: \(d.map { String(format: "%.2f", $0) }), naive: \(n.map { String(format: "%.2f", $0) })")
            for v in d { XCTAssertLessThan(v, -2, "default spectrum slope") }
            for v in n { XCTAssertLessThan(v, 0, "naive spectrum slope"); XCTAssertGreaterThan(v, -1.5, "naive spectrum slope") }
            for (a, b) in zip(d, n) { XCTAssertLessThan(a, b - 1, "the default's spectrum falls faster than the naive one's") }
        }
    }

    /// A channel that no gradient reaches during the first steps (no random transforms,
    /// which can wake a unit by themselves): without the redirected ReLU
    /// its picture never moves from gray; with it for the first 16 steps the channel comes alive.
    /// The channel is found by search: the first of the layer's channels that are zero on gray
    /// whose objective stays 0 for 32 steps without the rule.
    func testRedirectedReluRevivesADeadChannel() throws {
        let m = try model("shapes-gap.onnx")
        var s = FeatureVisualization.Settings()
        s.steps = 32
        // The default method without its random transforms, which can wake a unit by
        // themselves: what is dead on the (nearly uniform gray) start stays dead.
        s.transforms.pad = 0; s.transforms.firstJitter = 0; s.transforms.secondJitter = 0
        s.transforms.scales = []; s.transforms.angles = []
        var found = false
        for (layer, tensor) in [("/12/Relu", "/12/Relu_output_0"), ("/9/Relu", "/9/Relu_output_0")] where !found {
            let (_, v) = try m.forward(Tensor(shape: [1, 3, 64, 64], floats: [Float](repeating: 0.5, count: 3 * 64 * 64)), keep: [tensor])
            let a = v[tensor]!
            let plane = a.shape[2] * a.shape[3]
            for k in 0..<a.shape[1] where a.floats[k * plane ..< (k + 1) * plane].max()! <= 0 {
                s.redirectedReluSteps = 0
                let dead = try FeatureVisualization.run(m, objective: .channel(layer: layer, channel: k), input: InputValues(), settings: s)
                guard dead.history.allSatisfy({ $0 == 0 }) else { continue }
                s.redirectedReluSteps = 16
                let alive = try FeatureVisualization.run(m, objective: .channel(layer: layer, channel: k), input: InputValues(), settings: s)
                print("channel \(k) of \(layer) after 32 steps: \(dead.objective) without, \(alive.objective) with the redirected ReLU")
                XCTAssertEqual(dead.objective, 0)
                XCTAssertGreaterThan(alive.objective, 0.01)
                XCTAssertTrue(dead.zeroGradientAtStart, "the dead channel's gradient is zero from the start (the CLI warns)")
                XCTAssertFalse(alive.zeroGradientAtStart, "the redirected rule gives a gradient at the first step")
                found = true
                break
            }
        }
        XCTAssertTrue(found, "no channel of /12/Relu or /9/Relu stays dead for 32 steps without the rule")
    }
}
