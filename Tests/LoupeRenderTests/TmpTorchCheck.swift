import Foundation
import LoupeRender
import LoupeTensor
import XCTest

final class TmpTorchCheck: XCTestCase {
    func testDump() throws {
        var lines: [String] = []
        for (h, w, H, W) in [(5, 7, 13, 17), (7, 7, 224, 224), (14, 14, 192, 192), (9, 11, 4, 5), (3, 3, 7, 10), (13, 13, 100, 37)] {
            let x = Tensor(shape: [h, w], floats: (0..<(h * w)).map { Float(sin(Double($0) * 0.37) * 3) })
            for mode in [Resample.Mode.bilinear, .nearest] {
                let y = try Resample.resize(x, height: H, width: W, mode: mode)
                lines.append("\(h) \(w) \(H) \(W) \(mode == .bilinear ? "b" : "n") " + y.floats.map { String($0.bitPattern) }.joined(separator: ","))
            }
        }
        try lines.joined(separator: "\n").write(toFile: "/tmp/render/resample-dump.txt", atomically: true, encoding: .utf8)
    }
}
