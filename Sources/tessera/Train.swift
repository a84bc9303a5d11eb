import ArgumentParser
import Foundation
import MPI
import Parallel
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model from a TOML config.")

    @Option(help: "The TOML config file.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one config key.", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: "auto: continue from RUN_DIR/checkpoints/latest when it exists; never; or a checkpoint path.")
    var resume: String = "auto"

    func run() throws {
        MPIEnvironment.initialize()
        let world = Communicator.world
        var setup: TrainingSetup?
        var failure: String?
        do {
            setup = try TrainingSetup.load(configPath: config, overrides: overrides, worldSize: world.size)
            if resume != "auto" && resume != "never" {
                throw SetupError("--resume \(resume): resuming from a checkpoint path needs sharded checkpoints, which this build does not write yet")
            }
        } catch {
            failure = "\(error)"
        }
        try agreeOrExit(world, failure)
        do {
            let layout = Layout(degrees: setup!.degrees, rank: world.rank)
            let groups = try ProcessGroups(layout: layout, world: world)
            try Trainer(setup: setup!, groups: groups).run()
        } catch {
            abortJob(world, error)
        }
        try MPIEnvironment.finalize()
    }
}
