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

    @Test func unknownCommandLineOptionExitsTwo() {
        let result = runMPI(np: 2, executable: Tessera.executable,
                            arguments: ["train", "--config", "x.toml", "--no-such-flag"], timeout: 60)
        #expect(result.status == 2)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "\(result.stderr)")
    }
}
