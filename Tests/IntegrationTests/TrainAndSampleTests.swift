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

    @Test func aNonFiniteLossStopsEveryRankWithExitOne() {
        let run = Tessera.train(np: 2, overrides: ["train.lr=1e6", "train.warmup_steps=0", "train.grad_clip=0",
                                                   "train.steps=50"], label: "nan", timeout: 60)
        #expect(run.status == 1, "exit \(run.status): \(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("loss is"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: run.runDir.appendingPathComponent("model.h5").path))
    }

    @Test func sampleFromAMissingCheckpointExitsTwo() {
        let result = runMPI(np: 1, executable: Tessera.executable,
                            arguments: ["sample", "--checkpoint", "/nonexistent/run"], timeout: 60)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error:") && result.stderr.contains("/nonexistent/run"), "\(result.stderr)")
    }
}
