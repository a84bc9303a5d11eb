// tessera-layout-check CONFIG [OVERRIDE...]: computes one step's parameter gradients on the layout
// the config and `mpirun -np N` give, gathers them into full tensors, and compares them on rank 0
// with the gradients of the same step computed there on one rank alone.
//
// Prints `layout-check: worst <tensor> <relative error>` (the largest ‖layout − single‖∞ / ‖single‖∞
// over tensors) and exits 0 when it is at most the tolerance (1e-5; another may follow `--tolerance`),
// 1 otherwise. Driven by IntegrationTests.
#if canImport(Glibc)
import Glibc
#endif
import MPI
import Parallel
import Training

func gradients(_ setup: TrainingSetup, world: Communicator) throws -> FullTensors? {
    let groups = try ProcessGroups(layout: Layout(degrees: setup.degrees, rank: world.rank), world: world)
    let trainer = try Trainer(setup: setup, groups: groups)
    _ = try trainer.computeGradients(step: 1)
    return try trainer.gatherGradients()
}

var arguments = Array(CommandLine.arguments.dropFirst())
var tolerance = 1e-5
if let flag = arguments.firstIndex(of: "--tolerance") {
    tolerance = Double(arguments[flag + 1])!
    arguments.removeSubrange(flag...(flag + 1))
}
let world = Communicator.world
do {
    let setup = try TrainingSetup.load(configPath: arguments[0], overrides: Array(arguments.dropFirst()),
                                       worldSize: world.size)
    let layered = try gradients(setup, world: world)
    // Rank 0 alone, as a world of one.
    let alone = try world.split(color: world.rank, key: 0)!
    var worst = (name: "", error: 0.0)
    if world.rank == 0, let layered {
        let single = try TrainingSetup.load(configPath: arguments[0], overrides: Array(arguments.dropFirst())
            + ["parallel.tp=1", "parallel.pp=1", "parallel.ep=1", "parallel.microbatches=1"], worldSize: 1)
        let reference = try gradients(single, world: alone)!
        for (a, b) in zip(layered.tensors, reference.tensors) {
            precondition(a.name == b.name && a.shape == b.shape)
            let scale = b.data.reduce(0) { max($0, abs(Double($1))) }
            let difference = zip(a.data, b.data).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
            let error = scale > 0 ? difference / scale : difference
            if error >= worst.error { worst = (a.name, error) }
        }
        let d = setup.degrees
        print("layout-check: dp \(d.dp) × pp \(d.pp) × tp \(d.tp), \(d.microbatches) microbatches, \(setup.config.parallel.schedule.rawValue): worst \(worst.name) \(worst.error)")
    }
    try world.barrier()
    try MPIEnvironment.finalize()
    exit(worst.error <= tolerance ? 0 : 1)
} catch {
    print("layout-check: FAIL \(error)")
    MPIEnvironment.abort(code: 1)
}
