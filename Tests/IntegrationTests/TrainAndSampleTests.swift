import Foundation
import Testing

@Suite(.serialized)
struct TrainAndSampleTests {
    @Test func aShortRunLowersTheLossAndSamplePrintsText() throws {
        let run = Tessera.train(np: 2, overrides: ["train.steps=60", "train.log_every=10", "train.eval_every=30",
                                                   "train.eval_steps=4"], label: "short")
        #expect(run.status == 0, "\(run.stderr)")
        let losses = run.losses
        let first = try #require(losses[10]), last = try #require(losses[60])
        #expect(last < first - 0.3, "loss went \(first) → \(last)")
        #expect(run.valLosses.keys.sorted() == [30, 60])
        // Progress lines with throughput and ETA come from one rank.
        #expect(run.stderr.components(separatedBy: "step 60/60 | loss").count == 2, "\(run.stderr)")
        #expect(run.stderr.contains("tok/s") && run.stderr.contains("ETA"))

        let model = run.runDir.appendingPathComponent("model.h5")
        #expect(FileManager.default.fileExists(atPath: model.path))
        let sample = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", run.runDir.path, "--prompt", "ROMEO:",
                                        "--tokens", "80", "--top-k", "10", "--seed", "7"], timeout: 60)
        #expect(sample.status == 0, "\(sample.stderr)")
        #expect(sample.stdout.hasPrefix("ROMEO:"))
        #expect(sample.stdout.count >= 80, "\(sample.stdout)")
        // Same seed, same text; another seed, other text.
        let again = runMPI(np: 1, executable: Tessera.executable,
                           arguments: ["sample", "--checkpoint", model.path, "--prompt", "ROMEO:",
                                       "--tokens", "80", "--top-k", "10", "--seed", "7"], timeout: 60)
        #expect(again.stdout == sample.stdout)
        let other = runMPI(np: 1, executable: Tessera.executable,
                           arguments: ["sample", "--checkpoint", model.path, "--prompt", "ROMEO:",
                                       "--tokens", "80", "--seed", "8"], timeout: 60)
        #expect(other.stdout != sample.stdout)
    }

    /// A llama run samples through the key/value cache what recomputing the window samples, past
    /// the block too for the first block's tokens; `--prompts` writes one JSONL line per prompt.
    @Test func llamaSamplesWithTheCacheAsByRecomputationAndAFileOfPrompts() throws {
        let run = Tessera.train(np: 1, overrides: ["model.family=llama", "model.n_kv_head=2", "train.steps=30"],
                                label: "llama-sample")
        #expect(run.status == 0, "\(run.stderr)")
        func sample(_ extra: [String]) -> String {
            let result = runMPI(np: 1, executable: Tessera.executable,
                                arguments: ["sample", "--checkpoint", run.runDir.path, "--prompt", "ROMEO:", "--tokens", "10",
                                            "--top-k", "1"] + extra, timeout: 60)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        // Prompt and tokens fit the block of 16: the same greedy text either way.
        let cached = sample([]), recomputed = sample(["--recompute"])
        #expect(cached == recomputed && cached.hasPrefix("ROMEO:") && cached.count > 10, "\(cached) vs \(recomputed)")

        let folder = Tessera.temporaryDirectory("prompts")
        let prompts = folder.appendingPathComponent("prompts.txt"), out = folder.appendingPathComponent("out.jsonl")
        try "ROMEO:\nJULIET:\n\nTo be\\nor\n".write(to: prompts, atomically: true, encoding: .utf8)
        let result = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", run.runDir.path, "--prompts", prompts.path, "--out", out.path,
                                        "--tokens", "12", "--seed", "3"], timeout: 60)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] ?? [:] }
        #expect(records.map { $0["prompt"] } == ["ROMEO:", "JULIET:", "To be\nor"], "\(lines)")
        #expect(records.allSatisfy { ($0["text"] ?? "").count >= 4 }, "\(lines)")
        // Prompt i draws with seed + i: the first line is `sample --seed 3`'s continuation.
        let single = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", run.runDir.path, "--prompt", "ROMEO:", "--tokens", "12",
                                        "--seed", "3"], timeout: 60)
        #expect(single.stdout == "ROMEO:" + (records.first?["text"] ?? "") + "\n", "\(single.stdout)")
        let both = runMPI(np: 1, executable: Tessera.executable,
                          arguments: ["sample", "--checkpoint", run.runDir.path, "--prompts", prompts.path], timeout: 60)
        #expect(both.status == 2 && both.stderr.contains("--prompts and --out go together"), "\(both.stderr)")
    }

    @Test func aNonFiniteLossStopsEveryRankWithExitOne() {
        let run = Tessera.train(np: 2, overrides: ["train.lr=1e6", "train.warmup_steps=0", "train.grad_clip=0",
                                                   "train.steps=50"], label: "nan", timeout: 60)
        #expect(run.status == 1, "exit \(run.status): \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("loss is"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run.runDir.appendingPathComponent("model.h5").path))
        // The built-in alarm says so in metrics.jsonl too; nothing is saved of the broken weights.
        let alarms = AlarmTests.alarmRows(run)
        #expect(alarms.count == 1 && alarms[0]["alarm"] as? String == "loss" && alarms[0]["when"] as? String == "nonfinite"
            && alarms[0]["action"] as? String == "stop" && alarms[0]["value"] is NSNull, "\(alarms)")
        #expect(!FileManager.default.fileExists(atPath: run.runDir.appendingPathComponent("checkpoints/latest").path))
    }

    @Test func sampleFromAMissingCheckpointExitsTwo() {
        let result = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", "/nonexistent/run"], timeout: 60)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error:") && result.stderr.contains("/nonexistent/run"), "\(result.stderr)")
    }
}
