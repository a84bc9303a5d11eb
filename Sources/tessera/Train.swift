import ArgumentParser
import Foundation
import MPI
import Config
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model from a TOML config.")

    @Option(help: "The TOML config file.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "auto: continue from RUN_DIR/checkpoints/latest when it exists; never; or a checkpoint path.")
    var resume: String = "auto"

    @Flag(help: "Run every check a run makes before its first step (config, layout, data, checkpoints), print the effective config as TOML, and exit.")
    var check = false

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        stoppingOnFailure(world) {
            let loaded = try agreed(world) { try TesseraConfig.load(path: config, overrides: overrides) }
            let run = TrainingRun(config: loaded, resume: ResumeChoice(resume))
            if check {
                try run.check(world)
                if world.rank == 0 { print(loaded.tomlText(), terminator: "") }
            } else {
                try run.execute(world)
            }
        }
        try MPIEnvironment.finalize()
    }
}
