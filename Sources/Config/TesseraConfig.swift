/// The whole run configuration. `TesseraConfig()` is the contract's default config; a file sets
/// some keys, `--set` overrides some more, and `validate()` checks every value before training.
public struct TesseraConfig: Sendable, Codable, Equatable {
    public var run = RunConfig()
    public var data = DataConfig()
    public var model = ModelConfig()
    public var parallel = ParallelConfig()
    public var precision = PrecisionConfig()
    public var train = TrainConfig()
    public var checkpoint = CheckpointConfig()
    /// `[[stage]]`: the steps of `tessera pipeline`, in order.
    public var stages: [Stage] = []
    /// `[[eval]]`: held-out sets scored during training.
    public var evals: [EvalEntry] = []
    /// `[[alarm]]`: rules on the run's metrics.
    public var alarms: [AlarmRule] = []

    public init() {}

    enum CodingKeys: String, CodingKey {
        case run, data, model, parallel, precision, train, checkpoint, stages = "stage", evals = "eval", alarms = "alarm"
    }

    /// Reads the TOML file at `path`, applies `overrides` ("section.key=value", in order) and
    /// validates the result. Throws `ConfigError`.
    public static func load(path: String, overrides: [String] = []) throws -> TesseraConfig {
        try parse(toml: ConfigFile.read(path), overrides: overrides, source: path)
    }

    /// As `load`, from TOML text; `source` names the text in error messages.
    public static func parse(toml: String, overrides: [String] = [], source: String = "config") throws
        -> TesseraConfig
    {
        var config = TesseraConfig()
        try TOMLReader.read(toml, source: source, into: &config)
        for override in overrides {
            try Override.apply(override, to: &config)
        }
        try config.validate()
        return config
    }

    /// This config with `stage.set` applied, validated. `tessera pipeline` sets `train.init_from`
    /// to the previous stage's checkpoint first, so a dpo stage validates.
    public func applying(_ stage: Stage) throws -> TesseraConfig {
        var config = self
        let source = "stage '\(stage.name)'"
        for (key, value) in stage.set.sorted(by: { $0.key < $1.key }) {
            try TOMLReader.lookUp(key, source: source).write(value, to: &config, source: source)
        }
        try config.validate()
        return config
    }
}
