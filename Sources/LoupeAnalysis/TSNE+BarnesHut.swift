import Foundation
import LoupeTensor

/// t-SNE's repulsive forces by Barnes-Hut (van der Maaten, "Accelerating t-SNE using
/// tree-based algorithms", JMLR 15, 2014, §4.2; Barnes and Hut, Nature 324, 1986), as
/// openTSNE's `quad_tree.pyx` and `estimate_negative_gradient_bh` compute them.
///
/// A quadtree over the embedding `y` (N × 2, float64): the root a square of side the larger
/// extent, centred on the bounding box; a leaf holds one point, or several closer than 1e-6
/// on both axes. For point i, a cell whose side / distance to its centre of mass is below
/// `theta` (or a leaf) counts as its points at their centre of mass: qᵢ꜀ = 1 / (1 + d² + ε),
/// Z += m·qᵢ꜀, Fᵢ -= m·qᵢ꜀² (yᵢ - c). A leaf at yᵢ itself (within ε on both axes) is skipped;
/// a leaf that also holds near-duplicates of yᵢ is not, as in openTSNE. Adds -F / Z
/// to `grad` and returns Z = Σᵢ≠ⱼ qᵢⱼ (approximated). Points run in parallel; Z sums per-point
/// values in point order.
func tsneBarnesHutRepulsion(_ y: [Double], theta: Double, into grad: inout [Double]) -> Double {
    let n = y.count / 2
    let tree = QuadTree(y)
    var force = [Double](repeating: 0, count: 2 * n)
    var zi = [Double](repeating: 0, count: n)
    let theta2 = theta * theta
    tree.cells.withUnsafeBufferPointer { np in
        y.withUnsafeBufferPointer { yp in
            force.withUnsafeMutableBufferPointer { fp in
                zi.withUnsafeMutableBufferPointer { zp in
                    let cells = np.baseAddress!, yb = yp.baseAddress!, fb = fp.baseAddress!, zb = zp.baseAddress!
                    forEachChunk(n, chunk: 256) { rows in
                        let stack = UnsafeMutablePointer<Int32>.allocate(capacity: 4 * tree.depth + 8)
                        defer { stack.deallocate() }
                        for i in rows {
                            let p0 = yb[2 * i], p1 = yb[2 * i + 1]
                            var f0 = 0.0, f1 = 0.0, z = 0.0
                            var top = 1
                            stack[0] = 0
                            while top > 0 {
                                top -= 1
                                let cell = cells[Int(stack[top])]
                                if cell.count == 0 { continue }
                                let isLeaf = cell.firstChild < 0
                                let c0 = cell.com0 - p0, c1 = cell.com1 - p1
                                // openTSNE's `is_close(node, point, EPSILON)`: no self-interaction. Not
                                // the 1e-6 of the tree's merging: a leaf of near-duplicates counts, its
                                // own point included (an earlier version skipped it, and its gradient
                                // on an embedding at the initial scale differed from openTSNE's by 1e-3).
                                if isLeaf && abs(c0) < tsneEpsilon && abs(c1) < tsneEpsilon { continue }
                                let dist = tsneEpsilon + c0 * c0 + c1 * c1
                                // openTSNE's test length / √dist < θ, squared.
                                if isLeaf || cell.lengthSquared < theta2 * dist {
                                    let q = 1 / (1 + dist)
                                    let m = Double(cell.count)
                                    z += m * q
                                    let mq2 = m * q * q
                                    f0 += mq2 * c0
                                    f1 += mq2 * c1
                                } else {
                                    // Children pushed in reverse so they are visited 0, 1, 2, 3.
                                    let c = cell.firstChild
                                    stack[top] = c + 3; stack[top + 1] = c + 2
                                    stack[top + 2] = c + 1; stack[top + 3] = c
                                    top += 4
                                }
                            }
                            fb[2 * i] = f0
                            fb[2 * i + 1] = f1
                            zb[i] = z
                        }
                    }
                }
            }
        }
    }
    var z = 0.0
    for v in zi { z += v }
    let scale = 1 / (z + tsneEpsilon)
    for j in 0..<(2 * n) { grad[j] += force[j] * scale }
    return z
}

/// A point quadtree in flat storage (children of a cell are 4 consecutive cells, child index
/// bit 0 for x > centre, bit 1 for y > centre), built by inserting the points in order as
/// openTSNE's `QuadTree` does. `cells` holds what the traversal reads (32 bytes a cell);
/// the geometry needed only while building lives apart.
struct QuadTree {
    struct Cell {
        var com0 = 0.0, com1 = 0.0
        /// Side of the cell, squared.
        var lengthSquared: Double
        var count: Int32 = 0
        /// Index of the first of 4 children, -1 for a leaf.
        var firstChild: Int32 = -1
    }

    var cells: [Cell]
    /// Centre and side of each cell.
    private var centre0: [Double], centre1: [Double], length: [Double]
    /// Levels below the root (bounds the traversal stack: 3 per level + 4).
    private(set) var depth = 0

    init(_ y: [Double]) {
        let n = y.count / 2
        var lo0 = Double.infinity, hi0 = -Double.infinity, lo1 = Double.infinity, hi1 = -Double.infinity
        for i in 0..<n {
            lo0 = min(lo0, y[2 * i]); hi0 = max(hi0, y[2 * i])
            lo1 = min(lo1, y[2 * i + 1]); hi1 = max(hi1, y[2 * i + 1])
        }
        let side = max(hi0 - lo0, hi1 - lo1)
        cells = [Cell(lengthSquared: side * side)]
        centre0 = [(lo0 + hi0) / 2]
        centre1 = [(lo1 + hi1) / 2]
        length = [side]
        cells.reserveCapacity(4 * n)
        for i in 0..<n { insert(y[2 * i], y[2 * i + 1]) }
    }

    @inline(__always)
    private func childIndex(_ k: Int, _ p0: Double, _ p1: Double) -> Int {
        (p0 > centre0[k] ? 1 : 0) | (p1 > centre1[k] ? 2 : 0)
    }

    @inline(__always)
    private mutating func addMass(_ k: Int, _ p0: Double, _ p1: Double) {
        let c = Double(cells[k].count)
        cells[k].com0 = (cells[k].com0 * c + p0) / (c + 1)
        cells[k].com1 = (cells[k].com1 * c + p1) / (c + 1)
        cells[k].count += 1
    }

    private mutating func insert(_ p0: Double, _ p1: Double) {
        var k = 0, level = 0
        while true {
            let cell = cells[k]
            let isLeaf = cell.firstChild < 0
            if (isLeaf && cell.count == 0) || (abs(cell.com0 - p0) < 1e-6 && abs(cell.com1 - p1) < 1e-6) {
                addMass(k, p0, p1)
                depth = max(depth, level)
                return
            }
            if isLeaf {
                // Split: the leaf's points (all at its centre of mass) move to one child.
                let half = length[k] / 2
                let first = cells.count
                for c in 0..<4 {
                    cells.append(Cell(lengthSquared: half * half))
                    centre0.append(centre0[k] + (c & 1 != 0 ? half / 2 : -half / 2))
                    centre1.append(centre1[k] + (c & 2 != 0 ? half / 2 : -half / 2))
                    length.append(half)
                }
                cells[k].firstChild = Int32(first)
                let c = first + childIndex(k, cell.com0, cell.com1)
                // As openTSNE's `split_node`: they move as a single point, so a leaf of
                // near-duplicates (within 1e-6, common in the first iterations, when the
                // embedding spans about 1e-4) keeps a count of 1 below it. Carrying the whole
                // count along instead changed the optimisation's path: over seeds 0-2 at 5,000
                // points the final KL was 0.002-0.004 higher than with openTSNE's rule.
                addMass(c, cell.com0, cell.com1)
            }
            addMass(k, p0, p1)
            k = Int(cells[k].firstChild) + childIndex(k, p0, p1)
            level += 1
        }
    }
}
