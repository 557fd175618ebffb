import Foundation
import LoupeExplain
import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `loupe report`: the SHA-256 it prints, the page it writes, and that page opened in a real
/// browser (Debian's headless Chromium, which Scripts/test.sh installs): it must load without
/// console errors and every picture must decode to a non-zero size.
final class ReportTests: XCTestCase {
    static let root = CLITests.root
    static let model = CLITests.model
    static let images = CLITests.images
    static let labels = root.appendingPathComponent("SampleModels/tiny-cnn/labels.txt").path
    /// Not CAM-ready: flatten and two linear layers after the last convolution.
    static let vgg = root.appendingPathComponent("Tests/LoupeExplainTests/Fixtures/tiny-vgg.onnx").path

    typealias Result = LoupeBinary.Result

    /// Chromium can hang on a broken setup: it is killed after `timeout` seconds.
    func run(_ executable: URL, _ args: [String], timeout: TimeInterval = 120) throws -> Result {
        try LoupeBinary.run(executable: executable, args, timeout: timeout)
    }

    func loupe(_ args: [String]) throws -> Result { try LoupeBinary.run(args, timeout: 120) }

    func tempDir() throws -> URL { try TemporaryFolder.make("loupe-report", for: self) }

    // MARK: - SHA-256

    func testSHA256KnownDigests() throws {
        // FIPS 180-4 examples (NIST CSRC "SHA256.pdf") and the empty message.
        XCTAssertEqual(SHA256.hex(of: [UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // One million 'a', fed in uneven pieces to cross block boundaries.
        var s = SHA256()
        var left = 1_000_000, piece = 1
        while left > 0 {
            let n = min(piece, left)
            s.update([UInt8](repeating: 0x61, count: n))
            left -= n
            piece = piece * 3 % 1000 + 7
        }
        XCTAssertEqual(SHA256.hex(s.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Lengths around the padding boundary (55, 56, 63, 64 bytes) against sha256sum.
        XCTAssertEqual(SHA256.hex(of: [UInt8](repeating: 0x61, count: 55)), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        XCTAssertEqual(SHA256.hex(of: [UInt8](repeating: 0x61, count: 56)), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        XCTAssertEqual(SHA256.hex(of: [UInt8](repeating: 0x61, count: 64)), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
        // The sample model file, as `sha256sum` prints it.
        XCTAssertEqual(try SHA256.hex(ofFile: Self.model), "ac3bfd722ff495fd3479d1d4efd85e169e5b3369f9b0db36931c703736ce753f")
        XCTAssertThrowsError(try SHA256.hex(ofFile: "/nonexistent/model.onnx"))
    }

    // MARK: - The page

    /// The report's default methods, as issue 19 names them: the classic eight plus integrated
    /// gradients and Grad-CAM++.
    static let defaultMethods = ["saliency", "deconvnet", "guided-backprop", "cam", "grad-cam", "guided-grad-cam",
                                 "occlusion", "activations", "integrated-gradients", "grad-cam++"]

    func testReportIsSelfContainedAndComplete() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("report.html").path
        let imgs = ["disc", "square"].map { Self.images.appendingPathComponent("\($0).png").path }
        let r = try loupe(["report", Self.model] + imgs + ["--labels", Self.labels, "--preprocess", "none", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out)"), r.stdout)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        // Self-contained: no script, no external resource of any kind.
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the report must not reference the network")
        XCTAssertFalse(html.contains("<link"))
        XCTAssertTrue(html.contains("<meta name=\"viewport\""))
        // Pictures: filters, then per image the input, every method (tiny-cnn is CAM-ready) and the channel grid.
        let srcs = html.components(separatedBy: "<img ").dropFirst()
        // Per image: the input, each method, the channel grid and the predicted class's visualisation.
        XCTAssertEqual(srcs.count, 1 + 2 * (1 + Self.defaultMethods.count + 1 + 1))
        for s in srcs { XCTAssertTrue(s.contains("src=\"data:image/png;base64,iVBORw0KGgo"), String(s.prefix(80))) }
        // Model summary as `inspect` counts it, the SHA-256, each method's title and line.
        for part in ["23,909", "11,206,976", "ac3bfd722ff495fd3479d1d4efd85e169e5b3369f9b0db36931c703736ce753f",
                     "/8/Conv", "[1, 64, 16, 16]", "Saliency", "Deconvnet", "Guided backprop", "CAM", "Grad-CAM",
                     "Guided Grad-CAM", "Occlusion", "Activation map", "Integrated gradients", "Grad-CAM++", "What the model takes for class", "512 steps, seed 0", "Sundararajan", "Chattopadhay", "Simonyan", "Selvaraju", "window 16x16, stride 8x8",
                     "Loupe version", "square.png", "Top 5 predictions", "linear-gradient"] {
            XCTAssertTrue(html.contains(part), "missing '\(part)'")
        }
        // Refuses to overwrite without --force, then overwrites with it.
        let again = try loupe(["report", Self.model, imgs[0], "--preprocess", "none", "-o", out])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("exists; pass --force"), again.stderr)
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), html)
        let forced = try loupe(["report", Self.model, imgs[0], "--preprocess", "none", "--methods", "saliency", "--visualize-steps", "0", "-o", out, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        let saliencyOnly = try String(contentsOfFile: out, encoding: .utf8)
        // Filters, input, saliency: no class visualisation with --visualize-steps 0.
        XCTAssertEqual(saliencyOnly.components(separatedBy: "<img ").count - 1, 1 + 1 + 1)
        XCTAssertTrue(saliencyOnly.contains("left out (--visualize-steps 0)"))
    }

    func testCAMNoteForAModelThatIsNotCAMReady() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("vgg.html").path
        let img = Self.images.appendingPathComponent("triangle.png").path
        let r = try loupe(["report", Self.vgg, img, "--preprocess", "none", "--methods", "cam,grad-cam", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertTrue(html.contains("class=\"note\">Not available for this model."), "no CAM note")
        XCTAssertTrue(html.contains("loupe surgery cam"))
        // Filters, input, Grad-CAM and the class visualisation: CAM has a note instead of a picture.
        XCTAssertEqual(html.components(separatedBy: "<img ").count - 1, 4)
    }

    func testTargetAndLayerAreUsedAndListed() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("r.html").path
        let img = Self.images.appendingPathComponent("disc.png").path
        let r = try loupe(["report", Self.model, img, "--labels", Self.labels, "--preprocess", "none", "--target", "star",
                           "--layer", "/4/Conv", "--methods", "grad-cam,activations", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertTrue(html.contains("Explained class: <b>3 star</b>"))
        XCTAssertTrue(html.contains("<dd>star (given)</dd>"))
        XCTAssertTrue(html.contains("<dd>/4/Conv</dd>"), "the chosen layer is not in the settings")
        XCTAssertTrue(html.contains("of 32 (the most active) at /4/Conv."), "activations did not read /4/Conv (32 channels)")
        XCTAssertTrue(html.contains("All 32 channels at /4/Conv"))
        XCTAssertFalse(html.contains("Saliency"))
        // Filters, input, Grad-CAM, activation channel, channel grid, the predicted class's visualisation.
        XCTAssertEqual(html.components(separatedBy: "<img ").count - 1, 6)
    }

    func testReportErrors() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("r.html").path
        let img = Self.images.appendingPathComponent("disc.png").path
        let missing = try loupe(["report", Self.model, "/nonexistent/cat.png", "-o", out])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("cannot read image '/nonexistent/cat.png'"), missing.stderr)
        let notImage = try loupe(["report", Self.model, Self.labels, "-o", out])
        XCTAssertEqual(notImage.status, 1)
        XCTAssertTrue(notImage.stderr.contains("labels.txt"), notImage.stderr)
        let badMethod = try loupe(["report", Self.model, img, "--methods", "saliency,magic", "-o", out])
        XCTAssertNotEqual(badMethod.status, 0)
        XCTAssertTrue(badMethod.stderr.contains("--methods: unknown method 'magic'; valid: "), badMethod.stderr)
        for m in Method.allCases { XCTAssertTrue(badMethod.stderr.contains(m.rawValue), "\(m.rawValue) not listed: \(badMethod.stderr)") }
        let badLayer = try loupe(["report", Self.model, img, "--layer", "nope", "--preprocess", "none", "-o", out])
        XCTAssertEqual(badLayer.status, 1)
        XCTAssertTrue(badLayer.stderr.contains("no layer named 'nope'"), badLayer.stderr)
        let noFolder = try loupe(["report", Self.model, img, "-o", dir.appendingPathComponent("no/such/r.html").path])
        XCTAssertEqual(noFolder.status, 1)
        XCTAssertTrue(noFolder.stderr.contains("does not exist"), noFolder.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no report after an error")
    }

    // MARK: - In a browser

    static var chromium: URL? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] {
                let u = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: u.path) { return u }
            }
        }
        return nil
    }

    /// What headless Chromium saw: images decoded / total (from a checker script appended to a
    /// copy of the page, which writes them into the title), and console lines it logged.
    struct BrowserCheck {
        var decoded: Int
        var total: Int
        var console: [String]
        /// The headings of the method cards that show a visible sanity-check warning badge.
        var badged: [String]
    }

    func openInChromium(_ html: String, dir: URL) throws -> BrowserCheck {
        let browser = try XCTUnwrap(Self.chromium, "chromium is not installed (Scripts/test.sh installs Debian's chromium)")
        let checker = """
            <script>window.addEventListener("load", function () {
              var im = document.images, ok = 0;
              for (var i = 0; i < im.length; i++) if (im[i].complete && im[i].naturalWidth > 0 && im[i].naturalHeight > 0) ok++;
              var badged = [], cards = document.querySelectorAll("figure.method");
              for (var j = 0; j < cards.length; j++) {
                var b = cards[j].querySelector(".badge.fail");
                if (b && b.offsetHeight > 0 && b.offsetWidth > 0) badged.push(cards[j].querySelector("h3").textContent);
              }
              document.title = "loupe-check " + ok + "/" + im.length + " badges " + badged.join(";");
            });</script>
            """
        let page = dir.appendingPathComponent("checked-\(UUID().uuidString).html")
        _ = try XCTUnwrap(html.range(of: "</body>"), "no </body>")
        try html.replacingOccurrences(of: "</body>", with: checker + "</body>").write(to: page, atomically: true, encoding: .utf8)
        let profile = dir.appendingPathComponent("chromium-profile-\(UUID().uuidString)")
        let r = try run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
                                  "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", page.absoluteString])
        XCTAssertEqual(r.status, 0, r.stderr)
        let title = try XCTUnwrap(r.stdout.range(of: #"loupe-check \d+/\d+"#, options: .regularExpression).map { String(r.stdout[$0]) },
                                  "the checker did not run: \(r.stderr.suffix(2000))")
        let counts = title.dropFirst("loupe-check ".count).split(separator: "/").map { Int($0)! }
        let console = r.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        let badges = r.stdout.range(of: #"badges [^<]*</title>"#, options: .regularExpression).map {
            String(r.stdout[$0].dropFirst("badges ".count).dropLast("</title>".count))
        } ?? ""
        return BrowserCheck(decoded: counts[0], total: counts[1], console: console,
                            badged: badges.split(separator: ";").map(String.init))
    }

    func testReportOpensInChromiumWithEveryImageDecoded() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("report.html").path
        let imgs = ["disc", "triangle"].map { Self.images.appendingPathComponent("\($0).png").path }
        let r = try loupe(["report", Self.model] + imgs + ["--labels", Self.labels, "--preprocess", "none", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let expected = html.components(separatedBy: "<img ").count - 1
        XCTAssertEqual(expected, 1 + 2 * (1 + Self.defaultMethods.count + 1 + 1))

        let good = try openInChromium(html, dir: dir)
        XCTAssertEqual(good.total, expected)
        XCTAssertEqual(good.decoded, expected, "some pictures did not decode")
        XCTAssertEqual(good.console, [], "console messages while loading the report")
        XCTAssertEqual(good.badged.count, html.components(separatedBy: "class=\"badge fail\"").count - 1)

        // The check must catch a broken picture: corrupt the PNG data of the third one.
        var parts = html.components(separatedBy: "base64,iVBORw0KGgo")
        XCTAssertGreaterThan(parts.count, 3)
        parts[3] = "AAAAAAAAAAAAAAAAAAAA" + parts[3].dropFirst(20)
        let broken = try openInChromium(parts.joined(separator: "base64,iVBORw0KGgo"), dir: dir)
        XCTAssertEqual(broken.total, expected)
        XCTAssertEqual(broken.decoded, expected - 1, "a corrupted picture went unnoticed")

        // And a script error in the page shows up as a console line.
        let failing = try openInChromium(html.replacingOccurrences(of: "</body>", with: "<script>undefinedFunction();</script></body>"), dir: dir)
        XCTAssertFalse(failing.console.isEmpty, "an uncaught error went unnoticed")
    }

    // MARK: - Sanity check

    static let shapes = root.appendingPathComponent("SampleModels/shapes")
    static let gap = shapes.appendingPathComponent("shapes-gap.onnx").path
    /// An image on which, with seed 0, the activation map fails the sanity check (Spearman of
    /// absolute values above 0.5 after full randomisation) and saliency passes.
    static let sanityImage = shapes.appendingPathComponent("test/004-cross.png").path

    /// The method cards of a report page: (heading, card HTML).
    func cards(_ html: String) -> [(String, String)] {
        html.components(separatedBy: "<figure class=\"method\">").dropFirst().map { card in
            let body = card.components(separatedBy: "</figure>")[0]
            let h3 = body.components(separatedBy: "<h3>").dropFirst().first?.components(separatedBy: "</h3>").first ?? ""
            return (h3, body)
        }
    }

    func lastSpearmanAbs(_ method: String) throws -> Double {
        let j = try loupe(["sanity", Self.gap, Self.sanityImage, "--method", method, "--preprocess", "none", "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any])
        let steps = try XCTUnwrap(doc["steps"] as? [[String: Any]])
        return try XCTUnwrap(steps.last?["spearman_abs"] as? Double)
    }

    func testSanityBadgeOnTheFailingMethodOnlyInChromium() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("sanity.html").path
        let r = try loupe(["report", Self.gap, Self.sanityImage, "--preprocess", "none", "--methods", "activations,saliency",
                           "--visualize-steps", "0", "--no-auc", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        let c = cards(html)
        XCTAssertEqual(c.map(\.0), ["Activation map", "Saliency"])
        // The numbers are `loupe sanity`'s last step (same layers, weights and seed).
        let (act, sal) = (try lastSpearmanAbs("activations"), try lastSpearmanAbs("saliency"))
        XCTAssertGreaterThan(act, 0.5)
        XCTAssertLessThanOrEqual(sal, 0.5)
        XCTAssertTrue(c[0].1.contains("class=\"badge fail\" data-sanity-spearman-abs=\"\(String(format: "%.6f", act))\""), c[0].1)
        XCTAssertTrue(c[0].1.contains("Fails sanity check: Spearman rank correlation of absolute values \(String(format: "%.2f", act))"))
        XCTAssertFalse(c[1].1.contains("badge"), c[1].1)
        XCTAssertTrue(c[1].1.contains("class=\"sanity pass\" data-sanity-spearman-abs=\"\(String(format: "%.6f", sal))\""), c[1].1)
        XCTAssertTrue(c[1].1.contains("Passes sanity check"))
        XCTAssertTrue(html.contains("<dt>sanity check</dt>"))

        // In a browser: the badge is drawn on the activation card and nowhere else.
        let seen = try openInChromium(html, dir: dir)
        XCTAssertEqual(seen.decoded, seen.total)
        XCTAssertEqual(seen.console, [])
        XCTAssertEqual(seen.badged, ["Activation map"])

        // --no-sanity leaves it out.
        let quiet = try loupe(["report", Self.gap, Self.sanityImage, "--preprocess", "none", "--methods", "activations,saliency",
                               "--visualize-steps", "0", "--no-auc", "--no-sanity", "-o", out, "--force"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        let plain = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(plain.contains("data-sanity-spearman-abs"))
        XCTAssertFalse(plain.contains("Fails sanity check") || plain.contains("Passes sanity check"))
        XCTAssertTrue(plain.contains("left out (--no-sanity)"))
    }

    /// A model whose randomisation makes the scores NaN: the report is still written, and the
    /// card says which layer did it.
    func testSanityNoteNamesTheLayerThatMadeNaN() throws {
        let dir = try tempDir()
        let out = dir.appendingPathComponent("nan.html").path
        let sqrt = Self.root.appendingPathComponent("Tests/LoupeExplainTests/Fixtures/sanity/sqrt-head.onnx").path
        let r = try loupe(["report", sqrt, Self.sanityImage, "--preprocess", "none", "--methods", "saliency",
                           "--visualize-steps", "0", "--no-auc", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        // 'conv', the second layer of the cascade, as `loupe sanity` says (SanityCLITests).
        XCTAssertTrue(html.contains("Sanity check: not possible, randomising layer &#39;conv&#39; (Conv) made the class scores non-finite"), html)
    }
}
