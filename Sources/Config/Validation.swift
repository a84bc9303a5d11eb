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
        try require(run.peakGflops >= 0 && run.peakGflops <= Limits.peakGflops, "run.peak_gflops", run.peakGflops,
                    "must be in [0, \(Limits.peakGflops)] (0 = measure at start-up)")
        try require(!run.dir.isEmpty, "run.dir", "\"\"", "must name a folder")

        try require(data.valFraction > 0 && data.valFraction < 1, "data.val_fraction", data.valFraction,
                    "must be in (0, 1)")
        try require(data.tokenizer != .sentencepiece || !data.tokenizerModel.isEmpty, "data.tokenizer_model",
                    "\"\"", "must name a SentencePiece .model when data.tokenizer = \"sentencepiece\"")

        try within(model.nLayer, 1, Limits.layers, "model.n_layer")
        try within(model.nHead, 1, Limits.heads, "model.n_head")
        try within(model.nEmbd, 1, Limits.embedding, "model.n_embd")
        try require(model.nEmbd % model.nHead == 0, "model.n_embd", model.nEmbd,
                    "must be divisible by model.n_head = \(model.nHead)")
        try within(model.blockSize, 1, Limits.blockSize, "model.block_size")
        try within(model.vocabSize, 0, Limits.vocabulary, "model.vocab_size", "0 = from the tokenizer")
        try require(model.dropout >= 0 && model.dropout < 1, "model.dropout", model.dropout, "must be in [0, 1)")
        try within(model.nExperts, 0, Limits.experts, "model.n_experts", "0 = dense")
        if model.nExperts > 0 {
            try require(model.topK >= 1 && model.topK <= model.nExperts, "model.top_k", model.topK,
                        "must be in [1, model.n_experts = \(model.nExperts)]")
        }
        try require(model.capacityFactor > 0 && model.capacityFactor <= Limits.capacityFactor, "model.capacity_factor",
                    model.capacityFactor, "must be in (0, \(Limits.capacityFactor)]")
        try require(model.auxLossCoef >= 0 && model.auxLossCoef <= Limits.coefficient, "model.aux_loss_coef",
                    model.auxLossCoef, "must be in [0, \(Limits.coefficient)]")
        try require(model.normEps > 0 && model.normEps < 1, "model.norm_eps", model.normEps, "must be in (0, 1)")
        try require(model.ropeTheta > 1 && model.ropeTheta <= Limits.ropeTheta, "model.rope_theta", model.ropeTheta,
                    "must be in (1, \(Limits.ropeTheta)]")
        try within(model.nKVHead, 0, model.nHead, "model.n_kv_head", "0 = model.n_head")
        try require(model.nHead % model.effectiveKVHeads == 0, "model.n_kv_head", model.nKVHead,
                    "must divide model.n_head = \(model.nHead)")
        try require(model.effectivePosition != .rope || (model.nEmbd / model.nHead) % 2 == 0, "model.position",
                    "\"rope\"", "needs an even head size, and model.n_embd / model.n_head = \(model.nEmbd / model.nHead)")
        try within(model.ffnHidden, 0, Limits.ffnHidden, "model.ffn_hidden", "0 = the family's")
        try within(model.nEncoderLayer, 0, Limits.layers, "model.n_encoder_layer", "0 = model.n_layer")
        try within(model.nDecoderLayer, 0, Limits.layers, "model.n_decoder_layer", "0 = model.n_layer")
        try within(model.encoderBlockSize, 0, Limits.blockSize, "model.encoder_block_size", "0 = model.block_size")
        try within(model.relativeBuckets, 4, Limits.relativeBuckets, "model.relative_buckets")
        try require(model.relativeMaxDistance > model.relativeBuckets / 2 && model.relativeMaxDistance <= Limits.blockSize,
                    "model.relative_max_distance", model.relativeMaxDistance,
                    "must be in (model.relative_buckets / 2 = \(model.relativeBuckets / 2), \(Limits.blockSize)]")
        // T5's parts go together: the relative bias belongs to the encoder-decoder, whose checkpoints
        // and cross-attention have multi-head attention.
        try require((model.family == .t5) == (model.effectivePosition == .relative), "model.position",
                    ConfigValue.quoted(model.effectivePosition.rawValue),
                    model.family == .t5 ? "must be \"relative\" for model.family = \"t5\""
                        : "\"relative\" is T5's: set model.family = \"t5\"")
        try require(model.family != .t5 || model.effectiveKVHeads == model.nHead, "model.n_kv_head", model.nKVHead,
                    "must be 0 or model.n_head for model.family = \"t5\" (T5 has multi-head attention)")

        try within(parallel.tp, 1, Limits.ranks, "parallel.tp")
        try within(parallel.pp, 1, Limits.ranks, "parallel.pp")
        try within(parallel.ep, 1, Limits.ranks, "parallel.ep")
        try within(parallel.microbatches, 1, Limits.batch, "parallel.microbatches")
        try require(parallel.zero == 0 || parallel.zero == 1, "parallel.zero", parallel.zero, "must be 0 or 1")

        if case .fixed(let scale) = precision.lossScale {
            try require(scale > 0 && scale <= Limits.lossScale, "precision.loss_scale", scale,
                        "must be \"dynamic\", \"none\" or a number in (0, 2^24]")
        }

        try within(train.batchSize, 1, Limits.batch, "train.batch_size")
        try within(train.steps, 1, Limits.steps, "train.steps")
        try require(train.lr > 0 && train.lr <= Limits.learningRate, "train.lr", train.lr,
                    "must be in (0, \(Limits.learningRate)]")
        try require(train.minLR >= 0 && train.minLR <= train.lr, "train.min_lr", train.minLR,
                    "must be in [0, train.lr = \(train.lr)]")
        try within(train.warmupSteps, 0, Limits.steps, "train.warmup_steps")
        try within(train.lrDecaySteps, 0, Limits.steps, "train.lr_decay_steps", "0 = train.steps")
        try require(train.weightDecay >= 0 && train.weightDecay <= Limits.coefficient, "train.weight_decay",
                    train.weightDecay, "must be in [0, \(Limits.coefficient)]")
        try require(train.beta1 >= 0 && train.beta1 < 1, "train.beta1", train.beta1, "must be in [0, 1)")
        try require(train.beta2 >= 0 && train.beta2 < 1, "train.beta2", train.beta2, "must be in [0, 1)")
        try require(train.gradClip >= 0, "train.grad_clip", train.gradClip, "must be at least 0 (0 = off)")
        try within(train.logEvery, 1, Limits.steps, "train.log_every")
        try within(train.evalEvery, 0, Limits.steps, "train.eval_every", "0 = off")
        try within(train.evalSteps, 1, Limits.evalBatches, "train.eval_steps")
        try require(train.dpoBeta > 0 && train.dpoBeta <= Limits.coefficient, "train.dpo_beta", train.dpoBeta,
                    "must be in (0, \(Limits.coefficient)]")
        try require(train.noiseDensity > 0 && train.noiseDensity < 1, "train.noise_density", train.noiseDensity,
                    "must be in (0, 1)")
        try require(train.meanSpan >= 1 && train.meanSpan <= Double(Limits.blockSize), "train.mean_span", train.meanSpan,
                    "must be in [1, \(Limits.blockSize)]")
        try require(train.objective.isEncoderDecoder == (model.family == .t5), "train.objective",
                    ConfigValue.quoted(train.objective.rawValue),
                    model.family == .t5 ? "cannot train model.family = \"t5\", an encoder-decoder: use \"span_corruption\" or \"seq2seq\""
                        : "trains an encoder-decoder: set model.family = \"t5\"")
        if train.objective == .dpo {
            try require(!train.initFrom.isEmpty, "train.init_from", "\"\"",
                        "must name a checkpoint when train.objective = \"dpo\"")
            try require(!data.preferences.isEmpty, "data.preferences", "\"\"",
                        "must name a JSONL file when train.objective = \"dpo\"")
        }

        try within(checkpoint.every, 0, Limits.steps, "checkpoint.every", "0 = only at the end")
        try within(checkpoint.keep, 1, Limits.keptCheckpoints, "checkpoint.keep")

        var names: Set<String> = []
        for (index, stage) in stages.enumerated() {
            try require(!stage.name.isEmpty, "stage.name", "\"\"", "must be given (stage \(index + 1))")
            try require(names.insert(stage.name).inserted, "stage.name", "\"\(stage.name)\"",
                        "is used by more than one stage")
            guard let gate = stage.drift else { continue }
            try require(stage.set.isEmpty, "stage.set", "{...}", "cannot go with stage.drift in stage '\(stage.name)': a drift stage trains nothing")
            try require(!gate.current.isEmpty, "stage.drift.current", "\"\"", "must name the new data in stage '\(stage.name)'")
            try require((gate.threshold ?? 0) >= 0 && (gate.threshold ?? 0).isFinite, "stage.drift.threshold", gate.threshold ?? 0,
                        "must be a finite number ≥ 0 in stage '\(stage.name)'")
            try require(gate.metric != .loss || !gate.checkpoint.isEmpty || stages[..<index].contains { $0.drift == nil },
                        "stage.drift.metric", "\"loss\"", "needs a model: stage.drift.checkpoint, or a training stage before '\(stage.name)'")
        }
        try require(evals.isEmpty || model.family != .t5, "eval", "[[eval]]",
                    "is for decoders: model.family = \"t5\" validates on its own pairs (train.eval_every)")
        try validateEvals()
        try validateAlarms()
    }

    /// Each `[[eval]]` names a file and a metric suffix of its own; `every` counts steps.
    private func validateEvals() throws {
        var names: Set<String> = []
        for (index, entry) in evals.enumerated() {
            let at = " ([[eval]] \(index + 1))"
            try require(!entry.name.isEmpty && entry.name.unicodeScalars.allSatisfy(Self.isNameCharacter), "eval.name",
                        ConfigValue.quoted(entry.name), "must be letters, digits, '_', '-' or '.'" + at)
            try require(names.insert(entry.name).inserted, "eval.name", ConfigValue.quoted(entry.name),
                        "is used by more than one [[eval]]")
            try require(!entry.path.isEmpty, "eval.path", "\"\"", "must name a file or a folder of shards" + at)
            try within(entry.every, 1, Limits.steps, "eval.every", "[[eval]] \(index + 1)")
        }
    }

    /// What each condition's `value` means sets its range; `exec` needs its command, and a command
    /// with another action is a mistake (the action was meant to be exec).
    private func validateAlarms() throws {
        for (index, rule) in alarms.enumerated() {
            let at = " ([[alarm]] \(index + 1))"
            try require(!rule.metric.isEmpty, "alarm.metric", "\"\"", "must name a metric, e.g. \"loss\"" + at)
            switch rule.when {
            case .jump, .drop:
                try require(rule.value > 0, "alarm.value", rule.value, "must be above 0 for when = \"\(rule.when)\"" + at)
            case .stalled:
                try require(rule.value > 0 && rule.value <= Limits.stallSeconds, "alarm.value", rule.value,
                            "must be in (0, \(Limits.stallSeconds)] seconds for when = \"stalled\"" + at)
            case .nonfinite, .above, .below:
                break
            }
            try within(rule.window, 1, Limits.alarmWindow, "alarm.window", "[[alarm]] \(index + 1)")
            if rule.action == .exec {
                try require(!rule.command.trimmingSpaces.isEmpty, "alarm.command", "\"\"",
                            "must name a shell command for action = \"exec\"" + at)
            } else {
                try require(rule.command.isEmpty, "alarm.command", ConfigValue.quoted(rule.command),
                            "is only run by action = \"exec\", and this rule's action is \"\(rule.action)\"" + at)
            }
        }
    }

    /// The characters of an eval name, which ends metric names (`val_loss/NAME`).
    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "_-.".unicodeScalars.contains(scalar))
    }

    /// Throws `key = value must be in [lowest, highest]` (with `note` in brackets) unless it is.
    private func within(_ value: Int, _ lowest: Int, _ highest: Int, _ key: String, _ note: String? = nil) throws {
        try require((lowest...highest).contains(value), key, value,
                    "must be in [\(lowest), \(highest)]" + (note.map { " (\($0))" } ?? ""))
    }

    /// Throws `key = value rule` unless `condition` holds. Floats are checked finite first.
    private func require(_ condition: Bool, _ key: String, _ value: some CustomStringConvertible,
                         _ rule: String) throws {
        guard condition else { throw ConfigError.badValue(key: key, message: "\(key) = \(value) \(rule)") }
    }
}
