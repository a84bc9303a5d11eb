import Foundation
import Testing

/// `[[eval]]` entries in 2-rank runs: an lm, a choice and a bias entry log `val_loss/NAME`,
/// `accuracy/NAME` (and `accuracy_norm/NAME`) and `bias/NAME` at their own steps, with the numbers
/// `tessera eval` gives for the same weights, and the same figures on the dp, pp and tp layouts.
@Suite(.serialized)
struct HeldOutEvalTests {
    /// The EvalTests items without the one that repeats a choice: a tie's winner would hang on the
    /// last bits of two equal sums.
    static let items = [EvalTests.items[0], EvalTests.items[2], EvalTests.items[3]]
    static let probe = packageRoot.appendingPathComponent("data/bias-probe.csv").path

    static let files: (config: URL, task: URL) = {
        let folder = Tessera.temporaryDirectory("heldout-files")
        let corpus = try! String(contentsOf: packageRoot.appendingPathComponent("data/tinyshakespeare.txt"), encoding: .utf8)
        let heldOut = folder.appendingPathComponent("heldout.txt")
        try! String(corpus.suffix(4000)).write(to: heldOut, atomically: true, encoding: .utf8)
        let task = try! EvalTests.writeTask(items.map(\.json), label: "heldout-task")
        let config = folder.appendingPathComponent("heldout.toml")
        try! """
            [[eval]]
            name = "heldout"
            path = "\(heldOut.path)"
            every = 6

            [[eval]]
            name = "task"
            path = "\(task.path)"
            kind = "choice"
            every = 6

            [[eval]]
            name = "probe"
            path = "\(probe)"
            kind = "bias"
            every = 12

            """.write(to: config, atomically: true, encoding: .utf8)
        return (config, task)
    }()

    static func train(_ overrides: [String], label: String) -> TesseraRun {
        Tessera.train(np: 2, config: files.config, overrides: ["train.eval_steps=2"] + overrides, label: label)
    }

    static let dataParallel = train([], label: "heldout-dp")

    @Test func everyKindLogsItsMetricsAtItsStepsAsTesseraEvalScoresTheWeights() throws {
        let run = Self.dataParallel
        try #require(run.status == 0, "\(run.stderr)")
        #expect(run.rows(key: "val_loss/heldout").keys.sorted() == [6, 12])
        #expect(run.rows(key: "accuracy/task").keys.sorted() == [6, 12])
        #expect(run.rows(key: "accuracy_norm/task").keys.sorted() == [6, 12])
        #expect(run.rows(key: "bias/probe").keys.sorted() == [12])
        let heldOut = try #require(run.rows(key: "val_loss/heldout")[12])
        #expect(heldOut > 1 && heldOut < 5, "\(heldOut)")

        // The last step's figures are the final weights', which `tessera eval` scores on one process.
        let choice = runCommand([Tessera.executable.path, "eval", "--checkpoint", run.runDir.path, "--task",
                                 Self.files.task.path, "--json"], timeout: 120)
        let scores = try #require(try JSONSerialization.jsonObject(with: Data(choice.stdout.utf8)) as? [String: Any],
                                  "\(choice.stderr)")
        #expect(run.rows(key: "accuracy/task")[12] == scores["accuracy"] as? Double)
        #expect(run.rows(key: "accuracy_norm/task")[12] == scores["accuracy_norm"] as? Double)
        let bias = runCommand([Tessera.executable.path, "eval", "bias", "--checkpoint", run.runDir.path, "--pairs",
                               Self.probe, "--json"], timeout: 120)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(bias.stdout.utf8)) as? [String: Any],
                                  "\(bias.stderr)")
        #expect(run.rows(key: "bias/probe")[12] == (report["overall"] as? [String: Any])?["score"] as? Double)
    }

    @Test(arguments: [["parallel.pp=2", "parallel.microbatches=2"], ["parallel.tp=2"]])
    func theFiguresAreTheSameOnEveryLayout(layout: [String]) throws {
        try #require(Self.dataParallel.status == 0, "\(Self.dataParallel.stderr)")
        let run = Self.train(layout, label: "heldout-layout")
        try #require(run.status == 0, "\(run.stderr)")
        for key in ["accuracy/task", "accuracy_norm/task", "bias/probe"] {
            #expect(run.rows(key: key) == Self.dataParallel.rows(key: key), "\(key) on \(layout)")
        }
        let reference = Self.dataParallel.rows(key: "val_loss/heldout")
        for (step, loss) in run.rows(key: "val_loss/heldout") {
            #expect(abs(loss - (reference[step] ?? .nan)) <= 2e-4 * loss, "val_loss/heldout at \(step) on \(layout)")
        }
    }

    /// Whatever a run logs, an alarm may watch: a run with every optional metric (fp16 loss
    /// scaling, experts, evaluation, every eval kind), then `train --check` with a rule on each.
    @Test func everyMetricLoggedIsOneAlarmsMayWatch() throws {
        let options = ["precision.grad_allreduce=fp16", "model.n_experts=2", "train.eval_every=6", "train.steps=6"]
        let run = Self.train(options, label: "heldout-metrics")
        try #require(run.status == 0, "\(run.stderr)")
        let text = try String(contentsOf: run.runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        var keys = Set<String>()
        for line in text.split(separator: "\n") {
            let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if row["alarm"] == nil { keys.formUnion(row.keys) }
        }
        keys.remove("step")
        #expect(keys.isSuperset(of: ["loss_scale", "aux_loss", "val_loss", "val_loss/heldout", "accuracy/task", "bias/probe"]),
                "\(keys.sorted())")
        let rules = keys.sorted().map { "[[alarm]]\nmetric = \"\($0)\"\nwhen = \"above\"\nvalue = 1e9\naction = \"log\"\n" }
        let config = try String(contentsOf: Self.files.config, encoding: .utf8) + "\n" + rules.joined(separator: "\n")
        let file = Tessera.temporaryDirectory("heldout-metrics-config").appendingPathComponent("all.toml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let check = Tessera.train(np: 2, config: file, overrides: ["train.eval_steps=2"] + options, label: "heldout-check",
                                  extraArguments: ["--check"])
        #expect(check.status == 0, "\(check.stderr)")
    }

    /// Shards prepared with the run's tokenizer (the corpus's char vocabulary) evaluate once the
    /// model embeds their end-of-text id; before, that is one error line saying how.
    @Test func anLmEntryReadsShardsPreparedWithTheRunsTokenizer() throws {
        let shards = Tessera.temporaryDirectory("heldout-shards").appendingPathComponent("shards")
        let prepared = runCommand([Tessera.executable.path, "prepare", "--tokenizer", "char", "--input",
                                   packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path, "--output", shards.path],
                                  timeout: 120)
        try #require(prepared.status == 0, "\(prepared.stderr)")
        let config = Tessera.temporaryDirectory("heldout-shards-config").appendingPathComponent("shards.toml")
        try "[[eval]]\nname = \"shards\"\npath = \"\(shards.path)\"\nevery = 6\n".write(to: config, atomically: true, encoding: .utf8)
        let refused = Tessera.train(np: 2, config: config, label: "heldout-shards")
        #expect(refused.status == 2 && refused.errorLines.count == 1 && refused.errorLines[0].contains("model.vocab_size"),
                "\(refused.stderr)")
        let run = Tessera.train(np: 2, config: config, overrides: ["model.vocab_size=66", "train.eval_steps=2"],
                                label: "heldout-shards")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.rows(key: "val_loss/shards").keys.sorted() == [6, 12], "\(run.stderr)")
    }

    @Test func aBadEntryFileIsOneErrorLineNamingTheEntry() throws {
        let folder = Tessera.temporaryDirectory("heldout-bad")
        let task = folder.appendingPathComponent("snow.jsonl")
        try "{\"context\": \"It snowed\", \"choices\": [\" \u{2603}\", \" rain\"], \"answer\": 0}\n"
            .write(to: task, atomically: true, encoding: .utf8)
        let pairs = folder.appendingPathComponent("pairs.csv")
        try "sentence,other,bias_type\nA,B,age\n".write(to: pairs, atomically: true, encoding: .utf8)
        for (path, kind, says) in [(task.path, "choice", "line 1"), (folder.path + "/missing.txt", "lm", "missing.txt"),
                                   (pairs.path, "bias", "no column 'sent_more'")] {
            let config = folder.appendingPathComponent("bad-\(kind).toml")
            try "[[eval]]\nname = \"bad\"\npath = \"\(path)\"\nkind = \"\(kind)\"\n".write(to: config, atomically: true, encoding: .utf8)
            let run = Tessera.train(np: 2, config: config, label: "heldout-bad")
            #expect(run.status == 2, "exit \(run.status): \(run.stderr)")
            #expect(run.errorLines.count == 1 && run.errorLines[0].contains("[[eval]] 'bad'") && run.errorLines[0].contains(says),
                    "\(run.stderr)")
        }
    }
}
