#if canImport(Glibc)
import Glibc
#endif
import Kernels
import MPI
import Parallel

/// What one mixture-of-experts layer decided and computed for one microbatch, kept for backward.
///
/// Routing lives at the tokens' home rank: router probabilities, each token's top-k experts and
/// renormalised gates, which (token, choice) assignments fit their expert's capacity, and the order
/// in which the kept ones were sent (by expert, then token). The expert side lives where the
/// experts are: the rows received from every rank of the expert group (source-major, then local
/// expert) and the expert MLP's activations over them, at this rank's tensor-parallel widths (the
/// first linear's fcRows / tp outputs, the activation's H / tp).
final class RoutingRecord {
    let arena: Arena
    /// The largest microbatch it holds: B sequences of T tokens.
    let B: Int, T: Int
    let probabilities: FloatPointer         // (BT, E)
    let gates: FloatPointer                 // (BT, k)
    let returned: FloatPointer              // (BT · k, C) expert outputs back at home, in send order
    let expertInput: FloatPointer           // (maxRows, C) rows received for the local experts
    let fch: FloatPointer                   // (maxRows, fcRows/tp) first linear's output (pre-GELU, or [gate | up])
    let hidden: FloatPointer                // (maxRows, H/tp) GELU or SwiGLU of it, the projection's input
    var choices: [Int]                      // (BT, k) expert of each assignment
    var kept: [Bool]                        // (BT, k) within capacity
    var order: [Int]                        // kept assignments (token · k + choice), in send order
    var sendCounts: [Int32] = []            // kept rows per expert, global expert order
    var receiveCounts: [Int32] = []         // rows per (source rank, local expert)
    let selectedFraction: FloatPointer      // (B, E) f_i: share of a sequence's top-k picks per expert
    // Statistics of the microbatch: Σ over its sequences of the balancing loss, assignments
    // dropped, and kept assignments per expert.
    var auxSum: Double = 0
    var dropped = 0
    var loads: [Int]

    init(B: Int, T: Int, C: Int, settings: ExpertSettings, fcWidth: Int, hiddenWidth: Int, maxRows: Int) {
        let BT = B * T, k = settings.topK
        (self.B, self.T) = (B, T)
        let arena = Arena()
        self.arena = arena
        let ids = Self.bufferSizes(B: B, T: T, C: C, settings: settings, fcWidth: fcWidth, hiddenWidth: hiddenWidth,
                                   maxRows: maxRows).map { arena.reserve($0) }
        let p = arena.allocate()
        (probabilities, gates, returned) = (p[ids[0]], p[ids[1]], p[ids[2]])
        (expertInput, fch, hidden, selectedFraction) = (p[ids[3]], p[ids[4]], p[ids[5]], p[ids[6]])
        choices = Array(repeating: 0, count: BT * k)
        kept = Array(repeating: false, count: BT * k)
        order = []
        order.reserveCapacity(BT * k)
        loads = Array(repeating: 0, count: settings.count)
    }

    var byteCount: Int { arena.floatCount * MemoryLayout<Float>.stride }

    /// Floats of every buffer, in reservation order.
    static func bufferSizes(B: Int, T: Int, C: Int, settings: ExpertSettings, fcWidth: Int, hiddenWidth: Int,
                            maxRows: Int) -> [Int] {
        let BT = B * T, E = settings.count, k = settings.topK
        return [BT * E, BT * k, BT * k * C, maxRows * C, maxRows * fcWidth, maxRows * hiddenWidth, B * E]
    }

    /// Floats of one layer's record on `partition`, without allocating them.
    static func floatCount(dims: GPTDimensions, partition: GPTPartition, B: Int, T: Int) -> Int {
        guard let settings = dims.experts else { return 0 }
        let tp = partition.tpSize
        return bufferSizes(B: B, T: T, C: dims.nEmbd, settings: settings, fcWidth: dims.parts.fcRows / tp,
                           hiddenWidth: dims.parts.ffnHidden / tp,
                           maxRows: settings.maxRows(ranks: partition.epSize, B: B, T: T)).reduce(0, +)
    }
}

extension ExpertSettings {
    /// Most rows a rank's local experts can receive from one microbatch over `ranks` expert-parallel
    /// ranks: every sequence of every source sends at most `capacity` rows to each expert, and no
    /// more rows than it has picks.
    func maxRows(ranks: Int, B: Int, T: Int) -> Int {
        min(count * B * capacity(tokens: T), ranks * B * T * topK)
    }
}

/// Pointers to one layer's router and local experts (values or gradients).
struct ExpertWeights {
    let router: FloatPointer
    /// Per local expert: c_fc weight and bias, c_proj weight and bias; the biases nil without biases.
    let experts: [(fcw: FloatPointer, fcb: FloatPointer?, projw: FloatPointer, projb: FloatPointer?)]
}

/// The mixture-of-experts MLP: a router in fp32 picks each token's top-k experts, gates are the
/// picked probabilities renormalised, each expert takes at most `capacity` tokens of a sequence
/// (the rest of a token's picks are dropped: first choices of all tokens in order, then second
/// choices, and so on), and a token's output is the gated sum of its kept experts' outputs.
/// Routing, dropping and the Switch-Transformer balancing loss `E · Σ_i f_i · P_i` are computed per
/// sequence, so none of it depends on the layout.
///
/// Experts are split across the expert-parallel group; tokens travel to their experts' rank and
/// back with all-to-all. Each expert is a dense MLP of the model's parts (GELU or SwiGLU, with or
/// without biases), split across the tensor group like one: it returns partial outputs that the
/// caller sums with reduce-from-region.
final class MixtureOfExperts {
    let settings: ExpertSettings
    let group: ExpertParallelGroup
    let tensor: TensorParallelGroup
    let mlp: DecoderParts.MLP
    /// C channels; this rank's widths of the first linear's output (fcRows / tp) and of the
    /// activation (H / tp).
    let C: Int, fcWidth: Int, hiddenWidth: Int
    private var scratch: ExpertScratch?

    init(settings: ExpertSettings, group: ExpertParallelGroup, tensor: TensorParallelGroup, C: Int, parts: DecoderParts) {
        precondition(settings.count % group.size == 0, "\(settings.count) experts over \(group.size) ranks")
        self.settings = settings
        self.group = group
        self.tensor = tensor
        self.C = C
        mlp = parts.mlp
        fcWidth = parts.fcRows / tensor.size
        hiddenWidth = parts.ffnHidden / tensor.size
    }

    var localExperts: Int { settings.count / group.size }

    func maxRows(B: Int, T: Int) -> Int { settings.maxRows(ranks: group.size, B: B, T: T) }

    func makeRecord(B: Int, T: Int) -> RoutingRecord {
        RoutingRecord(B: B, T: T, C: C, settings: settings, fcWidth: fcWidth, hiddenWidth: hiddenWidth,
                      maxRows: maxRows(B: B, T: T))
    }

    /// Scratch for the record's largest microbatch (a forward may run fewer tokens).
    private func scratch(for record: RoutingRecord) -> ExpertScratch {
        let (B, T) = (record.B, record.T)
        if let scratch, scratch.B == B, scratch.T == T { return scratch }
        let made = ExpertScratch(B: B, T: T, C: C, settings: settings, fcWidth: fcWidth, hiddenWidth: hiddenWidth,
                                 maxRows: maxRows(B: B, T: T))
        scratch = made
        return made
    }

    /// output (B·T, C) = this rank's partial of Σ_kept gate · expert(input) for every token.
    func forward(_ r: RoutingRecord, input: ConstFloatPointer, output: FloatPointer,
                 weights w: ExpertWeights, B: Int, T: Int) throws(MPIError) {
        let BT = B * T, k = settings.topK
        let s = scratch(for: r)
        route(r, input: input, router: w.router, B: B, T: T)

        // Dispatch: rows in send order (by expert, so by destination rank), counts first.
        for (i, a) in r.order.enumerated() {
            (s.send + i * C).update(from: input + a / k * C, count: C)
        }
        r.receiveCounts = try group.exchangeCounts(r.sendCounts, perRank: localExperts)
        let (sendRows, receiveRows) = (rowsPerRank(r.sendCounts), rowsPerRank(r.receiveCounts))
        try group.exchangeRows(send: s.send, sendRows: sendRows, receive: r.expertInput,
                               receiveRows: receiveRows, width: C)

        // The experts, one GEMM pair per (source, local expert) run of rows.
        forEachRun(r.receiveCounts) { expert, rows, n in
            let e = w.experts[expert]
            let fch = r.fch + rows * fcWidth, hidden = r.hidden + rows * hiddenWidth
            linearForward(fch, r.expertInput + rows * C, e.fcw, e.fcb, BT: n, C: C, OC: fcWidth)
            mlp.forward(hidden, fch, rows: n, H: hiddenWidth)
            // The projection's bias is replicated across the tensor group: one rank adds it.
            linearForward(s.expertOutput + rows * C, hidden, e.projw, tensor.rank == 0 ? e.projb : nil,
                          BT: n, C: hiddenWidth, OC: C)
        }
        try group.exchangeRows(send: s.expertOutput, sendRows: receiveRows, receive: r.returned,
                               receiveRows: sendRows, width: C)

        // Combine at home.
        output.update(repeating: 0, count: BT * C)
        for (i, a) in r.order.enumerated() {
            let gate = r.gates[a], row = r.returned + i * C, out = output + a / k * C
            for c in 0..<C { out[c] += gate * row[c] }
        }
    }

    /// Router softmax, top-k with renormalised gates, capacity, send order and statistics.
    private func route(_ r: RoutingRecord, input: ConstFloatPointer, router: ConstFloatPointer, B: Int, T: Int) {
        let BT = B * T, E = settings.count, k = settings.topK
        let capacity = settings.capacity(tokens: T)
        linearForward(r.probabilities, input, router, nil, BT: BT, C: C, OC: E)
        for t in 0..<BT {
            let p = r.probabilities + t * E
            var top = p[0]
            for j in 1..<E { top = max(top, p[j]) }
            var sum: Float = 0
            for j in 0..<E { p[j] = exp(p[j] - top); sum += p[j] }
            for j in 0..<E { p[j] /= sum }
            // Top-k by repeated selection (E is small); ties go to the lower index.
            var picked: Float = 0
            for choice in 0..<k {
                var best = -1
                for j in 0..<E where !r.choices[(t * k)..<(t * k + choice)].contains(j) {
                    if best < 0 || p[j] > p[best] { best = j }
                }
                r.choices[t * k + choice] = best
                picked += p[best]
            }
            for choice in 0..<k { r.gates[t * k + choice] = p[r.choices[t * k + choice]] / picked }
        }

        r.auxSum = 0
        r.dropped = 0
        for e in 0..<E { r.loads[e] = 0 }
        var taken = [Int](repeating: 0, count: E)
        for b in 0..<B {
            for e in 0..<E { taken[e] = 0 }
            // First choices of every token, then second choices, ...: the fixed dropping order.
            for choice in 0..<k {
                for t in 0..<T {
                    let a = (b * T + t) * k + choice, e = r.choices[a]
                    r.kept[a] = taken[e] < capacity
                    if r.kept[a] { taken[e] += 1 } else { r.dropped += 1 }
                }
            }
            // Balancing loss of the sequence: f_i over all picks (before dropping), P_i the mean
            // router probability.
            let f = r.selectedFraction + b * E
            for e in 0..<E { f[e] = 0 }
            for a in (b * T * k)..<((b + 1) * T * k) { f[r.choices[a]] += 1 / Float(T * k) }
            var aux: Double = 0
            for e in 0..<E {
                var meanProbability: Double = 0
                for t in 0..<T { meanProbability += Double(r.probabilities[(b * T + t) * E + e]) }
                aux += Double(f[e]) * meanProbability / Double(T)
                r.loads[e] += taken[e]
            }
            r.auxSum += Double(E) * aux
        }

        // Send order: kept assignments by expert, then by token (a counting sort).
        r.sendCounts = Array(repeating: 0, count: E)
        for a in 0..<(BT * k) where r.kept[a] { r.sendCounts[r.choices[a]] += 1 }
        var next = [Int](repeating: 0, count: E)
        for e in 1..<max(E, 1) { next[e] = next[e - 1] + Int(r.sendCounts[e - 1]) }
        let total = r.sendCounts.reduce(0) { $0 + Int($1) }
        r.order = Array(repeating: 0, count: total)
        for a in 0..<(BT * k) where r.kept[a] {
            r.order[next[r.choices[a]]] = a
            next[r.choices[a]] += 1
        }
    }

    /// Accumulates expert and router gradients and overwrites dInput (B·T, C) with the gradient of
    /// the layer's input, summed over the tensor group. `dOutput` is the gradient of the full
    /// (summed) output; `auxScale` the weight of each sequence's balancing loss in the objective.
    func backward(_ r: RoutingRecord, dOutput: ConstFloatPointer, input: ConstFloatPointer, dInput: FloatPointer,
                  weights w: ExpertWeights, grads g: ExpertWeights, auxScale: Float, B: Int, T: Int) throws(MPIError) {
        let BT = B * T, E = settings.count, k = settings.topK
        let s = scratch(for: r)
        // Gradients of the expert outputs, and of the gates (a dot product with this rank's partial
        // output, summed over the tensor group below).
        s.dGates.update(repeating: 0, count: BT * k)
        for (i, a) in r.order.enumerated() {
            let dy = dOutput + a / k * C, row = r.returned + i * C, d = s.send + i * C
            let gate = r.gates[a]
            var dot: Float = 0
            for c in 0..<C {
                d[c] = gate * dy[c]
                dot += dy[c] * row[c]
            }
            s.dGates[a] = dot
        }
        let (sendRows, receiveRows) = (rowsPerRank(r.sendCounts), rowsPerRank(r.receiveCounts))
        try group.exchangeRows(send: s.send, sendRows: sendRows, receive: s.expertOutput,
                               receiveRows: receiveRows, width: C)
        forEachRun(r.receiveCounts) { expert, rows, n in
            let e = w.experts[expert], de = g.experts[expert]
            let fch = r.fch + rows * fcWidth, hidden = r.hidden + rows * hiddenWidth
            let dfch = s.dfch + rows * fcWidth, dHidden = s.dHidden + rows * hiddenWidth
            linearBackward(dHidden, de.projw, de.projb, s.expertOutput + rows * C, hidden, e.projw,
                           BT: n, C: hiddenWidth, OC: C)
            mlp.backward(dfch, dHidden, fch, rows: n, H: hiddenWidth)
            linearBackward(s.dExpertInput + rows * C, de.fcw, de.fcb, dfch, r.expertInput + rows * C, e.fcw,
                           BT: n, C: C, OC: fcWidth)
        }
        try group.exchangeRows(send: s.dExpertInput, sendRows: receiveRows, receive: s.send,
                               receiveRows: sendRows, width: C)
        dInput.update(repeating: 0, count: BT * C)
        for (i, a) in r.order.enumerated() {
            let d = dInput + a / k * C, row = s.send + i * C
            for c in 0..<C { d[c] += row[c] }
        }
        try tensor.copyToRegionBackward(dInput, count: BT * C)
        try tensor.sum(s.dGates, count: BT * k)

        // Router: gates → probabilities (renormalisation), plus the balancing loss, → logits.
        s.dProbabilities.update(repeating: 0, count: BT * E)
        for t in 0..<BT {
            let p = r.probabilities + t * E, dp = s.dProbabilities + t * E
            var picked: Float = 0, weighted: Float = 0
            for choice in 0..<k {
                picked += p[r.choices[t * k + choice]]
                weighted += s.dGates[t * k + choice] * r.gates[t * k + choice]
            }
            for choice in 0..<k {
                dp[r.choices[t * k + choice]] += (s.dGates[t * k + choice] - weighted) / picked
            }
            let f = r.selectedFraction + t / T * E
            let scale = auxScale * Float(E) / Float(T)
            var inner: Float = 0
            for j in 0..<E {
                dp[j] += scale * f[j]
                inner += p[j] * dp[j]
            }
            for j in 0..<E { dp[j] = p[j] * (dp[j] - inner) }  // now the logits' gradient
        }
        linearBackward(dInput, g.router, nil, s.dProbabilities, input, w.router, BT: BT, C: C, OC: E,
                       accumulateInput: true)
    }

    /// Rows per rank of the expert group from per-(rank, local expert) counts.
    private func rowsPerRank(_ counts: [Int32]) -> [Int] {
        (0..<group.size).map { q in
            counts[(q * localExperts)..<((q + 1) * localExperts)].reduce(0) { $0 + Int($1) }
        }
    }

    /// Calls body(local expert, first row, rows) for each non-empty run of received rows.
    private func forEachRun(_ counts: [Int32], _ body: (Int, Int, Int) -> Void) {
        var row = 0
        for (i, count) in counts.enumerated() where count > 0 {
            body(i % localExperts, row, Int(count))
            row += Int(count)
        }
    }
}

/// Buffers one mixture-of-experts step needs only while it runs, shared by every layer and
/// microbatch.
final class ExpertScratch {
    let arena: Arena
    let B: Int, T: Int
    let send: FloatPointer                  // (BT · k, C) rows in send order; their gradients on the way back
    let expertOutput: FloatPointer          // (maxRows, C) the experts' outputs; their gradients in backward
    let dExpertInput: FloatPointer          // (maxRows, C)
    let dHidden: FloatPointer               // (maxRows, H/tp) gradient of the projection's input
    let dfch: FloatPointer                  // (maxRows, fcRows/tp) gradient of the first linear's output
    let dGates: FloatPointer                // (BT, k)
    let dProbabilities: FloatPointer        // (BT, E)

    init(B: Int, T: Int, C: Int, settings: ExpertSettings, fcWidth: Int, hiddenWidth: Int, maxRows: Int) {
        (self.B, self.T) = (B, T)
        let BT = B * T, k = settings.topK
        let arena = Arena()
        self.arena = arena
        let ids = [BT * k * C, maxRows * C, maxRows * C, maxRows * hiddenWidth, maxRows * fcWidth,
                   BT * k, BT * settings.count].map { arena.reserve($0) }
        let p = arena.allocate()
        (send, expertOutput, dExpertInput) = (p[ids[0]], p[ids[1]], p[ids[2]])
        (dHidden, dfch, dGates, dProbabilities) = (p[ids[3]], p[ids[4]], p[ids[5]], p[ids[6]])
    }
}
