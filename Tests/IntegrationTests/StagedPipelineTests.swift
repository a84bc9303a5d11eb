import Foundation
import Testing

/// `tessera pipeline`: stages run in order, each from the previous stage's final checkpoint; killed
/// mid-stage and rerun, it skips what finished and resumes the rest to the same result.
@Suite(.serialized)
struct StagedPipelineTests {
    static func config(_ runDir: URL) throws -> URL {
        let data = packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path
        let text = """
        [run]
        dir = "\(runDir.path)"
        [data]
        path = "\(data)"
        [model]
        n_layer = 2
        n_head = 4
        n_embd = 32
        block_size = 16
        [train]
        batch_size = 8
        steps = 6
        log_every = 1
        eval_every = 3
        eval_steps = 2
        warmup_steps = 1
        lr = 3e-3
        [checkpoint]
        every = 2

        [[stage]]
        name = "pretrain"
        set = { "train.steps" = 6 }

        [[stage]]
        name = "finetune"
        set = { "train.steps" = 4, "train.lr" = 1e-3 }
        """
        let file = runDir.appendingPathComponent("pipeline.toml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    static func pipeline(_ runDir: URL, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        runMPI(np: 2, executable: Tessera.executable, arguments: ["pipeline", "--config", try config(runDir).path],
               environment: environment, timeout: 180)
    }

    static func losses(_ runDir: URL, stage: String) -> [Int: Double] {
        TesseraRun(status: 0, stdout: "", stderr: "", runDir: runDir.appendingPathComponent("stages/\(stage)")).losses
    }

    @Test func stagesChainAndAKilledPipelineResumes() throws {
        let clean = Tessera.temporaryDirectory("pipeline-clean")
        let run = try Self.pipeline(clean)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("| 1 | pretrain | 6 |") && run.stdout.contains("| 2 | finetune | 4 |"), "\(run.stdout)")
        let pretrain = Self.losses(clean, stage: "1-pretrain"), finetune = Self.losses(clean, stage: "2-finetune")
        #expect(pretrain.count == 6 && finetune.count == 4)
        // The second stage starts from the first's weights: near its final loss, not at ln(65).
        #expect(abs((finetune[1] ?? 0) - (pretrain[6] ?? 0)) < 0.2, "finetune starts at \(finetune[1] ?? .nan)")

        let killed = Tessera.temporaryDirectory("pipeline-killed")
        let first = try Self.pipeline(killed, environment: ["TESSERA_KILL_IN_SAVE": "4:1"])
        #expect(first.status != 0)
        let second = try Self.pipeline(killed)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resuming from"), "\(second.stderr)")
        #expect(Self.losses(killed, stage: "2-finetune") == finetune, "the resumed pipeline ends where the clean one does")
        let third = try Self.pipeline(killed)
        #expect(third.stderr.contains("stage 1 'pretrain' already finished") && third.stderr.contains("stage 2 'finetune' already finished"),
                "\(third.stderr)")
    }
}
