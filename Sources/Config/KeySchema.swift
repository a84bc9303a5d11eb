/// The table of every config key in contract order: the one place that ties a TOML name to a
/// property and a type. Reading, `--set`, stage overrides and `tomlText()` all go through it, so a
/// new key is one line here plus its property.
enum Schema {
    static let keys: [KeySpec] = [
        KeySpec("run", "dir", .text(\.run.dir)),
        KeySpec("run", "seed", .integer(\.run.seed)),
        KeySpec("run", "peak_gflops", .number(\.run.peakGflops)),
        KeySpec("run", "tensorboard", .bool(\.run.tensorboard)),
        KeySpec("run", "prometheus", .bool(\.run.prometheus)),

        KeySpec("data", "path", .text(\.data.path)),
        KeySpec("data", "tokenizer", .choice(\.data.tokenizer)),
        KeySpec("data", "tokenizer_model", .text(\.data.tokenizerModel)),
        KeySpec("data", "val_fraction", .number(\.data.valFraction)),
        KeySpec("data", "preferences", .text(\.data.preferences)),

        KeySpec("model", "n_layer", .integer(\.model.nLayer)),
        KeySpec("model", "n_head", .integer(\.model.nHead)),
        KeySpec("model", "n_embd", .integer(\.model.nEmbd)),
        KeySpec("model", "block_size", .integer(\.model.blockSize)),
        KeySpec("model", "vocab_size", .integer(\.model.vocabSize)),
        KeySpec("model", "dropout", .number(\.model.dropout)),
        KeySpec("model", "n_experts", .integer(\.model.nExperts)),
        KeySpec("model", "top_k", .integer(\.model.topK)),
        KeySpec("model", "capacity_factor", .number(\.model.capacityFactor)),
        KeySpec("model", "aux_loss_coef", .number(\.model.auxLossCoef)),
        KeySpec("model", "family", .choice(\.model.family)),
        KeySpec("model", "norm", .choice(\.model.norm, effective: \.model.effectiveNorm)),
        KeySpec("model", "norm_eps", .number(\.model.normEps)),
        KeySpec("model", "position", .choice(\.model.position, effective: \.model.effectivePosition)),
        KeySpec("model", "rope_theta", .number(\.model.ropeTheta)),
        KeySpec("model", "n_kv_head", .integer(\.model.nKVHead)),
        KeySpec("model", "mlp", .choice(\.model.mlp, effective: \.model.effectiveMLP)),
        KeySpec("model", "ffn_hidden", .integer(\.model.ffnHidden)),
        KeySpec("model", "bias", .flag(\.model.bias, effective: \.model.effectiveBias)),
        KeySpec("model", "tie_embeddings", .flag(\.model.tieEmbeddings, effective: \.model.effectiveTieEmbeddings)),
        KeySpec("model", "n_encoder_layer", .integer(\.model.nEncoderLayer)),
        KeySpec("model", "n_decoder_layer", .integer(\.model.nDecoderLayer)),
        KeySpec("model", "encoder_block_size", .integer(\.model.encoderBlockSize)),
        KeySpec("model", "relative_buckets", .integer(\.model.relativeBuckets)),
        KeySpec("model", "relative_max_distance", .integer(\.model.relativeMaxDistance)),

        KeySpec("parallel", "tp", .integer(\.parallel.tp)),
        KeySpec("parallel", "pp", .integer(\.parallel.pp)),
        KeySpec("parallel", "ep", .integer(\.parallel.ep)),
        KeySpec("parallel", "microbatches", .integer(\.parallel.microbatches)),
        KeySpec("parallel", "schedule", .choice(\.parallel.schedule)),
        KeySpec("parallel", "zero", .integer(\.parallel.zero)),

        KeySpec("precision", "compute", .choice(\.precision.compute)),
        KeySpec("precision", "grad_allreduce", .choice(\.precision.gradAllreduce)),
        KeySpec("precision", "loss_scale", .lossScale),

        KeySpec("train", "batch_size", .integer(\.train.batchSize)),
        KeySpec("train", "steps", .integer(\.train.steps)),
        KeySpec("train", "lr", .number(\.train.lr)),
        KeySpec("train", "min_lr", .number(\.train.minLR)),
        KeySpec("train", "warmup_steps", .integer(\.train.warmupSteps)),
        KeySpec("train", "lr_decay_steps", .integer(\.train.lrDecaySteps)),
        KeySpec("train", "weight_decay", .number(\.train.weightDecay)),
        KeySpec("train", "beta1", .number(\.train.beta1)),
        KeySpec("train", "beta2", .number(\.train.beta2)),
        KeySpec("train", "grad_clip", .number(\.train.gradClip)),
        KeySpec("train", "log_every", .integer(\.train.logEvery)),
        KeySpec("train", "eval_every", .integer(\.train.evalEvery)),
        KeySpec("train", "eval_steps", .integer(\.train.evalSteps)),
        KeySpec("train", "objective", .choice(\.train.objective)),
        KeySpec("train", "init_from", .text(\.train.initFrom)),
        KeySpec("train", "dpo_beta", .number(\.train.dpoBeta)),
        KeySpec("train", "noise_density", .number(\.train.noiseDensity)),
        KeySpec("train", "mean_span", .number(\.train.meanSpan)),

        KeySpec("checkpoint", "every", .integer(\.checkpoint.every)),
        KeySpec("checkpoint", "keep", .integer(\.checkpoint.keep)),
    ]

    /// Section names in contract order (`[[stage]]` is handled apart: it is an array of tables).
    static let sections: [String] = keys.reduce(into: []) { names, spec in
        if names.last != spec.section { names.append(spec.section) }
    }

    /// Arrays of tables, read apart from the sections: `[[stage]]`, `[[eval]]`, `[[alarm]]`.
    static let tableArrays = ["stage", EvalEntry.schema.table, AlarmRule.schema.table]

    static let allKeys: [String] = keys.map(\.key)

    private static let byKey: [String: KeySpec] = Dictionary(uniqueKeysWithValues: keys.map { ($0.key, $0) })

    static func spec(_ key: String) -> KeySpec? { byKey[key] }
}

/// One config key: its place, and how to read and write it on a `TesseraConfig`.
struct KeySpec: Sendable {
    let section: String
    let name: String
    let access: Access

    init(_ section: String, _ name: String, _ access: Access) {
        self.section = section
        self.name = name
        self.access = access
    }

    var key: String { section + "." + name }

    /// What the key holds and where; `choice` keeps the enum's spellings and type-erased accessors.
    enum Access: Sendable {
        case integer(WritableKeyPath<TesseraConfig, Int> & Sendable)
        case number(WritableKeyPath<TesseraConfig, Double> & Sendable)
        case text(WritableKeyPath<TesseraConfig, String> & Sendable)
        case choice(names: [String], read: @Sendable (TesseraConfig) -> String,
                    write: @Sendable (inout TesseraConfig, String) -> Bool)
        case flag(read: @Sendable (TesseraConfig) -> Bool, write: @Sendable (inout TesseraConfig, Bool) -> Void)
        case bool(WritableKeyPath<TesseraConfig, Bool> & Sendable)
        case lossScale

        static func choice<E: RawRepresentable & CaseIterable & Sendable>(
            _ path: WritableKeyPath<TesseraConfig, E> & Sendable
        ) -> Access where E.RawValue == String {
            .choice(names: E.allCases.map(\.rawValue),
                    read: { $0[keyPath: path].rawValue },
                    write: { config, text in
                        guard let value = E(rawValue: text) else { return false }
                        config[keyPath: path] = value
                        return true
                    })
        }

        /// A choice that a family may make: unset (nil) it reads as `effective`.
        static func choice<E: RawRepresentable & CaseIterable & Sendable>(
            _ path: WritableKeyPath<TesseraConfig, E?> & Sendable, effective: KeyPath<TesseraConfig, E> & Sendable
        ) -> Access where E.RawValue == String {
            .choice(names: E.allCases.map(\.rawValue),
                    read: { $0[keyPath: effective].rawValue },
                    write: { config, text in
                        guard let value = E(rawValue: text) else { return false }
                        config[keyPath: path] = value
                        return true
                    })
        }

        /// A boolean that a family may set: unset (nil) it reads as `effective`.
        static func flag(_ path: WritableKeyPath<TesseraConfig, Bool?> & Sendable,
                         effective: KeyPath<TesseraConfig, Bool> & Sendable) -> Access {
            .flag(read: { $0[keyPath: effective] }, write: { $0[keyPath: path] = $1 })
        }

        /// For "must be X" messages.
        var expected: String {
            switch self {
            case .integer: "an integer"
            case .number: "a number"
            case .text: "a string"
            case .choice(let names, _, _): "one of " + names.joined(separator: ", ")
            case .flag, .bool: "true or false"
            case .lossScale: "\"dynamic\", \"none\" or a positive number"
            }
        }
    }

    /// Whether a bare (unquoted) `--set` word is taken as a string for this key.
    var acceptsBareWord: Bool {
        switch access {
        case .text, .choice, .lossScale: true
        case .integer, .number, .flag, .bool: false
        }
    }

    func read(_ config: TesseraConfig) -> ConfigValue {
        switch access {
        case .integer(let path): .int(config[keyPath: path])
        case .number(let path): .float(config[keyPath: path])
        case .text(let path): .string(config[keyPath: path])
        case .choice(_, let read, _): .string(read(config))
        case .flag(let read, _): .bool(read(config))
        case .bool(let path): .bool(config[keyPath: path])
        case .lossScale: config.precision.lossScale.configValue
        }
    }

    /// Stores `value`, accepting an integer for a float key; rejects other types, non-finite floats
    /// and words outside a choice. Ranges are checked later, by `validate()`, on the whole config.
    func write(_ value: ConfigValue, to config: inout TesseraConfig, source: String) throws {
        switch (access, value) {
        case (.integer(let path), .int(let number)):
            config[keyPath: path] = number
        case (.number(let path), .int(let number)):
            config[keyPath: path] = Double(number)
        case (.number(let path), .float(let number)):
            guard number.isFinite else {
                throw ConfigError.badValue(key: key, message: "\(key) must be finite, got \(number) in \(source)")
            }
            config[keyPath: path] = number
        case (.text(let path), .string(let text)):
            config[keyPath: path] = text
        case (.choice(_, _, let write), .string(let text)) where write(&config, text):
            break
        case (.flag(_, let write), .bool(let value)):
            write(&config, value)
        case (.bool(let path), .bool(let value)):
            config[keyPath: path] = value
        case (.choice, .string):
            throw notAChoice(value, source: source)
        case (.lossScale, _):
            guard let scale = LossScale(value) else { throw notAChoice(value, source: source) }
            config.precision.lossScale = scale
        default:
            throw ConfigError.wrongType(key: key, expected: access.expected, found: "\(value.typeName) \(value)",
                                        source: source)
        }
    }

    private func notAChoice(_ value: ConfigValue, source: String) -> ConfigError {
        .badValue(key: key, message: "\(key) must be \(access.expected), got \(value) in \(source)")
    }
}
