/// Scorers' log-likelihoods (`LikelihoodRequest`) computed by the training pipeline, so that
/// `[[eval]]` choice and bias entries run on every layout with the run's own forward pass: each
/// request is one sequence of a global batch (the batch's sequences spread over the replicas and
/// their microbatches as in training), its tokens at the start and the rest of the block padded
/// with id 0. Attention is causal, so the padding changes no position the request reads (with
/// experts, padded tokens share each sequence's capacity; see docs/evaluation.md). The stage with
/// the head sums the negated token losses of the positions that predict the continuation, and one
/// all-reduce gives every rank every value.
struct PipelineLikelihoods {
    let context: ObjectiveContext

    /// The requests' values in order, equal on every rank; every rank must call it with the same
    /// requests.
    func values(_ requests: [LikelihoodRequest]) throws -> [Double] {
        let B = context.config.train.batchSize, T = context.config.model.blockSize
        let windows = requests.map { $0.window(blockSize: T) }
        var values = [Double](repeating: 0, count: requests.count)
        try values.withUnsafeMutableBufferPointer { buffer in
            let out = buffer
            for round in 0..<((requests.count + B - 1) / B) {
                var batch = PipelineRunner.Microbatch(
                    fill: { m, inputs, targets in
                        for (row, sequence) in context.sequences(m).enumerated() {
                            let (inputRow, targetRow) = (inputs + row * T, targets + row * T)
                            inputRow.update(repeating: 0, count: T)
                            targetRow.update(repeating: 0, count: T)
                            guard round * B + sequence < windows.count else { continue }
                            let tokens = windows[round * B + sequence].tokens
                            for (p, token) in tokens.dropLast().enumerated() { inputRow[p] = token }
                            for (p, token) in tokens.dropFirst().enumerated() { targetRow[p] = token }
                        }
                    },
                    dropout: { _ in nil })
                batch.losses = { m, losses in
                    for (row, sequence) in context.sequences(m).enumerated() where round * B + sequence < windows.count {
                        out[round * B + sequence] = windows[round * B + sequence].scored.reduce(0) {
                            $0 - Double(losses[row * T + $1])
                        }
                    }
                }
                _ = try context.pipeline.evaluate(batch)
            }
        }
        _ = context.model.takeRoutingTotals()
        // Every tensor rank of the last stage holds the same values; the others hold zeros.
        if context.groups.layout.tpIndex != 0 { values = values.map { _ in 0 } }
        try context.groups.world.allReduce(&values, op: .sum)
        return values
    }
}
