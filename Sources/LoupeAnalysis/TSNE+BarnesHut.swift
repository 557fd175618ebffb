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
/// Z += m·qᵢ꜀, Fᵢ -= m·qᵢ꜀² (yᵢ - c). A leaf at yᵢ itself (within ε) is skipped. Adds -F / Z
/// to `grad` and returns Z = Σᵢ≠ⱼ qᵢⱼ (approximated). Points run in parallel; Z sums per-point
/// values in point order.
func tsneBarnesHutRepulsion(_ y: [Double], theta: Double, into grad: inout [Double]) -> Double {
    let n = y.count / 2
    let tree = QuadTree(y)
    var force = [Double](repeating: 0, count: 2 * n)
    var zi = [Double](repeating: 0, count: n)
    tree.nodes.withUnsafeBufferPointer { np in
        y.withUnsafeBufferPointer { yp in
            force.withUnsafeMutableBufferPointer { fp in
                zi.withUnsafeMutableBufferPointer { zp in
                    let nodes = np.baseAddress!, yb = yp.baseAddress!, fb = fp.baseAddress!, zb = zp.baseAddress!
                    forEachChunk(n, chunk: 256) { rows in
                        var stack = [Int32](repeating: 0, count: 4 * 64 + 8)
                        for i in rows {
                            let p0 = yb[2 * i], p1 = yb[2 * i + 1]
                            var f0 = 0.0, f1 = 0.0, z = 0.0
                            var top = 1
                            stack[0] = 0
                            while top > 0 {
                                top -= 1
                                let node = nodes[Int(stack[top])]
                                if node.count == 0 { continue }
                                let isLeaf = node.firstChild < 0
                                let c0 = node.com0 - p0, c1 = node.com1 - p1
                                if isLeaf && abs(c0) < tsneEpsilon && abs(c1) < tsneEpsilon { continue }
                                let dist = tsneEpsilon + c0 * c0 + c1 * c1
                                if isLeaf || node.length / dist.squareRoot() < theta {
                                    let q = 1 / (1 + dist)
                                    let m = Double(node.count)
                                    z += m * q
                                    let mq2 = m * q * q
                                    f0 -= mq2 * (p0 - node.com0)
                                    f1 -= mq2 * (p1 - node.com1)
                                } else {
                                    // Children pushed in reverse so they are visited 0, 1, 2, 3.
                                    let c = Int(node.firstChild)
                                    if top + 4 > stack.count { stack += [Int32](repeating: 0, count: stack.count) }
                                    stack[top] = Int32(c + 3); stack[top + 1] = Int32(c + 2)
                                    stack[top + 2] = Int32(c + 1); stack[top + 3] = Int32(c)
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

/// A point quadtree in flat storage (children of a node are 4 consecutive nodes, child index
/// bit 0 for x > centre, bit 1 for y > centre), built by inserting the points in order as
/// openTSNE's `QuadTree` does.
struct QuadTree {
    struct Node {
        var center0: Double, center1: Double
        /// Side of the cell.
        var length: Double
        var com0 = 0.0, com1 = 0.0
        var count = 0
        /// Index of the first of 4 children, -1 for a leaf.
        var firstChild: Int32 = -1
    }

    var nodes: [Node]

    init(_ y: [Double]) {
        let n = y.count / 2
        var lo0 = Double.infinity, hi0 = -Double.infinity, lo1 = Double.infinity, hi1 = -Double.infinity
        for i in 0..<n {
            lo0 = min(lo0, y[2 * i]); hi0 = max(hi0, y[2 * i])
            lo1 = min(lo1, y[2 * i + 1]); hi1 = max(hi1, y[2 * i + 1])
        }
        nodes = [Node(center0: (lo0 + hi0) / 2, center1: (lo1 + hi1) / 2, length: max(hi0 - lo0, hi1 - lo1))]
        nodes.reserveCapacity(4 * n)
        for i in 0..<n { insert(y[2 * i], y[2 * i + 1]) }
    }

    @inline(__always)
    private static func childIndex(_ node: Node, _ p0: Double, _ p1: Double) -> Int {
        (p0 > node.center0 ? 1 : 0) | (p1 > node.center1 ? 2 : 0)
    }

    @inline(__always)
    private mutating func addMass(_ k: Int, _ p0: Double, _ p1: Double) {
        let c = Double(nodes[k].count)
        nodes[k].com0 = (nodes[k].com0 * c + p0) / (c + 1)
        nodes[k].com1 = (nodes[k].com1 * c + p1) / (c + 1)
        nodes[k].count += 1
    }

    private mutating func insert(_ p0: Double, _ p1: Double) {
        var k = 0
        while true {
            let node = nodes[k]
            let isLeaf = node.firstChild < 0
            if (isLeaf && node.count == 0) || (abs(node.com0 - p0) < 1e-6 && abs(node.com1 - p1) < 1e-6) {
                addMass(k, p0, p1)
                return
            }
            if isLeaf {
                // Split: the leaf's points (all at its centre of mass) move to one child.
                let half = node.length / 2
                let first = nodes.count
                for c in 0..<4 {
                    nodes.append(Node(center0: node.center0 + (c & 1 != 0 ? half / 2 : -half / 2),
                                      center1: node.center1 + (c & 2 != 0 ? half / 2 : -half / 2),
                                      length: half))
                }
                nodes[k].firstChild = Int32(first)
                let c = first + QuadTree.childIndex(node, node.com0, node.com1)
                // All of them (openTSNE's `split_node` moves them as a single point, so a leaf
                // of near-duplicates would lose mass below it; here the count moves along).
                addMass(c, node.com0, node.com1)
                nodes[c].count = node.count
            }
            addMass(k, p0, p1)
            k = Int(nodes[k].firstChild) + QuadTree.childIndex(nodes[k], p0, p1)
        }
    }
}
