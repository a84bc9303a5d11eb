import ArgumentParser
import Foundation
import MPI
import Training

@main
struct Tessera: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train GPT-style language models across MPI ranks.",
        subcommands: [Train.self, Pipeline.self, Sample.self, Eval.self, Monitor.self, ReportCommand.self, Export.self, Ckpt.self, Prefer.self, Bench.self, Plan.self, Tokenize.self, Prepare.self, LaunchCommand.self])

    /// Exit codes per the contract: 2 for bad usage (ArgumentParser's own would be 64), printed by
    /// one rank only, since every rank parses the same command line.
    static func main() {
        if let (index, repaired) = argumentNotUTF8() {
            if launchRank == 0 {
                printError("command-line argument \(index) ('\(repaired)') is not valid UTF-8; Tessera reads file names as UTF-8")
            }
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if launchRank == 0 {
                // Foundation's file errors print as a dump of domains: say them in one line.
                let text = (error as NSError).domain == NSCocoaErrorDomain ? describe(error) : fullMessage(for: error)
                let message = text.split(separator: "\n").first.map(String.init) ?? "\(error)"
                printError(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
            }
            Foundation.exit(2)
        }
    }
}

/// The first argument whose bytes are not UTF-8, with its position and its repaired spelling:
/// Swift's arguments replace such bytes by U+FFFD, so a file whose name holds them would otherwise
/// be reported as missing although it exists.
private func argumentNotUTF8() -> (Int, String)? {
    for index in 1..<Int(CommandLine.argc) {
        guard let pointer = CommandLine.unsafeArgv[index] else { continue }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                        count: strlen(pointer))
        if String(validating: bytes, as: UTF8.self) == nil { return (index, String(decoding: bytes, as: UTF8.self)) }
    }
    return nil
}

/// This process's rank as told by the launcher's environment, known before MPI starts.
let launchRank: Int = {
    let environment = ProcessInfo.processInfo.environment
    for key in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] {
        if let value = environment[key], let rank = Int(value) { return rank }
    }
    return 0
}()

/// One `error:` line on standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
}

/// Brings every rank to the same verdict on a check each ran alone (`agree`): when any rank
/// failed, rank 0 prints the first failure and every rank exits with its code together.
func agreeOrExit(_ world: Communicator, _ localFailure: String?, code: Int32 = 2) throws {
    do {
        try agree(world, localFailure, code: code)
    } catch let stop as RunStop {
        exit(world, stop)
    }
}

/// Runs `body` and ends the process as the contract says when it throws: a problem agreed before
/// training (RunStop) is printed once and every rank exits with its code; a `stop` alarm, agreed at
/// a step, ends every rank with exit 3; anything else is a failure of the run (`abortJob`).
func stoppingOnFailure(_ world: Communicator, _ body: () throws -> Void) {
    do {
        try body()
    } catch let stop as RunStop {
        exit(world, stop)
    } catch let stop as AlarmStop {
        if world.rank == 0 { progress("tessera: \(stop)") }
        try? MPIEnvironment.finalize()
        Foundation.exit(3)
    } catch {
        abortJob(world, error)
    }
}

private func exit(_ world: Communicator, _ stop: RunStop) -> Never {
    if world.rank == 0 { printError(stop.message) }
    try? MPIEnvironment.finalize()
    Foundation.exit(stop.code)
}

/// A failure during the run: reported with the rank, then the whole job stops with exit 1. A
/// failure every rank saw alike is reported once, and the ranks finish MPI together.
func abortJob(_ world: Communicator, _ error: any Error) -> Never {
    if let error = error as? RunError, error.seenByEveryRank {
        if world.rank == 0 { printError(describe(error)) }
        try? MPIEnvironment.finalize()
        Foundation.exit(1)
    }
    printError("rank \(world.rank): \(describe(error))")
    if world.size == 1 {
        try? MPIEnvironment.finalize()
        Foundation.exit(1)
    }
    MPIEnvironment.abort(code: 1)
}
