import Config

/// The names of a run's metrics, known before its first step: what `[[alarm]]` rules may watch.
/// The lists mirror the code that writes the rows (`RunReport.step`, `Trainer.stepFields`, the
/// objectives' `stepResult` and `evaluate`, `HeldOutSet.metricNames`); the integration test
/// `everyMetricLoggedIsOneAlarmsMayWatch` holds them to it.
enum RunMetrics {
    static func names(config: TesseraConfig, heldOut: [HeldOutSet]) -> [String] {
        var names = ["loss", "lr", "grad_norm", "tokens_per_s", "step_ms", "mfu"]
        if config.precision.gradAllreduce == .fp16 && config.precision.lossScale != .none {
            names += ["loss_scale", "skipped_steps"]
        }
        let evaluates = config.train.evalEvery > 0
        switch config.train.objective {
        case .lm, .spanCorruption, .seq2seq:
            names += evaluates ? ["val_loss"] : []
        case .dpo:
            names += ["reward_margin", "preference_accuracy", "kl"]
            names += evaluates ? ["val_loss", "val_preference_accuracy", "val_reward_accuracy", "val_lm_loss"] : []
        }
        if config.model.nExperts > 0 { names += ["aux_loss", "dropped_fraction", "expert_load_min", "expert_load_max"] }
        return names + heldOut.flatMap(\.metricNames)
    }

    /// Refuses a rule on a metric the run does not have, suggesting a near name.
    static func check(_ rules: [AlarmRule], against names: [String]) throws {
        for (index, rule) in rules.enumerated() where !names.contains(rule.metric) {
            let hint = Suggestion.nearest(to: rule.metric, in: names).map { "did you mean '\($0)'? " } ?? ""
            throw SetupError("alarm.metric = \"\(rule.metric)\" ([[alarm]] \(index + 1)) is not a metric of this run; \(hint)"
                + "its metrics: \(names.joined(separator: ", "))")
        }
    }
}
