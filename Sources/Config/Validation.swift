/// Range, choice and requirement checks on every value, in contract order; the first failure is
/// thrown as one line naming the key, e.g. `model.dropout = 1.5 must be in [0, 1)`.
/// Layout checks need the world size and live in `validateLayout(worldSize:)`.
extension TesseraConfig {
    public func validate() throws {
        for spec in Schema.keys {
            if case .number(let path) = spec.access {
                try require(self[keyPath: path].isFinite, spec.key, self[keyPath: path], "must be finite")
            }
        }
        try require(run.seed >= 0, "run.seed", run.seed, "must be at least 0")
        try require(run.peakGflops >= 0, "run.peak_gflops", run.peakGflops,
                    "must be at least 0 (0 = measure at start-up)")

        try require(data.valFraction > 0 && data.valFraction < 1, "data.val_fraction", data.valFraction,
                    "must be in (0, 1)")
        try require(data.tokenizer != .sentencepiece || !data.tokenizerModel.isEmpty, "data.tokenizer_model",
                    "\"\"", "must name a SentencePiece .model when data.tokenizer = \"sentencepiece\"")

        try require(model.nLayer >= 1, "model.n_layer", model.nLayer, "must be at least 1")
        try require(model.nHead >= 1, "model.n_head", model.nHead, "must be at least 1")
        try require(model.nEmbd >= 1, "model.n_embd", model.nEmbd, "must be at least 1")
        try require(model.nEmbd % model.nHead == 0, "model.n_embd", model.nEmbd,
                    "must be divisible by model.n_head = \(model.nHead)")
        try require(model.blockSize >= 1, "model.block_size", model.blockSize, "must be at least 1")
        try require(model.vocabSize >= 0, "model.vocab_size", model.vocabSize,
                    "must be at least 0 (0 = from the tokenizer)")
        try require(model.dropout >= 0 && model.dropout < 1, "model.dropout", model.dropout, "must be in [0, 1)")
        try require(model.nExperts >= 0, "model.n_experts", model.nExperts, "must be at least 0 (0 = dense)")
        if model.nExperts > 0 {
            try require(model.topK >= 1 && model.topK <= model.nExperts, "model.top_k", model.topK,
                        "must be in [1, model.n_experts = \(model.nExperts)]")
        }
        try require(model.capacityFactor > 0, "model.capacity_factor", model.capacityFactor, "must be positive")
        try require(model.auxLossCoef >= 0, "model.aux_loss_coef", model.auxLossCoef, "must be at least 0")

        try require(parallel.tp >= 1, "parallel.tp", parallel.tp, "must be at least 1")
        try require(parallel.pp >= 1, "parallel.pp", parallel.pp, "must be at least 1")
        try require(parallel.ep >= 1, "parallel.ep", parallel.ep, "must be at least 1")
        try require(parallel.microbatches >= 1, "parallel.microbatches", parallel.microbatches,
                    "must be at least 1")
        try require(parallel.zero == 0 || parallel.zero == 1, "parallel.zero", parallel.zero, "must be 0 or 1")

        if case .fixed(let scale) = precision.lossScale {
            try require(scale > 0 && scale.isFinite, "precision.loss_scale", scale,
                        "must be \"dynamic\", \"none\" or a positive number")
        }

        try require(train.batchSize >= 1, "train.batch_size", train.batchSize, "must be at least 1")
        try require(train.steps >= 1, "train.steps", train.steps, "must be at least 1")
        try require(train.lr > 0, "train.lr", train.lr, "must be positive")
        try require(train.minLR >= 0 && train.minLR <= train.lr, "train.min_lr", train.minLR,
                    "must be in [0, train.lr = \(train.lr)]")
        try require(train.warmupSteps >= 0, "train.warmup_steps", train.warmupSteps, "must be at least 0")
        try require(train.lrDecaySteps >= 0, "train.lr_decay_steps", train.lrDecaySteps,
                    "must be at least 0 (0 = train.steps)")
        try require(train.weightDecay >= 0, "train.weight_decay", train.weightDecay, "must be at least 0")
        try require(train.beta1 >= 0 && train.beta1 < 1, "train.beta1", train.beta1, "must be in [0, 1)")
        try require(train.beta2 >= 0 && train.beta2 < 1, "train.beta2", train.beta2, "must be in [0, 1)")
        try require(train.gradClip >= 0, "train.grad_clip", train.gradClip, "must be at least 0 (0 = off)")
        try require(train.logEvery >= 1, "train.log_every", train.logEvery, "must be at least 1")
        try require(train.evalEvery >= 0, "train.eval_every", train.evalEvery, "must be at least 0 (0 = off)")
        try require(train.evalSteps >= 1, "train.eval_steps", train.evalSteps, "must be at least 1")
        try require(train.dpoBeta > 0, "train.dpo_beta", train.dpoBeta, "must be positive")
        if train.objective == .dpo {
            try require(!train.initFrom.isEmpty, "train.init_from", "\"\"",
                        "must name a checkpoint when train.objective = \"dpo\"")
            try require(!data.preferences.isEmpty, "data.preferences", "\"\"",
                        "must name a JSONL file when train.objective = \"dpo\"")
        }

        try require(checkpoint.every >= 0, "checkpoint.every", checkpoint.every,
                    "must be at least 0 (0 = only at the end)")
        try require(checkpoint.keep >= 1, "checkpoint.keep", checkpoint.keep, "must be at least 1")

        var names: Set<String> = []
        for (index, stage) in stages.enumerated() {
            try require(!stage.name.isEmpty, "stage.name", "\"\"", "must be given (stage \(index + 1))")
            try require(names.insert(stage.name).inserted, "stage.name", "\"\(stage.name)\"",
                        "is used by more than one stage")
        }
    }

    /// Throws `key = value rule` unless `condition` holds. Floats are checked finite first.
    private func require(_ condition: Bool, _ key: String, _ value: some CustomStringConvertible,
                         _ rule: String) throws {
        guard condition else { throw ConfigError.badValue(key: key, message: "\(key) = \(value) \(rule)") }
    }
}
