import Foundation
import Testing

/// DPO from a pretrained checkpoint: it starts at loss ln 2 with a zero margin (the policy is its
/// own reference), and its curve is the same on every layout.
@Suite(.serialized)
struct PreferenceTests {
    static let pairs = packageRoot.appendingPathComponent("data/samples/preferences.jsonl").path

    static func dpo(_ pretrained: TesseraRun) -> [String] {
        ["model.block_size=64", "train.objective=dpo", "train.init_from=\(pretrained.runDir.path)",
         "data.preferences=\(pairs)", "train.lr=1e-4", "train.eval_every=5", "train.steps=10"]
    }

    @Test func dpoStartsAtLn2AndIsLayoutIndependent() {
        let pretrained = Tessera.train(np: 1, overrides: ["model.block_size=64", "train.steps=20"], label: "dpo-pre")
        #expect(pretrained.status == 0, "\(pretrained.stderr)")
        let single = Tessera.train(np: 1, overrides: Self.dpo(pretrained), label: "dpo-1")
        #expect(single.status == 0, "\(single.stderr)")
        #expect(abs((single.losses[1] ?? 0) - log(2)) < 1e-6, "step 1 loss \(single.losses[1] ?? .nan)")
        #expect(abs(single.rows(key: "reward_margin")[1] ?? 1) < 1e-5)
        #expect(single.rows(key: "preference_accuracy").count == 10 && single.rows(key: "kl").count == 10)
        // Evaluated before the first step and at steps 5 and 10, with the LM validation loss.
        #expect(single.rows(key: "val_preference_accuracy").count == 3 && single.rows(key: "val_lm_loss").count == 3)
        // The curve moves: the policy leaves its reference.
        #expect(single.losses.values.contains { abs($0 - log(2)) > 1e-3 })
        for (ranks, layout) in [(2, [String]()), (2, ["parallel.tp=2"]), (2, ["parallel.pp=2", "parallel.microbatches=2"])] {
            let run = Tessera.train(np: ranks, overrides: Self.dpo(pretrained) + layout, label: "dpo-layout")
            expectSameCurve(run, as: single, steps: 10, tolerance: 1e-3)
        }
    }

    /// `tessera prefer --judge`: a pair per prompt appended to the file; a rerun skips what is answered.
    @Test func preferRecordsPairsAndResumes() throws {
        let pretrained = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "prefer-pre")
        let dir = Tessera.temporaryDirectory("prefer")
        let prompts = dir.appendingPathComponent("prompts.txt"), out = dir.appendingPathComponent("pairs.jsonl")
        try "ROMEO:\nJULIET:\\nO Romeo\nFirst Citizen:\n".write(to: prompts, atomically: true, encoding: .utf8)
        let arguments = ["prefer", "--checkpoint", pretrained.runDir.path, "--prompts", prompts.path, "--out", out.path,
                         "--judge", "first", "--tokens", "16"]
        let first = runMPI(np: 1, executable: Tessera.executable, arguments: arguments, timeout: 60)
        #expect(first.status == 0, "\(first.stderr)")
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        let pair = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: String]
        #expect(pair?["prompt"] == "JULIET:\nO Romeo" && pair?["chosen"]?.count == 16 && pair?["chosen"] != pair?["rejected"])
        let again = runMPI(np: 1, executable: Tessera.executable, arguments: arguments, timeout: 60)
        #expect(again.status == 0 && again.stderr.contains("0 pairs recorded") && again.stderr.contains("3 answered before"),
                "\(again.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8).split(separator: "\n").count == 3)
    }

    /// Bad preference data: exit 2 with one line naming the file and line.
    @Test func aMalformedPreferenceLineIsRefused() throws {
        let pretrained = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "dpo-bad-pre")
        let bad = Tessera.temporaryDirectory("dpo-bad").appendingPathComponent("pairs.jsonl")
        try "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\nnot json\n".write(to: bad, atomically: true, encoding: .utf8)
        let run = Tessera.train(np: 2, overrides: ["train.objective=dpo", "train.init_from=\(pretrained.runDir.path)",
                                                  "data.preferences=\(bad.path)"], label: "dpo-bad")
        #expect(run.status == 2)
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("pairs.jsonl:2"), "\(run.stderr)")
    }
}
