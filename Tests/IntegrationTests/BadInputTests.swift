import Foundation
import Testing

/// Bad input is found before training: exit 2, one `error:` line naming the problem, every rank
/// gone (mpirun returns), within seconds.
@Suite(.serialized)
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let toml: String?
        let overrides: [String]
        let mentions: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown key", toml: "[model]\nn_layers = 2\n", overrides: [], mentions: "model.n_layers"),
        Case(name: "unknown section", toml: "[modle]\nn_layer = 2\n", overrides: [], mentions: "modle"),
        Case(name: "malformed TOML", toml: "[model\nn_layer = 2\n", overrides: [], mentions: "line"),
        Case(name: "wrong type", toml: "[train]\nsteps = \"many\"\n", overrides: [], mentions: "train.steps"),
        Case(name: "bad value", toml: nil, overrides: ["train.lr=-1"], mentions: "train.lr"),
        Case(name: "unknown --set key", toml: nil, overrides: ["train.stepz=3"], mentions: "train.stepz"),
        Case(name: "n_embd not divisible by n_head", toml: nil, overrides: ["model.n_head=3"], mentions: "n_head"),
        Case(name: "missing data file", toml: nil, overrides: ["data.path=/nonexistent/corpus.txt"],
             mentions: "/nonexistent/corpus.txt"),
        Case(name: "empty data file", toml: nil, overrides: ["data.path=/dev/null"], mentions: "/dev/null"),
        Case(name: "data too short for a block", toml: nil, overrides: ["model.block_size=1000000"], mentions: "block"),
        Case(name: "world not divisible by tp·pp", toml: nil, overrides: ["parallel.tp=3"], mentions: "parallel.tp"),
        Case(name: "tp not dividing n_head", toml: nil, overrides: ["parallel.tp=2", "model.n_head=1"],
             mentions: "n_head"),
        Case(name: "more stages than layers", toml: nil, overrides: ["parallel.pp=2", "model.n_layer=1"],
             mentions: "n_layer"),
        Case(name: "ep not dividing dp", toml: nil, overrides: ["model.n_experts=4", "parallel.ep=4"],
             mentions: "parallel.ep"),
        Case(name: "experts not divisible by ep", toml: nil, overrides: ["model.n_experts=3", "parallel.ep=2"],
             mentions: "n_experts"),
        Case(name: "top_k above n_experts", toml: nil, overrides: ["model.n_experts=2", "model.top_k=3"],
             mentions: "top_k"),
        Case(name: "capacity_factor not positive", toml: nil, overrides: ["model.n_experts=2", "model.capacity_factor=0"],
             mentions: "capacity_factor"),
        Case(name: "batch not divisible by dp", toml: nil, overrides: ["train.batch_size=3"], mentions: "batch_size"),
        Case(name: "microbatches not dividing the replica batch", toml: nil,
             overrides: ["parallel.microbatches=3"], mentions: "microbatches"),
        Case(name: "vocab smaller than the tokenizer's", toml: nil, overrides: ["model.vocab_size=10"],
             mentions: "vocab_size"),
        // Before: these passed `--check` and crashed the run (SIGILL, SIGABRT).
        Case(name: "train.steps = 10^18", toml: nil, overrides: ["train.steps=1000000000000000000"], mentions: "train.steps"),
        Case(name: "model.n_embd = 10^9", toml: nil, overrides: ["model.n_embd=1000000000"], mentions: "model.n_embd"),
        Case(name: "model.vocab_size = 4·10^9", toml: nil, overrides: ["model.vocab_size=4000000000"],
             mentions: "model.vocab_size"),
        Case(name: "train.batch_size = 10^12", toml: nil, overrides: ["train.batch_size=1000000000000"],
             mentions: "train.batch_size"),
        Case(name: "parallel.tp = 2^62", toml: nil, overrides: ["parallel.tp=4611686018427387904"], mentions: "parallel.tp"),
        Case(name: "a model larger than the machine's memory", toml: nil,
             overrides: ["model.n_embd=16384", "model.n_head=128", "model.n_layer=200"], mentions: "memory"),
        // Before: read without bound until the allocation failed (SIGABRT).
        Case(name: "data from a device", toml: nil, overrides: ["data.path=/dev/urandom", "data.tokenizer=byte"],
             mentions: "/dev/urandom"),
        // Before: accepted.
        Case(name: "a NUL byte in the TOML", toml: "[train]\nsteps = 3\u{0}\n", overrides: [], mentions: "U+0000"),
    ]

    @Test(arguments: cases)
    func exitsTwoWithOneErrorLineOnEveryRank(_ bad: Case) throws {
        var config: URL?
        if let toml = bad.toml {
            let url = Tessera.temporaryDirectory("bad").appendingPathComponent("bad.toml")
            try toml.write(to: url, atomically: true, encoding: .utf8)
            config = url
        }
        let run = Tessera.train(np: 2, config: config, overrides: bad.overrides, label: "bad", timeout: 60)
        #expect(run.status == 2, "exit \(run.status); stderr: \(run.stderr)")
        #expect(run.errorLines.count == 1, "error lines: \(run.errorLines); stderr: \(run.stderr)")
        #expect(run.errorLines.first?.contains(bad.mentions) == true, "\(run.errorLines) should name \(bad.mentions)")
        #expect(run.losses.isEmpty, "no training step may run")
    }

    @Test func missingConfigFileExitsTwo() {
        let missing = URL(fileURLWithPath: "/nonexistent/config.toml")
        let run = Tessera.train(np: 2, config: missing, label: "noconfig", timeout: 60)
        #expect(run.status == 2)
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("/nonexistent/config.toml"),
                "\(run.stderr)")
    }

    /// Before: a FIFO as data blocked forever; as config it was "permission denied or I/O error".
    @Test(arguments: ["data.path", "config"])
    func aFIFOIsRefusedInsteadOfRead(_ role: String) throws {
        let fifo = Tessera.temporaryDirectory("fifo").appendingPathComponent("pipe")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let run = role == "config" ? Tessera.train(np: 2, config: fifo, label: "fifo", timeout: 60)
            : Tessera.train(np: 2, overrides: ["data.path=\(fifo.path)"], label: "fifo", timeout: 60)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.errorLines.count == 1 && run.errorLines[0].contains("not a regular file"), "\(run.stderr)")
    }

    /// Before: a config whose name is not UTF-8 was reported as not existing although it does.
    @Test func aFileNameThatIsNotUTF8IsNamedAsSuch() throws {
        let dir = Tessera.temporaryDirectory("nonutf8")
        let script = "cd '\(dir.path)' && : > \"$(printf 'bad\\377.toml')\" && "
            + "exec '\(Tessera.executable.path)' train --check --config \"$(printf 'bad\\377.toml')\""
        let run = runCommand(["sh", "-c", script], timeout: 60)
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("error: ") && run.stderr.contains("not valid UTF-8")
                && !run.stderr.contains("does not exist"), "\(run.stderr)")
    }

    /// Before: `--check` with model.n_layer = 10^8 and a checkpoint to compare grew to 24 GiB.
    @Test func checkingAHugeModelAgainstACheckpointIsRefusedAtOnce() throws {
        let saved = Tessera.train(np: 1, overrides: ["train.steps=2"], label: "huge-check")
        #expect(saved.status == 0, "\(saved.stderr)")
        let run = Tessera.train(np: 1, overrides: ["train.steps=4", "model.n_layer=100000000"], label: "huge-check",
                                runDir: saved.runDir, extraArguments: ["--check"], timeout: 60)
        #expect(run.status == 2 && run.errorLines.count == 1 && run.errorLines[0].contains("model.n_layer"), "\(run.stderr)")
    }

    /// Options of the other commands, bounded before any work. Before: `plan --ranks 2^63 − 1` spun
    /// without end, a plan whose probe layer could not fit aborted allocating 192 GiB, and a
    /// `--csv` in a missing folder failed with a Foundation dump after the whole benchmark.
    @Test(arguments: [
        ["sample", "--checkpoint", "/nonexistent", "--tokens", "1000000000000"],
        ["plan", "--config", "CONFIG", "--ranks", "9223372036854775807"],
        ["plan", "--config", "CONFIG", "--ranks", "2", "--set", "model.n_layer=1000", "--set", "model.n_embd=65536"],
        // An encoder-decoder: the step timing and cost model know decoders only (bench step crashed on it).
        ["plan", "--config", "CONFIG", "--ranks", "2", "--set", "model.family=t5", "--set", "train.objective=seq2seq"],
        ["bench", "step", "--config", "CONFIG", "--set", "model.family=t5", "--set", "train.objective=span_corruption"],
        ["bench", "allreduce", "--csv", "/nonexistent/folder/x.csv"],
        ["bench", "comm", "--max-bytes", "100000000000000"],
        ["bench", "gemm", "--repeats", "0"],
        ["prefer", "--checkpoint", "/nonexistent", "--prompts", "p", "--out", "o", "--seed", "9223372036854775807"],
    ])
    func commandOptionsOutOfRangeExitTwoInOneLine(_ arguments: [String]) throws {
        let config = Tessera.temporaryDirectory("options").appendingPathComponent("empty.toml")
        _ = FileManager.default.createFile(atPath: config.path, contents: Data())
        let run = runCommand([Tessera.executable.path] + arguments.map { $0 == "CONFIG" ? config.path : $0 }, timeout: 60)
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1 && !run.stderr.contains("NSCocoaErrorDomain"), "\(run.stderr)")
    }

    @Test func unknownCommandLineOptionExitsTwo() {
        let result = runMPI(np: 2, executable: Tessera.executable,
                            arguments: ["train", "--config", "x.toml", "--no-such-flag"], timeout: 60)
        #expect(result.status == 2)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "\(result.stderr)")
    }
}
