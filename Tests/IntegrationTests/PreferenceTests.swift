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
            expectSameCurve(run, as: single, steps: 10)
            Self.expectSamePreferenceFigures(run, as: single)
        }
    }

    /// The preference task of benchmarks/preference at a smaller scale: the baby GPT pretrained for
    /// 600 steps, then 200 DPO steps on 3000 pairs (chosen: the true continuation; rejected: the same
    /// first word, then the other words shuffled or a passage from elsewhere). Held-out preference
    /// accuracy (300 pairs) must rise by 4 points or more; measured 0.681 → 0.757, and the implicit
    /// reward accuracy 0.418 → 0.730. The same DPO on a 2-layer, 64-wide model moved it only
    /// 0.615 → 0.635, which this test would fail.
    @Test func dpoRaisesHeldOutPreferenceAccuracy() throws {
        let baby = ["model.n_layer=4", "model.n_head=4", "model.n_embd=128", "model.block_size=64",
                    "train.batch_size=12", "train.lr=1e-3", "train.warmup_steps=100", "train.log_every=50"]
        let pretrained = Tessera.train(np: 2, overrides: baby + ["train.steps=600"], label: "dpo-task-pre", timeout: 900)
        try #require(pretrained.status == 0, "\(pretrained.stderr)")
        let pairs = Tessera.temporaryDirectory("dpo-task").appendingPathComponent("pairs.jsonl")
        let made = runCommand(["python3", packageRoot.appendingPathComponent("benchmarks/preference/make_pairs.py").path,
                               packageRoot.appendingPathComponent("data/tinyshakespeare.txt").path, pairs.path, "3000", "1"],
                              timeout: 120)
        try #require(made.status == 0, "\(made.stderr)")
        let tuned = Tessera.train(np: 2, overrides: baby + [
            "train.objective=dpo", "train.init_from=\(pretrained.runDir.path)", "data.preferences=\(pairs.path)",
            "train.steps=200", "train.batch_size=32", "train.lr=1e-4", "train.min_lr=1e-5", "train.warmup_steps=10",
            "train.eval_every=200",
        ], label: "dpo-task", timeout: 900)
        try #require(tuned.status == 0, "\(tuned.stderr)")
        let accuracy = tuned.rows(key: "val_preference_accuracy"), reward = tuned.rows(key: "val_reward_accuracy")
        let before = try #require(accuracy[0]), after = try #require(accuracy[200])
        #expect(after - before >= 0.04, "held-out preference accuracy \(before) → \(after)")
        #expect((reward[200] ?? 0) >= 0.6, "implicit-reward accuracy after DPO: \(reward[200] ?? .nan)")
    }

    /// The DPO figures on another layout against the single-rank ones. `val_lm_loss` (≈ 3.5) is held
    /// to 2e-4 relative like the loss. `reward_margin` and `kl` are differences of fp32 sums of
    /// response-token log-probabilities that start at 0 (the policy is its own reference) and stay
    /// below 5e-3 here: near 0 a relative bound means nothing (1.8e-8 against 6e-8 at step 1), so
    /// they get an absolute floor of 1e-6 on top of it: 5× the largest difference measured (2.1e-7),
    /// 70× below step 2's margin. `preference_accuracy` is not compared: a pair whose margin is
    /// within rounding of 0 (all of them at step 1) counts either way.
    static func expectSamePreferenceFigures(_ run: TesseraRun, as reference: TesseraRun,
                                            sourceLocation: SourceLocation = #_sourceLocation) {
        for (key, floor) in [("val_lm_loss", 0.0), ("reward_margin", 1e-6), ("kl", 1e-6)] {
            let expected = reference.rows(key: key), actual = run.rows(key: key)
            #expect(actual.count == expected.count && !expected.isEmpty, "\(key): \(actual.count) rows", sourceLocation: sourceLocation)
            for (step, value) in expected.sorted(by: { $0.key < $1.key }) {
                let difference = abs((actual[step] ?? .nan) - value)
                #expect(difference <= 2e-4 * abs(value) + floor, "\(key) at step \(step): \(actual[step] ?? .nan) vs single-rank \(value)",
                        sourceLocation: sourceLocation)
            }
        }
    }

    /// The arguments of `tessera prefer --judge first` from a briefly pretrained model over the
    /// prompt lines `prompts`, and the output file they name (not yet written).
    static func judgedPrefer(prompts text: String, tokens: Int, label: String) throws -> (arguments: [String], out: URL) {
        let pretrained = Tessera.train(np: 1, overrides: ["train.steps=2"], label: label + "-pre")
        let dir = Tessera.temporaryDirectory(label)
        let prompts = dir.appendingPathComponent("prompts.txt"), out = dir.appendingPathComponent("pairs.jsonl")
        try text.write(to: prompts, atomically: true, encoding: .utf8)
        return (["prefer", "--checkpoint", pretrained.runDir.path, "--prompts", prompts.path, "--out", out.path,
                 "--judge", "first", "--tokens", "\(tokens)"], out)
    }

    /// `tessera prefer --judge`: a pair per prompt appended to the file; a rerun skips what is answered.
    @Test func preferRecordsPairsAndResumes() throws {
        let (arguments, out) = try Self.judgedPrefer(prompts: "ROMEO:\nJULIET:\\nO Romeo\nFirst Citizen:\n", tokens: 16,
                                                    label: "prefer")
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

    /// An existing `--out` is extended on a line of its own, or refused when it is not JSONL. Before:
    /// the first record was glued to a last line without its newline, and to non-JSON text.
    @Test func preferExtendsAnOutputFileOnALineOfItsOwnAndRefusesOneThatIsNotJSONL() throws {
        let (arguments, out) = try Self.judgedPrefer(prompts: "ROMEO:\n", tokens: 8, label: "prefer-out")
        let earlier = #"{"chosen": "a", "prompt": "JULIET:", "rejected": "b"}"#
        try earlier.write(to: out, atomically: true, encoding: .utf8)  // no newline at the end
        let extended = runMPI(np: 1, executable: Tessera.executable, arguments: arguments, timeout: 60)
        #expect(extended.status == 0, "\(extended.stderr)")
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == earlier, "\(lines)")
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })

        let garbage = "not json at all"
        try garbage.write(to: out, atomically: true, encoding: .utf8)
        let refused = runMPI(np: 1, executable: Tessera.executable, arguments: arguments, timeout: 60)
        #expect(refused.status == 2, "\(refused.stderr)")
        let errors = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && errors[0].contains("line 1 is not a JSON object"), "\(refused.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8) == garbage)
    }

    /// Runs `tessera ARGUMENTS...` in a pseudo-terminal, typing each answer (and Enter) when its
    /// question appears; returns the exit status and what the terminal showed.
    static func inTerminal(_ arguments: [String], answers: [String]) -> (status: Int32, screen: String) {
        let driver = #"""
        import os, pty, sys
        binary, *rest = sys.argv[1:]
        split = rest.index("--answers")
        arguments, answers = rest[:split], rest[split + 1:]
        pid, terminal = pty.fork()
        if pid == 0:
            os.execv(binary, [binary] + arguments)
        question, screen = b"better: 1 or 2, s to skip, q to quit > ", b""
        def read():
            global screen
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the program closed the terminal
                return False
            screen += chunk
            return bool(chunk)
        for asked, answer in enumerate(answers, 1):
            while screen.count(question) < asked and read():
                pass
            if screen.count(question) < asked:
                break
            os.write(terminal, answer.encode() + b"\r")
        while read():
            pass
        _, status = os.waitpid(pid, 0)
        sys.stdout.write(screen.decode(errors="replace").replace("\r\n", "\n"))
        sys.exit(os.waitstatus_to_exitcode(status))
        """#
        let run = runCommand(["python3", "-c", driver, Tessera.executable.path] + arguments + ["--answers"] + answers,
                             timeout: 120)
        return (run.status, run.stdout + run.stderr)
    }

    static func pairs(_ file: URL) throws -> [[String: String]] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])
        }
    }

    /// `tessera prefer` at a terminal: 1 records the first sample as chosen, 2 the second, s records
    /// nothing, q stops; a rerun asks only the unanswered prompts and appends to what is there.
    @Test func preferAtATerminalRecordsTheAnswersAndResumes() throws {
        let pretrained = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "prefer-tty-pre")
        let dir = Tessera.temporaryDirectory("prefer-tty")
        let prompts = dir.appendingPathComponent("prompts.txt"), out = dir.appendingPathComponent("pairs.jsonl")
        try "ROMEO:\nJULIET:\nFirst Citizen:\nKING HENRY:\n".write(to: prompts, atomically: true, encoding: .utf8)
        let arguments = ["prefer", "--checkpoint", pretrained.runDir.path, "--prompts", prompts.path, "--tokens", "16"]
        // Each prompt's two samples, as `--judge first` records them (chosen = the first).
        let judged = dir.appendingPathComponent("judged.jsonl")
        let judge = runCommand([Tessera.executable.path] + arguments + ["--out", judged.path, "--judge", "first"], timeout: 60)
        #expect(judge.status == 0, "\(judge.stderr)")
        let samples = try Self.pairs(judged)
        func second(_ pair: [String: String]) -> [String: String] {
            ["prompt": pair["prompt"]!, "chosen": pair["rejected"]!, "rejected": pair["chosen"]!]
        }

        let first = Self.inTerminal(arguments + ["--out", out.path], answers: ["1", "2", "s", "q"])
        #expect(first.status == 0, "\(first.screen)")
        #expect(first.screen.components(separatedBy: "=== prompt ===").count == 5, "\(first.screen)")
        #expect(try Self.pairs(out) == [samples[0], second(samples[1])])

        let recorded = try Data(contentsOf: out)
        let rerun = Self.inTerminal(arguments + ["--out", out.path], answers: ["2", "1"])
        #expect(rerun.status == 0, "\(rerun.screen)")
        let asked = rerun.screen.components(separatedBy: "=== prompt ===\n").dropFirst().map { $0.prefix { $0 != "\n" } }
        #expect(asked == ["First Citizen:", "KING HENRY:"], "\(rerun.screen)")
        #expect(rerun.screen.contains("2 pairs recorded, 0 skipped, 2 answered before"), "\(rerun.screen)")
        #expect(try Data(contentsOf: out).prefix(recorded.count) == recorded)
        #expect(try Self.pairs(out) == [samples[0], second(samples[1]), second(samples[2]), samples[3]])
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
