/// The strongest activations of each channel of a layer over a set of images, found while the
/// activations stream past, batch by batch: the "maximally activating patches" of Zeiler and
/// Fergus ("Visualizing and Understanding Convolutional Networks", ECCV 2014, section 2.1,
/// "the top 9 activations" of a feature map over the validation set).
///
/// Input: activations `[N, C, H, W]` (or `[N, H, W, C]`), item `i` of a batch being image
/// `firstItem + i` of the set. Per image and channel only the strongest position counts (at
/// most one entry per image and channel), and per channel only the `k` best entries are kept,
/// in a bounded min-heap whose root is the weakest kept entry: memory is `C · k` entries
/// whatever the number of images, and each batch costs `O(N · C · H · W + N · C · log k)`.
///
/// Order (deterministic, whatever the batch size and the order the batches come in): an entry
/// is stronger when its value is larger, then when its image comes earlier, then when its `y`
/// is smaller, then its `x`. Within an image the strongest position of a channel follows the
/// same rule (the first maximum in row-major order). NaN activations are ignored; a channel
/// that is NaN everywhere has no entries.
public struct TopActivations: Sendable {
    /// One activation: `value` at position (`y`, `x`) of image `item` (0-based indices).
    public struct Entry: Sendable, Equatable, Hashable {
        public var value: Float
        public var item: Int
        public var y: Int
        public var x: Int
        public init(value: Float, item: Int, y: Int, x: Int) {
            self.value = value
            self.item = item
            self.y = y
            self.x = x
        }

        /// The order of the type's documentation: true when `self` ranks before `other`.
        @inlinable
        public func isStronger(than other: Entry) -> Bool {
            if value != other.value { return value > other.value }
            if item != other.item { return item < other.item }
            if y != other.y { return y < other.y }
            return x < other.x
        }
    }

    public enum Layout: Sendable { case channelsFirst, channelsLast }

    public let channels: Int
    public let k: Int
    /// Per channel a min-heap (weakest entry at index 0) of at most `k` entries.
    private var heaps: [[Entry]]

    /// `k` entries per channel for a layer of `channels` channels (both positive).
    public init(channels: Int, k: Int) {
        precondition(channels > 0 && k > 0, "TopActivations needs channels > 0 and k > 0, got \(channels), \(k)")
        self.channels = channels
        self.k = k
        heaps = [[Entry]](repeating: [], count: channels)
        for c in 0..<channels { heaps[c].reserveCapacity(k) }
    }

    /// Takes a batch of `n` images' activations, `n × channels × height × width` values in
    /// `layout`; batch item `i` is image `firstItem + i`.
    public mutating func add(_ values: UnsafeBufferPointer<Float>, count n: Int, height: Int, width: Int,
                             layout: Layout = .channelsFirst, firstItem: Int) {
        let plane = height * width
        precondition(values.count == n * channels * plane,
                     "TopActivations.add: \(values.count) values for \(n) x \(channels) x \(height) x \(width)")
        guard plane > 0 else { return }
        let base = values.baseAddress!
        for i in 0..<n {
            let image = base + i * channels * plane
            switch layout {
            case .channelsFirst:
                for c in 0..<channels {
                    let p = image + c * plane
                    var best = -1
                    var bestValue = -Float.infinity
                    // The first maximum in row-major order; NaN never compares greater.
                    for j in 0..<plane where p[j] > bestValue || (best < 0 && p[j] == bestValue) {
                        best = j
                        bestValue = p[j]
                    }
                    if best >= 0 { offer(Entry(value: bestValue, item: firstItem + i, y: best / width, x: best % width), channel: c) }
                }
            case .channelsLast:
                var best = [Int](repeating: -1, count: channels)
                var bestValue = [Float](repeating: -.infinity, count: channels)
                for j in 0..<plane {
                    let p = image + j * channels
                    for c in 0..<channels where p[c] > bestValue[c] || (best[c] < 0 && p[c] == bestValue[c]) {
                        best[c] = j
                        bestValue[c] = p[c]
                    }
                }
                for c in 0..<channels where best[c] >= 0 {
                    offer(Entry(value: bestValue[c], item: firstItem + i, y: best[c] / width, x: best[c] % width), channel: c)
                }
            }
        }
    }

    /// The same for an array.
    public mutating func add(_ values: [Float], count n: Int, height: Int, width: Int,
                             layout: Layout = .channelsFirst, firstItem: Int) {
        values.withUnsafeBufferPointer { add($0, count: n, height: height, width: width, layout: layout, firstItem: firstItem) }
    }

    /// Considers `e` for channel `c`'s heap: kept when the heap has room or `e` is stronger
    /// than its weakest entry, which it then replaces.
    public mutating func offer(_ e: Entry, channel c: Int) {
        precondition(c >= 0 && c < channels, "channel \(c) of \(channels)")
        if heaps[c].count < k {
            heaps[c].append(e)
            siftUp(c, heaps[c].count - 1)
        } else if e.isStronger(than: heaps[c][0]) {
            heaps[c][0] = e
            siftDown(c, 0)
        }
    }

    /// Channel `c`'s entries, strongest first (at most `k`; fewer when fewer images were seen).
    public func entries(channel c: Int) -> [Entry] {
        heaps[c].sorted { $0.isStronger(than: $1) }
    }

    /// The channel's strongest entry: its maximum over the set.
    public func strongest(channel c: Int) -> Entry? {
        heaps[c].min { $0.isStronger(than: $1) }
    }

    /// The `count` channels whose maximum over the set is largest, in decreasing order of it
    /// (ties: the smaller channel index first; channels without entries last).
    public func strongestChannels(_ count: Int) -> [Int] {
        let best = (0..<channels).map { strongest(channel: $0)?.value }
        let order = (0..<channels).sorted { a, b in
            switch (best[a], best[b]) {
            case let (x?, y?): return x != y ? x > y : a < b
            case (.some, .none): return true
            case (.none, .some): return false
            case (.none, .none): return a < b
            }
        }
        return Array(order.prefix(max(0, count)))
    }

    // MARK: - Heap (the weakest entry at the root)

    private mutating func siftUp(_ c: Int, _ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard heaps[c][parent].isStronger(than: heaps[c][i]) else { return }
            heaps[c].swapAt(parent, i)
            i = parent
        }
    }

    private mutating func siftDown(_ c: Int, _ start: Int) {
        var i = start
        let n = heaps[c].count
        while true {
            let l = 2 * i + 1, r = l + 1
            var weakest = i
            if l < n, heaps[c][weakest].isStronger(than: heaps[c][l]) { weakest = l }
            if r < n, heaps[c][weakest].isStronger(than: heaps[c][r]) { weakest = r }
            if weakest == i { return }
            heaps[c].swapAt(i, weakest)
            i = weakest
        }
    }

    /// The heap property of every channel (for tests): no entry is weaker than its parent.
    func checkInvariants() -> Bool {
        heaps.allSatisfy { h in
            h.count <= k && h.indices.dropFirst().allSatisfy { !h[($0 - 1) / 2].isStronger(than: h[$0]) }
        }
    }
}
