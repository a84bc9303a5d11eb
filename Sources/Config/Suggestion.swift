/// "Did you mean ...?" for unknown keys, sections and alarm metrics: the nearest known name by edit
/// distance, or a known key with the same name in another section (`model.seed` → `run.seed`).
public enum Suggestion {
    /// The closest candidate, or nil when none is close enough to be a plausible typo.
    public static func nearest(to name: String, in candidates: [String]) -> String? {
        let leaf = name.split(separator: ".").last.map(String.init) ?? name
        if let moved = candidates.first(where: { $0.split(separator: ".").last.map(String.init) == leaf }) {
            return moved
        }
        let limit = max(2, name.count / 4)
        let scored = candidates.map { (candidate: $0, distance: distance(name, $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= limit else { return nil }
        return best.candidate
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}
