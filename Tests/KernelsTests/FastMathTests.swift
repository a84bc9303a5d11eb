import Foundation
import Kernels
import Testing

@Suite struct FastMathTests {
    /// Every 1e-4 over [-80, 80], plus every Float in a band around 0 and around the rounding
    /// boundaries of k = round(x / ln 2), where the reduced argument is largest.
    static let samples: [Float] = {
        var xs = stride(from: -80.0, through: 80.0, by: 1e-4).map { Float($0) }
        for k in -115...115 {
            let boundary = (Double(k) + 0.5) * log(2.0)
            xs += stride(from: boundary - 1e-4, through: boundary + 1e-4, by: 1e-6).map { Float($0) }
        }
        return xs
    }()

    @Test func fastExpIsWithin2e7RelativeOfLibmOnMinus80To80() {
        var worst = (x: Float(0), error: 0.0)
        for x in Self.samples {
            let expected = exp(Double(x))
            let error = abs(Double(fastExp(x)) - expected) / expected
            if error > worst.error { worst = (x, error) }
        }
        #expect(worst.error < 2e-7, "fastExp(\(worst.x)) is off by \(worst.error) relative")
    }

    @Test func fastExpIsExactAtZeroAndClampsOutsideTheRange() {
        #expect(fastExp(0) == 1)
        #expect(fastExp(-1000) >= 0 && fastExp(-1000) < 1e-37)
        #expect(fastExp(1000).isFinite && fastExp(1000) > 1e38)
        #expect(fastExp(-.infinity) >= 0 && fastExp(.infinity).isFinite)
    }
}
