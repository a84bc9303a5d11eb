import Foundation

/// One rank's measured forward, backward and optimizer times for one microbatch of the whole
/// model (`tessera bench step`), with what the model's work amounts to at that size.
public struct StepMeasurement: Sendable, Equatable {
    /// Tokens in the microbatch (B · T).
    public let tokens: Int
    public let forwardSeconds: Double
    public let backwardSeconds: Double
    /// Gradient norm and AdamW over every parameter.
    public let optimizerSeconds: Double
    /// Matrix-multiply FLOPs of forward and backward (3 × forward's).
    public let gemmFlops: Double
    /// sgemm FLOP/s on the forward GEMMs of this microbatch's shapes, measured alone.
    public let gemmFlopsPerSecond: Double
    /// The same at tensor-parallel widths, by degree (> 1): a tp-way cut of a small model's
    /// products can run at another rate than the whole ones.
    public let narrowGemmFlopsPerSecond: [Int: Double]
    /// Floats the elementwise kernels pass over in the microbatch (`GPTActivations.workFloats`).
    public let activationFloats: Int
    public let parameters: Int

    public init(tokens: Int, forwardSeconds: Double, backwardSeconds: Double, optimizerSeconds: Double,
                gemmFlops: Double, gemmFlopsPerSecond: Double, narrowGemmFlopsPerSecond: [Int: Double] = [:],
                activationFloats: Int, parameters: Int) {
        self.tokens = tokens
        self.forwardSeconds = forwardSeconds
        self.backwardSeconds = backwardSeconds
        self.optimizerSeconds = optimizerSeconds
        self.gemmFlops = gemmFlops
        self.gemmFlopsPerSecond = gemmFlopsPerSecond
        self.narrowGemmFlopsPerSecond = narrowGemmFlopsPerSecond
        self.activationFloats = activationFloats
        self.parameters = parameters
    }

    /// Forward and backward time not explained by the GEMMs at the measured sgemm rate, per
    /// activation float: LayerNorm, GELU, softmax, residuals and cross-entropy, which read and
    /// write the activations and so scale with them.
    var secondsPerActivationFloat: Double {
        max(0, forwardSeconds + backwardSeconds - gemmFlops / gemmFlopsPerSecond) / Double(activationFloats)
    }
}

/// One core's compute rates as functions of the microbatch's token count, from step measurements
/// at several microbatch sizes: between measured sizes the rates are interpolated linearly in
/// log(tokens), beyond them the nearest is used. The model of one microbatch on one core:
///
///     seconds = GEMM FLOPs / gemm rate(tokens) + activation floats · other(tokens)
///
/// and the optimizer costs `secondsPerParameter` for every parameter a rank updates.
public struct ComputeRates: Sendable, Equatable {
    /// Rates measured at one microbatch size.
    public struct Point: Sendable, Equatable {
        public let tokens: Int
        public let gemmFlopsPerSecond: Double
        public let narrowGemmFlopsPerSecond: [Int: Double]
        public let secondsPerActivationFloat: Double
    }

    /// By increasing tokens.
    public let points: [Point]
    public let secondsPerParameter: Double

    public init(measurements: [StepMeasurement]) {
        precondition(!measurements.isEmpty, "compute rates need at least one step measurement")
        points = measurements.sorted { $0.tokens < $1.tokens }
            .map { Point(tokens: $0.tokens, gemmFlopsPerSecond: $0.gemmFlopsPerSecond,
                         narrowGemmFlopsPerSecond: $0.narrowGemmFlopsPerSecond,
                         secondsPerActivationFloat: $0.secondsPerActivationFloat) }
        let perParameter = measurements.map { $0.optimizerSeconds / Double($0.parameters) }.sorted()
        secondsPerParameter = perParameter[perParameter.count / 2]
    }

    public func gemmFlopsPerSecond(tokens: Int) -> Double { interpolate(tokens, \.gemmFlopsPerSecond) }

    /// The sgemm rate of the products cut `tp` ways: as measured at that degree, else at the
    /// nearest measured degree below it, else the whole products' rate.
    public func gemmFlopsPerSecond(tokens: Int, tp: Int) -> Double {
        guard let degree = points[0].narrowGemmFlopsPerSecond.keys.filter({ $0 <= tp }).max() else {
            return gemmFlopsPerSecond(tokens: tokens)
        }
        return interpolate(tokens) { $0.narrowGemmFlopsPerSecond[degree] ?? $0.gemmFlopsPerSecond }
    }
    public func secondsPerActivationFloat(tokens: Int) -> Double { interpolate(tokens, \.secondsPerActivationFloat) }

    /// The best sgemm rate measured, at any tensor-parallel width: the per-core peak that MFU is
    /// taken against.
    public var peakFlopsPerSecond: Double {
        points.map { max($0.gemmFlopsPerSecond, $0.narrowGemmFlopsPerSecond.values.max() ?? 0) }.max()!
    }

    private func interpolate(_ tokens: Int, _ value: (Point) -> Double) -> Double {
        guard let upper = points.firstIndex(where: { $0.tokens >= tokens }) else { return value(points.last!) }
        guard upper > 0, points[upper].tokens != tokens else { return value(points[upper]) }
        let (a, b) = (points[upper - 1], points[upper])
        let t = log(Double(tokens) / Double(a.tokens)) / log(Double(b.tokens) / Double(a.tokens))
        return value(a) + t * (value(b) - value(a))
    }
}
