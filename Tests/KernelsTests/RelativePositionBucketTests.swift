import Foundation
import Kernels
import Testing

/// T5's relative position buckets against Hugging Face transformers' `_relative_position_bucket`.
@Suite struct RelativePositionBucketTests {
    /// Relative positions (key − query) of the table below: the exact and logarithmic ranges'
    /// edges on both sides for 32 buckets and maxDistance 128 (T5's defaults).
    static let positions = [-1000, -200, -128, -127, -100, -64, -63, -33, -32, -31, -20, -17, -16, -15, -12, -11,
                            -9, -8, -7, -1, 0, 1, 7, 8, 9, 11, 12, 15, 16, 17, 31, 32, 33, 63, 64, 127, 128, 200, 1000]
    // Generated with transformers 5.25.0 and torch 2.13.0 (CPU) by
    //   T5Attention._relative_position_bucket(torch.tensor(positions), bidirectional=…,
    //                                         num_buckets=32, max_distance=128).tolist()
    // and checked by hand against the formula at −16 (8 + ⌊8·log 2 / log 16⌋ = 10), −15 (9), 16
    // (16 + 10), −32 causal (16 + ⌊16·log 2 / log 8⌋ = 21), −100 causal (16 + ⌊14.1⌋ = 30), ±128 (last).
    static let bidirectional = [15, 15, 15, 15, 15, 14, 13, 12, 12, 11, 10, 10, 10, 9, 9, 8, 8, 8, 7, 1, 0, 17, 23, 24,
                                24, 24, 25, 25, 26, 26, 27, 28, 28, 29, 30, 31, 31, 31, 31]
    static let causal = [31, 31, 31, 31, 30, 26, 26, 21, 21, 21, 17, 16, 16, 15, 12, 11, 9, 8, 7, 1, 0, 0, 0, 0, 0, 0, 0,
                         0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

    @Test func matchesTransformersForT5Defaults() {
        for (k, r) in Self.positions.enumerated() {
            #expect(t5RelativeBucket(relativePosition: r, bidirectional: true, buckets: 32, maxDistance: 128)
                    == Self.bidirectional[k], "bidirectional, relative position \(r)")
            #expect(t5RelativeBucket(relativePosition: r, bidirectional: false, buckets: 32, maxDistance: 128)
                    == Self.causal[k], "causal, relative position \(r)")
        }
    }

    /// Small tables (same generation), where every bucket is reached within ±20.
    @Test func matchesTransformersForEightBuckets() {
        let bidirectional: KeyValuePairs = [-20: 3, -16: 3, -8: 3, -5: 2, -4: 2, -3: 2, -2: 2, -1: 1, 0: 0, 1: 5, 2: 6,
                                            3: 6, 4: 6, 5: 6, 8: 7, 16: 7, 20: 7]
        for (r, bucket) in bidirectional {
            #expect(t5RelativeBucket(relativePosition: r, bidirectional: true, buckets: 8, maxDistance: 16) == bucket,
                    "bidirectional, relative position \(r)")
        }
        let causal: KeyValuePairs = [-20: 7, -16: 7, -8: 6, -5: 4, -4: 4, -3: 3, -2: 2, -1: 1, 0: 0, 1: 0, 5: 0]
        for (r, bucket) in causal {
            #expect(t5RelativeBucket(relativePosition: r, bidirectional: false, buckets: 8, maxDistance: 16) == bucket,
                    "causal, relative position \(r)")
        }
    }

    /// Where the exact quotient is an integer, fp32 (as transformers computes) and Double part: with
    /// 108 causal buckets and maxDistance 128, distance 72 is 54 + 54·log(4/3)/log(64/27) = 54 + 18
    /// exactly, which Double rounds to 17.99… (bucket 71) and fp32 to 18 (bucket 72, transformers').
    /// The other two are such boundaries too (same generation as above).
    @Test func followsTransformersFP32OnExactBoundaries() {
        let cases: [(buckets: Int, maxDistance: Int, r: Int, bucket: Int)] =
            [(108, 128, -72, 72), (108, 128, -71, 71), (108, 128, -73, 72), (216, 256, -144, 144), (144, 128, -96, 108)]
        for c in cases {
            #expect(t5RelativeBucket(relativePosition: c.r, bidirectional: false, buckets: c.buckets,
                                     maxDistance: c.maxDistance) == c.bucket, "\(c)")
        }
        // The Double formula lands one low on the first: the case is a real boundary.
        let exact = 54.0, spaced = log(72 / exact) / log(128 / exact) * exact
        #expect(Int(exact) + Int(spaced) == 71)
    }

    /// Properties of the formula for many configurations: every bucket in range, bucket never
    /// decreasing with distance on each side, later keys on the causal side in bucket 0, keys after
    /// the query in the upper half when bidirectional (bucket(r) = bucket(−r) + n/2 for r > 0), and
    /// one side of bidirectional with n buckets the causal formula with n/2.
    @Test(arguments: [(32, 128), (8, 16), (64, 256), (12, 50), (10, 20)])
    func bucketsAreMonotoneAndSidesAgree(buckets: Int, maxDistance: Int) {
        var previous = (bi: 0, causal: 0)
        for d in 0...(3 * maxDistance) {
            let bi = t5RelativeBucket(relativePosition: -d, bidirectional: true, buckets: buckets, maxDistance: maxDistance)
            let ca = t5RelativeBucket(relativePosition: -d, bidirectional: false, buckets: buckets, maxDistance: maxDistance)
            let after = t5RelativeBucket(relativePosition: d, bidirectional: true, buckets: buckets, maxDistance: maxDistance)
            #expect((0..<(buckets / 2)).contains(bi) && (0..<buckets).contains(ca), "distance \(d)")
            #expect(bi >= previous.bi && ca >= previous.causal, "distance \(d): buckets decrease")
            #expect(d == 0 ? after == 0 : after == bi + buckets / 2, "distance \(d) after the query")
            #expect(t5RelativeBucket(relativePosition: d, bidirectional: false, buckets: buckets, maxDistance: maxDistance) == 0)
            #expect(bi == t5RelativeBucket(relativePosition: -d, bidirectional: false, buckets: buckets / 2,
                                           maxDistance: maxDistance), "distance \(d)")
            if d < buckets / 4 { #expect(bi == d) }  // exact buckets
            if d >= maxDistance { #expect(bi == buckets / 2 - 1 && ca == buckets - 1) }  // clamped
            previous = (bi, ca)
        }
    }

    @Test func tableHoldsTheBucketOfEveryRelativePosition() {
        for bidirectional in [true, false] {
            let table = RelativePositionBuckets(bidirectional: bidirectional, buckets: 32, maxDistance: 128, length: 300)
            for r in -299...299 {
                #expect(table[relativePosition: r] == t5RelativeBucket(relativePosition: r, bidirectional: bidirectional,
                                                                       buckets: 32, maxDistance: 128))
            }
        }
    }
}
