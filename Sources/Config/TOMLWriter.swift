/// The canonical TOML of a config, stored in checkpoints: every section and key in contract
/// order, floats in Swift's shortest form, strings quoted. `parse(toml:)` of it gives back an
/// equal config. (TOMLKit's own writer sorts keys and prints floats long.)
extension TesseraConfig {
    public func tomlText() -> String {
        var lines: [String] = []
        for section in Schema.sections {
            if !lines.isEmpty { lines.append("") }
            lines.append("[\(section)]")
            for spec in Schema.keys where spec.section == section {
                lines.append("\(spec.name) = \(spec.read(self))")
            }
        }
        for stage in stages {
            let set = stage.set.sorted { $0.key < $1.key }
                .map { "\(ConfigValue.quoted($0.key)) = \($0.value)" }
                .joined(separator: ", ")
            lines += ["", "[[stage]]", "name = \(ConfigValue.quoted(stage.name))",
                      set.isEmpty ? "set = {}" : "set = { \(set) }"]
            if let gate = stage.drift {
                var fields = [("reference", gate.reference), ("current", gate.current), ("checkpoint", gate.checkpoint),
                              ("metric", gate.metric.rawValue)].map { "\($0.0) = \(ConfigValue.quoted($0.1))" }
                if let threshold = gate.threshold { fields.append("threshold = \(threshold)") }
                lines.append("drift = { \(fields.joined(separator: ", ")) }")
            }
        }
        for entry in evals { lines += [""] + EvalEntry.schema.toml(entry) }
        for rule in alarms { lines += [""] + AlarmRule.schema.toml(rule) }
        return lines.joined(separator: "\n") + "\n"
    }
}
