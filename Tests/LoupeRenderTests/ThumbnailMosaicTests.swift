import LoupeRender
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `ThumbnailMosaic`: grid sizes, points that already lie on a grid, the optimum on small
/// configurations against enumeration, and the picture.
final class ThumbnailMosaicTests: XCTestCase {
    func testDefaultGridAndSubsample() {
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 0) == (0, 0))
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 1) == (1, 1))
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 5) == (2, 3))
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 7) == (3, 3))
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 120) == (11, 11))
        XCTAssertTrue(ThumbnailMosaic.defaultGrid(count: 2500) == (50, 50))
        XCTAssertEqual(ThumbnailMosaic.subsample(count: 5, maxCells: 10), [0, 1, 2, 3, 4])
        XCTAssertEqual(ThumbnailMosaic.subsample(count: 10, maxCells: 4), [0, 2, 5, 7])
    }

    /// Points on the cell centres of a 4 × 5 grid (y up), given in a shuffled order, each land
    /// in their own cell, at zero cost.
    func testPointsOnAGridLandInTheirOwnCells() throws {
        let (rows, cols) = (4, 5)
        var order = Array(0..<(rows * cols))
        var rng = SeededRandom(seed: 3)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        // Any affine scale: normalisation maps the extreme centres to 0 and 1, and the grid's
        // centres to (c + 0.5) / C only after the same affine map, so use those exactly.
        var points: [Float] = []
        for cell in order {
            let (r, c) = (cell / cols, cell % cols)
            points += [Float(10 * c + 3), Float(-7 * r)]
        }
        let p = try ThumbnailMosaic.place(points: points, rows: rows, columns: cols)
        XCTAssertEqual(p.items, Array(0..<20))
        XCTAssertEqual(p.cellOfItem, order)
    }

    /// The total cost equals the least over every injective placement (enumerated).
    func testCostIsTheOptimum() throws {
        var rng = SeededRandom(seed: 11)
        for trial in 0..<4 {
            let n = 4 + trial % 3
            let points = (0..<(2 * n)).map { _ in rng.uniform(-2, 2) }
            let p = try ThumbnailMosaic.place(points: points, rows: 3, columns: 3)
            XCTAssertEqual(Set(p.cellOfItem).count, n)
            let u = ThumbnailMosaic.normalized(points)
            func cost(_ i: Int, _ cell: Int) -> Double {
                let dx = u[2 * i] - (Double(cell % 3) + 0.5) / 3, dy = u[2 * i + 1] - (1 - (Double(cell / 3) + 0.5) / 3)
                return dx * dx + dy * dy
            }
            var best = Double.infinity, used = [Bool](repeating: false, count: 9)
            func go(_ i: Int, _ s: Double) {
                if i == n { best = min(best, s); return }
                for c in 0..<9 where !used[c] { used[c] = true; go(i + 1, s + cost(i, c)); used[c] = false }
            }
            go(0, 0)
            XCTAssertEqual(p.cost, best, accuracy: 1e-12)
            XCTAssertEqual(p.cellOfItem.enumerated().reduce(0.0) { $0 + cost($1.offset, $1.element) }, best, accuracy: 1e-12)
        }
        // Too many points for the grid: an even subsample is placed.
        let many = try ThumbnailMosaic.place(points: (0..<40).map { Float($0) }, rows: 2, columns: 2)
        XCTAssertEqual(many.items, [0, 5, 10, 15])
        XCTAssertThrowsError(try ThumbnailMosaic.place(points: [0, .nan]))
        XCTAssertThrowsError(try ThumbnailMosaic.place(points: [0, 1, 2]))
    }

    func testRenderFitsImagesKeepingTheirAspect() throws {
        // A wide red image and a tall blue one in a 1 x 2 grid of 8-pixel cells, gap 1.
        let red = try RGBImage(width: 16, height: 8, fill: (1, 0, 0))
        let blue = try RGBImage(width: 2, height: 4, fill: (0, 0, 1))
        let p = try ThumbnailMosaic.place(points: [0, 0, 1, 0], rows: 1, columns: 2)
        XCTAssertEqual(p.cellOfItem, [0, 1])
        let img = try ThumbnailMosaic.render(p, cellSize: 8, gap: 1, background: (1, 1, 1)) { $0 == 0 ? red : blue }
        XCTAssertEqual(img.width, 19)
        XCTAssertEqual(img.height, 10)
        func px(_ x: Int, _ y: Int) -> [Float] { Array(img.pixels[((y * img.width + x) * 3)..<((y * img.width + x) * 3 + 3)]) }
        // Red 8 x 4 centred vertically in cell 0 (rows 3..<7 of the cell, y 1 + 2 ..< 1 + 6).
        XCTAssertEqual(px(1, 1), [1, 1, 1])
        XCTAssertEqual(px(1, 3), [1, 0, 0])
        XCTAssertEqual(px(8, 6), [1, 0, 0])
        XCTAssertEqual(px(8, 7), [1, 1, 1])
        // Blue 4 x 8 centred horizontally in cell 1 (x 10 + 2 ..< 10 + 6).
        XCTAssertEqual(px(11, 4), [1, 1, 1])
        XCTAssertEqual(px(12, 1), [0, 0, 1])
        XCTAssertEqual(px(15, 8), [0, 0, 1])
        XCTAssertEqual(px(16, 4), [1, 1, 1])
        // Shrinking by 4 averages: a 2-pixel checkerboard becomes mid-gray.
        var check = [Float](repeating: 0, count: 8 * 8 * 3)
        for y in 0..<8 { for x in 0..<8 where (x + y) % 2 == 0 { for c in 0..<3 { check[(y * 8 + x) * 3 + c] = 1 } } }
        let t = try ThumbnailMosaic.thumbnail(try RGBImage(width: 8, height: 8, channels: 3, pixels: check), width: 2, height: 2)
        for v in t.pixels { XCTAssertEqual(v, 0.5, accuracy: 1e-6) }
    }
}
