import Data
import Foundation
import Testing

/// Jensen-Shannon divergence and the population stability index on distributions small enough
/// to compute by hand.
struct DivergenceTests {
    static func counts(_ values: [Int]) -> TokenCounts { TokenCounts(counts: values) }

    @Test func jensenShannonIsZeroForTheSameOneForDisjointAndExactBetween() {
        #expect(Divergence.jensenShannon(Self.counts([3, 1, 2]), Self.counts([6, 2, 4])) == 0)
        #expect(Divergence.jensenShannon(Self.counts([1, 0]), Self.counts([0, 1])) == 1)
        // P = (½, ½, 0), Q = (0, ½, ½), M = (¼, ½, ¼): KL(P‖M) = ½·log2(2) = ½, KL(Q‖M) the same.
        #expect(abs(Divergence.jensenShannon(Self.counts([2, 2]), Self.counts([0, 2, 2])) - 0.5) < 1e-12)
        // P = (¾, ¼), Q = (¼, ¾), M = (½, ½): KL(P‖M) = ¾·log2(1.5) − ¼, symmetric.
        let expected = 0.75 * log2(1.5) - 0.25
        #expect(abs(Divergence.jensenShannon(Self.counts([3, 1]), Self.counts([1, 3])) - expected) < 1e-12)
        #expect(Divergence.jensenShannon(Self.counts([3, 1]), Self.counts([1, 3])) == Divergence.jensenShannon(Self.counts([1, 3]), Self.counts([3, 1])))
    }

    @Test func stabilityBinsAreTheReferencesTopTokensTiesBySmallerID() {
        #expect(Divergence.stabilityBins(reference: Self.counts([1, 3, 3, 0, 2]), top: 2) == [1, 2])
        #expect(Divergence.stabilityBins(reference: Self.counts([1, 3, 3, 0, 2]), top: 50) == [1, 2, 4, 0])
    }

    @Test func populationStabilityOverTopBinsAndOther() {
        // Bins: id 0, id 1, other (id 2). r = (.6, .3, .1), c = (.3, .3, .4):
        // (.3 − .6)·ln(.3/.6) + 0 + (.4 − .1)·ln(.4/.1).
        let expected = -0.3 * log(0.5) + 0.3 * log(4.0)
        let psi = Divergence.populationStability(reference: Self.counts([6, 3, 1]), current: Self.counts([3, 3, 4]), top: 2)
        #expect(abs(psi - expected) < 1e-12, "\(psi) vs \(expected)")
        #expect(Divergence.populationStability(reference: Self.counts([6, 3, 1]), current: Self.counts([12, 6, 2]), top: 2) == 0)
    }

    @Test func anEmptyBinCountsAsEpsilon() {
        // r = (.5, .5, other 0 → ε), c = (.5, 0 → ε, other .5: id 5, which the reference lacks).
        let epsilon = 1e-4, expected = 2 * (0.5 - epsilon) * log(0.5 / epsilon)
        let psi = Divergence.populationStability(reference: Self.counts([5, 5]), current: Self.counts([5, 0, 0, 0, 0, 5]), top: 2,
                                                 epsilon: epsilon)
        #expect(abs(psi - expected) < 1e-9, "\(psi) vs \(expected)")
    }

    @Test func countsLeaveOutTheEndOfTextID() {
        let counts = TokenCounts(TokenStore([0, 2, 2, 9, 2, 9]), excluding: 9)
        #expect(counts.counts == [1, 0, 3] && counts.total == 4)
        #expect(counts.share(2) == 0.75 && counts.share(7) == 0)
    }
}
