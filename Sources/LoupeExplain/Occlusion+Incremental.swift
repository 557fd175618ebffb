import LoupeGraph
import LoupeTensor

/// Occlusion by incremental inference: Nakandala, Kumar and Papakonstantinou, "Incremental
/// and Approximate Inference for Faster Occlusion-based Deep CNN Explanations", SIGMOD 2019.
///
/// The image's activations are computed once; each batch of occluded copies recomputes only
/// the projective field of its windows (`IncrementalInference`), the rest of every tensor
/// being the image's. Exact: the drops equal the plain method's up to the summation order.
///
/// Approximate inference (section 4) adds two options (`Occlusion.Approximation`):
/// - the projective-field threshold τ cuts every changed region to at most ⌈τ·n⌉ positions
///   per axis: changes further out are ignored;
/// - adaptive drill-down runs first a coarse grid (every k-th window per axis, and the last
///   one), interpolates the drops of the others bilinearly over the grid, then runs the
///   fraction r of them with the highest interpolated drop; the rest keep the interpolation.
extension Occlusion {
    static func incrementalDrops(_ model: ExplainableModel, _ x: Tensor, _ fill: Tensor, _ grid: Grid, batch: Int,
                                 approximation a: Approximation?, progress: ((Int, Int) -> Void)?,
                                 drop: ([Float]) -> Double) throws -> [Double] {
        let inference = try IncrementalInference(executor: model.executor, input: model.inputName,
                                                 output: model.logitsName, image: x)
        let field = try inference.field(changes: grid.regions, threshold: a?.threshold ?? 1)
        let k = a?.drillDownStride ?? 1
        // Stage 1: every window, or the coarse grid.
        func coarse(_ i: Int, _ n: Int) -> Bool { i % k == 0 || i == n - 1 }
        let first = (0..<grid.regions.count).filter { coarse($0 / grid.nx, grid.ny) && coarse($0 % grid.nx, grid.nx) }
        var total = first.count
        if k > 1, let a { total += Int((Double(grid.regions.count - first.count) * a.drillDownFraction).rounded()) }
        // One runner per thread, each taking whole batches: the batches are the same whatever
        // the thread count, and so are the drops.
        let batches = (grid.regions.count + batch - 1) / batch
        let runners = [inference] + (1..<max(1, min(Threads.count, batches))).map { _ in inference.sibling() }
        let done = Locked(0)
        func run(_ windows: [Int]) throws -> [Double] {
            let chunks = stride(from: 0, to: windows.count, by: batch).map { Array(windows[$0..<min($0 + batch, windows.count)]) }
            return try parallelMap(chunks.count, states: runners) { runner, i -> [Double] in
                let chunk = chunks[i]
                let l = try runner.run(field, indices: chunk, replacement: fill)
                let c = l.shape.last!
                let drops = (0..<chunk.count).map { b in drop(Array(l.floats[(b * c)..<((b + 1) * c)])) }
                done.mutate { d in
                    d += chunk.count
                    progress?(d, total)
                }
                return drops
            }.flatMap { $0 }
        }
        var drops = [Double](repeating: 0, count: grid.regions.count)
        for (i, d) in zip(first, try run(first)) { drops[i] = d }
        guard k > 1, let a else { return drops }

        // Stage 2: interpolate the rest over the coarse grid, then drill down.
        let rows = (0..<grid.ny).filter { coarse($0, grid.ny) }, cols = (0..<grid.nx).filter { coarse($0, grid.nx) }
        func bracket(_ i: Int, _ axis: [Int]) -> (Int, Int, Double) {
            guard let j = axis.firstIndex(where: { $0 >= i }) else { return (axis.last!, axis.last!, 0) }
            if axis[j] == i || j == 0 { return (axis[j], axis[j], 0) }
            return (axis[j - 1], axis[j], Double(i - axis[j - 1]) / Double(axis[j] - axis[j - 1]))
        }
        let isCoarse = Set(first)
        var rest: [(Int, Double)] = []
        for i in 0..<grid.regions.count where !isCoarse.contains(i) {
            let (y0, y1, ty) = bracket(i / grid.nx, rows), (x0, x1, tx) = bracket(i % grid.nx, cols)
            func d(_ y: Int, _ x: Int) -> Double { drops[y * grid.nx + x] }
            let v = (1 - ty) * ((1 - tx) * d(y0, x0) + tx * d(y0, x1)) + ty * ((1 - tx) * d(y1, x0) + tx * d(y1, x1))
            drops[i] = v
            rest.append((i, v))
        }
        let n = Int((Double(rest.count) * a.drillDownFraction).rounded())
        let chosen = rest.sorted { $0.1 > $1.1 }.prefix(n).map(\.0).sorted()
        for (i, d) in zip(chosen, try run(chosen)) { drops[i] = d }
        return drops
    }
}
