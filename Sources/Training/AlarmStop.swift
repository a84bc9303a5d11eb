import Checkpoint

/// A `stop` alarm ended the run after its checkpoint was saved: every rank exits 3, which
/// `--restarts` does not retry (the condition would only fire again).
public struct AlarmStop: Error, CustomStringConvertible {
    public let description: String
}

extension Trainer {
    /// Ends the run on a `stop` alarm, on every rank at the same step: the checkpoint of this step
    /// is saved (unless the loop just saved it) and AlarmStop thrown; when the value that fired is
    /// not finite, nothing is saved and the run fails as a non-finite loss does (exit 1).
    func end(_ stop: AlarmMonitor.Stop, step: Int, checkpointSaved: Bool, report: RunReport) throws -> Never {
        report.alarms.finish()
        let rule = stop.firing.map { "\($0.rule.metric) \($0.rule.when)" } ?? "a stop rule"
        guard stop.savesCheckpoint else {
            throw RunError("an alarm on \(rule) stopped the run at step \(step): the value is not finite, so no checkpoint "
                + "is saved (the weights behind it are not sound); the newest complete checkpoint is the one to resume",
                seenByEveryRank: true)
        }
        if !checkpointSaved {
            watchdog.enter(.checkpoint, step: step)
            try saveCheckpoint(step: step)
        }
        let folder = CheckpointFolder(runDirectory: config.run.dir).path(step: step)
        throw AlarmStop(description: "stopped at step \(step) by the alarm on \(rule); checkpoint \(folder) saved (exit 3)")
    }
}
