import Foundation
import LoupeAnalysis
import LoupeTensor
import LoupeTestSupport
import XCTest

/// `LinearAssignment` (LAPJV) against brute force on small matrices and against scipy's
/// `linear_sum_assignment` on larger ones (Fixtures/assignment.json, written by
/// Scripts/fixtures/make-assignment-fixture.py).
final class LinearAssignmentTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The least cost over all injective row → column maps, by enumeration.
    func bruteForce(_ c: [Double], rows: Int, columns: Int) -> Double {
        var best = Double.infinity
        var used = [Bool](repeating: false, count: columns)
        func go(_ i: Int, _ sum: Double) {
            if i == rows { best = min(best, sum); return }
            for j in 0..<columns where !used[j] {
                used[j] = true
                go(i + 1, sum + c[i * columns + j])
                used[j] = false
            }
        }
        go(0, 0)
        return best
    }

    func checkValid(_ s: LinearAssignment.Solution, _ c: [Double], rows: Int, columns: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(s.columnOfRow.count, rows, file: file, line: line)
        XCTAssertEqual(Set(s.columnOfRow).count, rows, "a column used twice", file: file, line: line)
        XCTAssertTrue(s.columnOfRow.allSatisfy { (0..<columns).contains($0) }, file: file, line: line)
        let sum = s.columnOfRow.enumerated().reduce(0.0) { $0 + c[$1.offset * columns + $1.element] }
        XCTAssertEqual(s.cost, sum, accuracy: 1e-12 * max(1, abs(sum)), file: file, line: line)
    }

    func testAgainstBruteForceOnSmallRandomMatrices() throws {
        var rng = SeededRandom(seed: 15)
        var checked = 0
        for rows in 1...6 {
            for columns in rows...7 {
                for trial in 0..<6 {
                    // Half the trials on a few integer values, which makes ties everywhere.
                    let c: [Double] = (0..<(rows * columns)).map { _ in
                        trial % 2 == 0 ? Double(rng.uniform(-3, 5)) : Double(rng.next() % 3)
                    }
                    let s = try LinearAssignment.solve(costs: c, rows: rows, columns: columns)
                    checkValid(s, c, rows: rows, columns: columns)
                    let best = bruteForce(c, rows: rows, columns: columns)
                    XCTAssertEqual(s.cost, best, accuracy: 1e-12 * max(1, abs(best)), "\(rows)x\(columns) trial \(trial)")
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 6 * (7 + 6 + 5 + 4 + 3 + 2))
    }

    struct Fixture: Decodable {
        struct Case: Decodable {
            var name: String
            var rows: Int, columns: Int, offset: Int
            var cost: Double
            var columnOfRow: [Int]
            var grid: [Int]?
        }
        var cases: [Case]
    }

    func testAgainstScipyLinearSumAssignment() throws {
        let meta = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("assignment.json")))
        let raw = try Data(contentsOf: Self.fixtures.appendingPathComponent("assignment-costs.f32"))
        let values: [Float] = raw.withUnsafeBytes { b in (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
        XCTAssertEqual(meta.cases.count, 11)
        for k in meta.cases {
            var c: [Double]
            if let grid = k.grid {
                // Points against cell centres, as the script computes them.
                let (gr, gc) = (grid[0], grid[1])
                c = []
                c.reserveCapacity(k.rows * k.columns)
                for i in 0..<k.rows {
                    let px = Double(values[k.offset + 2 * i]), py = Double(values[k.offset + 2 * i + 1])
                    for r in 0..<gr {
                        for cc in 0..<gc {
                            let dx = px - (Double(cc) + 0.5) / Double(gc), dy = py - (1 - (Double(r) + 0.5) / Double(gr))
                            c.append(dx * dx + dy * dy)
                        }
                    }
                }
            } else {
                c = values[k.offset..<(k.offset + k.rows * k.columns)].map(Double.init)
            }
            let s = try LinearAssignment.solve(costs: c, rows: k.rows, columns: k.columns)
            checkValid(s, c, rows: k.rows, columns: k.columns)
            let scipy = k.columnOfRow.enumerated().reduce(0.0) { $0 + c[$1.offset * k.columns + $1.element] }
            XCTAssertEqual(scipy, k.cost, accuracy: 1e-9 * max(1, abs(k.cost)), "\(k.name): the costs were not rebuilt as scipy had them")
            XCTAssertEqual(s.cost, k.cost, accuracy: 1e-9 * max(1, abs(k.cost)), k.name)
        }
    }

    func testDegenerateInputs() throws {
        XCTAssertEqual(try LinearAssignment.solve(costs: [], rows: 0, columns: 0), .init(columnOfRow: [], cost: 0))
        XCTAssertEqual(try LinearAssignment.solve(costs: [], rows: 0, columns: 5).columnOfRow, [])
        XCTAssertEqual(try LinearAssignment.solve(costs: [7], rows: 1, columns: 1), .init(columnOfRow: [0], cost: 7))
        // One row takes its cheapest column; the first of equal ones is not required, only the cost.
        let one = try LinearAssignment.solve(costs: [4, 2, 9, 2], rows: 1, columns: 4)
        XCTAssertEqual(one.cost, 2)
        XCTAssertTrue([1, 3].contains(one.columnOfRow[0]))
        // All costs equal: any permutation is optimal.
        let flat = try LinearAssignment.solve(costs: [Double](repeating: 1.5, count: 36), rows: 6, columns: 6)
        XCTAssertEqual(flat.cost, 9)
        XCTAssertEqual(Set(flat.columnOfRow).count, 6)
        // Identity is optimal when the diagonal is the only zero.
        var eye = [Double](repeating: 1, count: 100)
        for i in 0..<10 { eye[i * 10 + i] = 0 }
        XCTAssertEqual(try LinearAssignment.solve(costs: eye, rows: 10, columns: 10).columnOfRow, Array(0..<10))
        // Errors name the problem.
        XCTAssertThrowsError(try LinearAssignment.solve(costs: [1, 2], rows: 2, columns: 1)) { e in
            XCTAssertTrue("\(e)".contains("2 rows cannot each get their own column out of 1"), "\(e)")
        }
        XCTAssertThrowsError(try LinearAssignment.solve(costs: [1, 2, 3], rows: 2, columns: 2))
        XCTAssertThrowsError(try LinearAssignment.solve(costs: [1, .nan, 3, 4], rows: 2, columns: 2)) { e in
            XCTAssertTrue("\(e)".contains("row 0, column 1"), "\(e)")
        }
        XCTAssertThrowsError(try LinearAssignment.solve(costs: [1, .infinity], rows: 1, columns: 2))
    }

    /// Points lying exactly on the cell centres land on their own cells at zero cost, however
    /// the points are ordered.
    func testPointsOnTheGridKeepTheirCells() throws {
        let side = 50
        var rng = SeededRandom(seed: 7)
        var order = Array(0..<(side * side))
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let cells = (0..<(side * side)).map { (Double($0 % side) + 0.5, Double($0 / side) + 0.5) }
        var c = [Double](repeating: 0, count: cells.count * cells.count)
        for (i, cell) in order.enumerated() {
            let p = cells[cell]
            for (j, q) in cells.enumerated() { c[i * cells.count + j] = (p.0 - q.0) * (p.0 - q.0) + (p.1 - q.1) * (p.1 - q.1) }
        }
        let s = try LinearAssignment.solve(costs: c, rows: cells.count, columns: cells.count)
        XCTAssertEqual(s.cost, 0)
        XCTAssertEqual(s.columnOfRow, order)
    }
}
