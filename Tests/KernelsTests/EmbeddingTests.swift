import Kernels
import Testing

@Suite struct EmbeddingTests {
    let B = 2, T = 5, C = 8, V = 10

    /// tokens (B, T) with a repeated token, wte (V, C), wpe (T, C), output weights w (B, T, C).
    func inputs(seed: UInt64) -> (tokens: Buffer<Int32>, wte: Tensor, wpe: Tensor, w: Tensor) {
        var rng = TestRNG(seed: seed)
        var ids = (0..<(B * T)).map { _ in Int32(rng.below(V)) }
        ids[7] = ids[1]  // one token twice, in different sequences and positions
        ids[2] = 8  // at least one token in each shard used below
        ids[3] = 5
        ids[4] = 0
        return (Buffer(ids), Tensor(count: V * C, in: -1...1, rng: &rng), Tensor(count: T * C, in: -1...1, rng: &rng),
                Tensor(count: B * T * C, in: -1...1, rng: &rng))
    }

    @Test func forwardAddsTokenAndPositionRows() {
        let (tokens, wte, wpe, _) = inputs(seed: 1)
        let out = Tensor(count: B * T * C)
        embeddingForward(out.pointer, tokens.const, wte.const, wpe.const, B: B, T: T, C: C)
        for b in 0..<B {
            for t in 0..<T {
                let token = Int(tokens[b * T + t])
                for c in 0..<C {
                    #expect(out[(b * T + t) * C + c] == wte[token * C + c] + wpe[t * C + c])
                }
            }
        }
    }

    @Test func backwardMatchesFiniteDifferencesForBothTables() {
        let (tokens, wte, wpe, w) = inputs(seed: 2)
        let out = Tensor(count: B * T * C)
        func loss() -> Double {
            embeddingForward(out.pointer, tokens.const, wte.const, wpe.const, B: B, T: T, C: C)
            return weightedSum(out.const, w)
        }
        let dwte = Tensor(count: V * C), dwpe = Tensor(count: T * C)
        embeddingBackward(dwte.pointer, dwpe.pointer, w.const, tokens.const, B: B, T: T, C: C)
        expectGradient("dwte", of: wte, analytic: dwte, loss: loss)
        expectGradient("dwpe", of: wpe, analytic: dwpe, loss: loss)
    }

    /// Vocabulary shards [0, 4) (with wpe), [4, 7) and [7, 10) (without): their outputs add up to the
    /// unsharded output, and each shard's gradient is its rows of the unsharded gradient.
    @Test func vocabularyShardsSumToTheWholeTable() {
        let (tokens, wte, wpe, w) = inputs(seed: 3)
        let shards = [(start: 0, count: 4), (start: 4, count: 3), (start: 7, count: 3)]
        let whole = Tensor(count: B * T * C), sum = Tensor(count: B * T * C), part = Tensor(count: B * T * C)
        embeddingForward(whole.pointer, tokens.const, wte.const, wpe.const, B: B, T: T, C: C)
        let dwteWhole = Tensor(count: V * C), dwteShards = Tensor(count: V * C)
        let dwpeWhole = Tensor(count: T * C), dwpeShard = Tensor(count: T * C)
        embeddingBackward(dwteWhole.pointer, dwpeWhole.pointer, w.const, tokens.const, B: B, T: T, C: C)
        for (k, shard) in shards.enumerated() {
            let position = k == 0 ? wpe.const : nil
            embeddingForward(part.pointer, tokens.const, wte.const + shard.start * C, position, B: B, T: T, C: C,
                             vocabStart: shard.start, vocabCount: shard.count)
            for i in 0..<sum.count { sum[i] += part[i] }
            // A token outside the shard contributes nothing: the row is wpe[t], or zero without wpe.
            for b in 0..<B {
                for t in 0..<T where !(shard.start..<shard.start + shard.count).contains(Int(tokens[b * T + t])) {
                    for c in 0..<C {
                        #expect(part[(b * T + t) * C + c] == (k == 0 ? wpe[t * C + c] : 0))
                    }
                }
            }
            embeddingBackward(dwteShards.pointer + shard.start * C, k == 0 ? dwpeShard.pointer : nil, w.const,
                              tokens.const, B: B, T: T, C: C, vocabStart: shard.start, vocabCount: shard.count)
        }
        #expect(maxAbsDifference(sum.values, whole.values) < 1e-6)
        #expect(maxAbsDifference(dwteShards.values, dwteWhole.values) < 1e-6)
        #expect(dwpeShard.values == dwpeWhole.values)
    }

    @Test func shardBackwardMatchesFiniteDifferences() {
        let (tokens, wte, wpe, w) = inputs(seed: 4)
        let start = 4, count = 3
        let shard = Tensor(Array(wte.values[(start * C)..<((start + count) * C)]))
        let out = Tensor(count: B * T * C)
        func loss() -> Double {
            embeddingForward(out.pointer, tokens.const, shard.const, wpe.const, B: B, T: T, C: C,
                             vocabStart: start, vocabCount: count)
            return weightedSum(out.const, w)
        }
        let dshard = Tensor(count: count * C), dwpe = Tensor(count: T * C)
        embeddingBackward(dshard.pointer, dwpe.pointer, w.const, tokens.const, B: B, T: T, C: C,
                          vocabStart: start, vocabCount: count)
        expectGradient("dwte shard", of: shard, analytic: dshard, loss: loss)
        expectGradient("dwpe", of: wpe, analytic: dwpe, loss: loss)
    }

    @Test func gradientsAccumulate() {
        let (tokens, _, _, w) = inputs(seed: 5)
        let once = (dwte: Tensor(count: V * C), dwpe: Tensor(count: T * C))
        let twice = (dwte: Tensor(count: V * C), dwpe: Tensor(count: T * C))
        embeddingBackward(once.dwte.pointer, once.dwpe.pointer, w.const, tokens.const, B: B, T: T, C: C)
        for _ in 0..<2 {
            embeddingBackward(twice.dwte.pointer, twice.dwpe.pointer, w.const, tokens.const, B: B, T: T, C: C)
        }
        #expect(maxAbsDifference(twice.dwte.values, once.dwte.values.map { 2 * $0 }) < 1e-6)
        #expect(maxAbsDifference(twice.dwpe.values, once.dwpe.values.map { 2 * $0 }) < 1e-6)
    }
}
