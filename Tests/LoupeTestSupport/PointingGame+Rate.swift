import Foundation
import LoupeExplain

extension PointingGame {
    /// The share of `items` for which `hit` holds; prints it, with the misses, under `what`.
    public static func rate<T>(_ what: String, _ items: [T], name: (T) -> String, _ hit: (T) throws -> Bool) rethrows -> Double {
        var hits = 0, misses: [String] = []
        for s in items {
            if try hit(s) { hits += 1 } else { misses.append(name(s)) }
        }
        let r = Double(hits) / Double(items.count)
        print(String(format: "  %@: %d/%d = %.1f %%", what, hits, items.count, 100 * r)
              + (misses.isEmpty ? "" : "; misses: " + misses.prefix(12).joined(separator: ", ")))
        return r
    }
}
