import Foundation

/// How often each id occurs in a data set: its unigram distribution.
public struct TokenCounts: Sendable, Equatable {
    /// counts[id]: occurrences of `id`.
    public private(set) var counts: [Int]
    public private(set) var total: Int

    public init(counts: [Int]) {
        self.counts = counts
        total = counts.reduce(0, +)
    }

    /// The ids of `tokens`, leaving out `excluded` (the end-of-text id that ends each document of
    /// a prepared folder: document boundaries, not content, and a text file has none).
    public init(_ tokens: TokenStore, excluding excluded: Int32? = nil) {
        var counts: [Int] = [], buffer = [Int32](repeating: 0, count: 1 << 16)
        for start in stride(from: 0, to: tokens.count, by: buffer.count) {
            let n = min(buffer.count, tokens.count - start)
            buffer.withUnsafeMutableBufferPointer { tokens.copy(from: start, count: n, into: $0.baseAddress!) }
            for id in buffer[..<n] where id != excluded {
                let i = Int(id)
                if i >= counts.count { counts += [Int](repeating: 0, count: i + 1 - counts.count) }
                counts[i] += 1
            }
        }
        self.init(counts: counts)
    }

    /// The share of `id`, 0 for an id never seen.
    public func share(_ id: Int) -> Double {
        id < counts.count ? Double(counts[id]) / Double(total) : 0
    }
}

/// Distances between two unigram distributions, for `tessera monitor drift`.
public enum Divergence {
    /// Jensen-Shannon divergence in bits, in [0, 1]: ½ KL(P‖M) + ½ KL(Q‖M), M = ½(P + Q), over
    /// every id either holds. 0 for the same distribution, 1 for disjoint ones; no smoothing is
    /// needed, since M is positive wherever P or Q is.
    public static func jensenShannon(_ p: TokenCounts, _ q: TokenCounts) -> Double {
        precondition(p.total > 0 && q.total > 0, "distributions of \(p.total) and \(q.total) tokens")
        var sum = 0.0
        for id in 0..<max(p.counts.count, q.counts.count) {
            let a = p.share(id), b = q.share(id), m = (a + b) / 2
            if a > 0 { sum += a * log2(a / m) }
            if b > 0 { sum += b * log2(b / m) }
        }
        return min(1, max(0, sum / 2))
    }

    /// The bins of the population stability index: the reference's `top` most frequent ids (ties
    /// by the smaller id), then one bin for every other id, those the reference lacks included.
    public static func stabilityBins(reference: TokenCounts, top: Int) -> [Int] {
        let seen = reference.counts.indices.filter { reference.counts[$0] > 0 }
        return Array(seen.sorted { (reference.counts[$0], $1) > (reference.counts[$1], $0) }.prefix(top))
    }

    /// Population stability index, Σ (c − r) · ln(c / r) over the bins (`stabilityBins`), r and c
    /// the reference's and current's shares of a bin; a share of 0 counts as `epsilon`, so a bin one
    /// side lacks adds a large but finite term. Rules of thumb: under 0.1 no real change, 0.1 to
    /// 0.25 moderate, over 0.25 a shift.
    public static func populationStability(reference: TokenCounts, current: TokenCounts, top: Int = 50,
                                           epsilon: Double = 1e-4) -> Double {
        precondition(reference.total > 0 && current.total > 0, "distributions of \(reference.total) and \(current.total) tokens")
        let bins = stabilityBins(reference: reference, top: top)
        var r = bins.map(reference.share), c = bins.map(current.share)
        r.append(max(0, 1 - r.reduce(0, +)))
        c.append(max(0, 1 - c.reduce(0, +)))
        return zip(r, c).reduce(0) { sum, pair in
            let (a, b) = (max(pair.0, epsilon), max(pair.1, epsilon))
            return sum + (b - a) * log(b / a)
        }
    }
}
