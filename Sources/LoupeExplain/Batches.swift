import LoupeTensor

/// Runs items 0..<`count` in batches of `batch` (`body` gets one batch's range and returns one
/// result per item), the batches on all threads at once (`parallelMap`: each batch on one
/// thread, its convolutions then on one thread too; `Executor` is thread-safe). The batches
/// are cut the same way for every thread count. `progress(done, count)` is called after each
/// batch, one call at a time, from the thread that ran it. Returns the items' results in order.
func inBatches<R>(_ count: Int, batch: Int, progress: ((Int, Int) -> Void)?,
                  _ body: (Range<Int>) throws -> [R]) throws -> [R] {
    let size = max(1, batch)
    let starts = Array(stride(from: 0, to: count, by: size))
    let done = Locked(0)
    return try parallelMap(starts.count, states: Array(repeating: (), count: Threads.count)) { _, i -> [R] in
        let range = starts[i]..<min(starts[i] + size, count)
        let results = try body(range)
        done.mutate { d in
            d += range.count
            progress?(d, count)
        }
        return results
    }.flatMap { $0 }
}
