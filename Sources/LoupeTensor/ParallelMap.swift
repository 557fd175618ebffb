import Foundation

/// `body(state, i)` for i in 0..<n, on up to `states.count` threads (at most `Threads.count`),
/// each thread with its own element of `states` (an object that is not thread-safe: a cache,
/// a buffer); results in index order. Threads take the next index as they finish one, so
/// uneven calls balance. Calls run inside a `parallelFor` body: oneDNN's kernels and `sgemm`
/// then use one thread each. The first error thrown is rethrown once the running calls have
/// ended; the indices not started by then are skipped.
public func parallelMap<State, R>(_ n: Int, states: [State], _ body: (State, Int) throws -> R) throws -> [R] {
    precondition(!states.isEmpty, "parallelMap needs at least one state")
    // On one thread too the calls run as a `parallelFor` body, so that `sgemm` cuts its
    // products the same way and the results do not depend on the thread count.
    let t = max(1, min(states.count, Threads.count, n))
    let next = Locked(0)
    let failure = Locked<(any Error)?>(nil)
    let results = Locked([R?](repeating: nil, count: n))
    parallelFor(t) { w in
        while failure.value == nil {
            let i = next.mutate { i in defer { i += 1 }; return i }
            guard i < n else { return }
            do {
                let r = try body(states[w], i)
                results.mutate { $0[i] = r }
            } catch {
                failure.mutate { if $0 == nil { $0 = error } }
            }
        }
    }
    if let e = failure.value { throw e }
    return results.value.map { $0! }
}
