import Foundation

/// A problem with planner input (a rates file, a network spec), printed after `error: `.
public struct PlanError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The CSV files the benches write, read back as the cost model's inputs.
public enum RatesFile {
    /// `tessera bench step --csv`: one row per microbatch size.
    public static let stepHeader = "sequences,tokens,forward_ms,backward_ms,optimizer_ms,step_ms,gflops,"
        + "gemm_share,gemm_gflop,sgemm_gflops,activation_floats,parameters,sgemm_gflops_by_tp"
    /// `tessera bench comm --csv`: one row per collective, group size and message size.
    public static let commHeader = "collective,ranks,bytes,time_us"

    /// What one file holds: step measurements, or timed messages of one or more collectives.
    public enum Contents {
        case steps([StepMeasurement])
        case communication([Collective: AlphaBeta])
    }

    /// Parses a file's text; `path` names it in errors.
    public static func parse(_ text: String, path: String) throws -> Contents {
        let lines = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        guard let header = lines.first else { throw PlanError("\(path): empty rates file") }
        switch header {
        case stepHeader:
            return .steps(try lines.dropFirst().enumerated().map { index, line in
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                let r = fields.prefix(12).compactMap { Double($0) }
                // Counts become integers: bounded first, so that no value of the file can trap the conversion.
                guard fields.count == 13, r.count == 12, r.allSatisfy({ $0.isFinite && $0 >= 0 }), r[1] > 0, r[9] > 0,
                      r[10] > 0, r[11] > 0, [r[1], r[10], r[11]].allSatisfy({ $0 <= largestCount }),
                      let narrow = narrowRates(fields[12]) else {
                    throw PlanError("\(path):\(index + 2): expected 12 finite non-negative numbers, tokens, sgemm rate, activations and parameters positive (counts up to 1e15), then TP:GFLOPS pairs")
                }
                return StepMeasurement(tokens: Int(r[1]), forwardSeconds: r[2] / 1e3, backwardSeconds: r[3] / 1e3,
                                       optimizerSeconds: r[4] / 1e3, gemmFlops: r[8] * 1e9, gemmFlopsPerSecond: r[9] * 1e9,
                                       narrowGemmFlopsPerSecond: narrow, activationFloats: Int(r[10]), parameters: Int(r[11]))
            })
        case commHeader:
            return .communication(try fitCommunication(lines.dropFirst(), path: path))
        default:
            throw PlanError("\(path): not a rates file (its header is neither `\(stepHeader)` nor `\(commHeader)`)")
        }
    }

    /// The largest token, activation or parameter count a rates file may give.
    static let largestCount = 1e15

    /// `2:14.1 4:8.3` (tensor-parallel degree: sgemm GFLOP/s, space-separated; may be empty) as
    /// FLOP/s by degree; nil when malformed.
    static func narrowRates(_ field: Substring) -> [Int: Double]? {
        var rates: [Int: Double] = [:]
        for pair in field.split(separator: " ") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let tp = Int(parts[0]), tp > 1, let gflops = Double(parts[1]), gflops > 0, gflops.isFinite
            else { return nil }
            rates[tp] = gflops * 1e9
        }
        return rates
    }

    /// The `sgemm_gflops_by_tp` field of `rates`.
    public static func narrowRatesField(_ rates: [Int: Double]) -> String {
        rates.keys.sorted().map { "\($0):" + String(format: "%.1f", rates[$0]! / 1e9) }.joined(separator: " ")
    }

    /// Alpha and beta per collective, fitted over its rows (every group size and message size).
    static func fitCommunication(_ lines: ArraySlice<String>, path: String) throws -> [Collective: AlphaBeta] {
        var points: [Collective: [(steps: Double, bytes: Double, seconds: Double)]] = [:]
        for (index, line) in lines.enumerated() {
            let f = line.split(separator: ",").map(String.init)
            guard f.count == 4, let collective = Collective(rawValue: f[0]), let ranks = Int(f[1]), (2...(1 << 20)).contains(ranks),
                  let bytes = Double(f[2]), let micros = Double(f[3]), bytes.isFinite, bytes >= 0, micros.isFinite, micros >= 0
            else {
                throw PlanError("\(path):\(index + 2): expected collective,ranks,bytes,time_us (2 to 2^20 ranks, finite sizes and times)")
            }
            points[collective, default: []].append((collective.steps(ranks: ranks), collective.volume(ranks: ranks) * bytes,
                                                    micros / 1e6))
        }
        return try points.mapValues { measured in
            guard let fit = AlphaBeta.fit(measured) else { throw PlanError("\(path): too few rows to fit alpha and beta") }
            return fit
        }
    }
}

extension AlphaBeta {
    /// A link written as `BANDWIDTH:LATENCY`, e.g. `100gbps:2us`: bandwidth in gbps or mbps (bits)
    /// or GB/s or MB/s (bytes), latency in ns, us, ms or s.
    public init(spec: String) throws {
        let parts = spec.lowercased().split(separator: ":").map(String.init)
        func number(_ text: String, units: [(String, Double)]) -> Double? {
            for (unit, scale) in units where text.hasSuffix(unit) {
                if let value = Double(text.dropLast(unit.count)), value > 0, value.isFinite { return value * scale }
            }
            return nil
        }
        guard parts.count == 2,
              let bytesPerSecond = number(parts[0], units: [("gbps", 1e9 / 8), ("mbps", 1e6 / 8), ("gb/s", 1e9), ("mb/s", 1e6)]),
              let latency = number(parts[1], units: [("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1)]) else {
            throw PlanError("network '\(spec)' is not BANDWIDTH:LATENCY such as 100gbps:2us (gbps, mbps, GB/s, MB/s; ns, us, ms, s)")
        }
        self.init(alpha: latency, beta: 1 / bytesPerSecond)
    }
}
