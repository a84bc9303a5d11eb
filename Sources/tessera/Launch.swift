import ArgumentParser
import Checkpoint
import Config
import FileSystem
import Foundation
import Kernels
import Launch

/// `tessera launch`: what `launch/tessera-run` hands over to once tessera is built. Checks the
/// command line, hosts and files (one `error:` line, exit 2, before anything starts), then runs
/// this tessera on every rank under mpirun, restarting a failed job as `--restarts` allows.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch", abstract: "Run a tessera subcommand on every rank under mpirun (see launch/tessera-run --help).",
        shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough)
    var arguments: [String] = []

    func run() throws {
        let options = try LaunchOptions.parse(arguments)
        if options.help {
            print(launchUsage)
            return
        }
        let environment = ProcessInfo.processInfo.environment
        if environment["OMPI_COMM_WORLD_SIZE"] != nil {
            throw LaunchError.usage("tessera-run is itself running under mpirun (OMPI_COMM_WORLD_SIZE is set); run it from a plain shell")
        }
        var hostfile: String?, hosts: HostSet?
        if let path = options.hostfile {
            guard FileKind.of(path).isFile, access(path, R_OK) == 0, let absolute = LocalMachine.absolute(path) else {
                throw LaunchError.input("hostfile '\(path)' not found or not readable")
            }
            let text: String
            do { text = try readUTF8File(absolute, limit: 1 << 20) } catch {
                throw LaunchError.input("cannot read hostfile \(absolute): \(error.reason)")
            }
            (hostfile, hosts) = (absolute, try HostSet.parseHostfile(text, path: absolute))
        } else if let list = options.hostList {
            hosts = try HostSet.parseList(list)
        }
        let agent = try options.rshAgent.map { try Self.resolveAgent($0, path: environment["PATH"]) }
        // Every host must resolve here, unless an agent of the user's own reaches them (simulated
        // or containerised hosts may resolve only on the far side).
        if agent == nil, let unknown = hosts?.entries.first(where: { !LocalMachine.resolves($0.address) }) {
            throw LaunchError.input("unknown host '\(unknown.address)' (\(unknown.origin)): it does not resolve; "
                + "fix the name, add it to DNS or /etc/hosts, or use --rsh-agent")
        }
        let program = try Self.program(options.program, path: environment["PATH"])
        if options.program == nil { try Self.checkTrainConfig(options.command) }
        guard LocalMachine.which("mpirun", path: environment["PATH"]) != nil else {
            printError("mpirun not found on PATH (Debian package openmpi-bin)")
            throw ExitCode(1)
        }

        let added = EnvironmentDefaults.additions(to: environment, sharedMemoryBytes: LocalMachine.sharedMemoryBytes(),
                                                  blasCore: BLAS.coreName, cpuFlags: LocalMachine.cpuFlags())
        for (name, value) in added {
            setenv(name, value, 1)
            if name == "OPENBLAS_CORETYPE" {
                note("OpenBLAS chose \(BLAS.coreName) kernels for this CPU; using \(value) (its feature flags allow them)")
            }
        }
        let context = LaunchContext(localCores: LocalMachine.cores(), isRoot: geteuid() == 0,
                                    environment: ProcessInfo.processInfo.environment)
        let command = try MPIRunCommand(options: options, hosts: hosts, hostfile: hostfile, rshAgent: agent,
                                        context: context, program: program)
        // The command as a shell line a user can copy, with the variables this launcher set.
        let shown = added.filter { !["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"].contains($0.name) }
            .map { "\($0.name)=\(shellQuoted($0.value))" }
        note((shown + [shellLine(command.arguments)]).joined(separator: " "))

        let policy = RestartPolicy(restarts: options.restarts, delay: options.restartDelay)
        let status: Int32
        do {
            status = try JobSupervisor().run(command.arguments, policy: policy,
                                             resumePoint: { Self.resumePoint(options) }, note: note)
        } catch let failure as LaunchFailure {
            printError(failure.description)
            throw ExitCode(1)
        }
        throw ExitCode(status)
    }

    private func note(_ line: String) {
        FileHandle.standardError.write(Data("tessera-run: \(line)\n".utf8))
    }

    /// --rsh-agent: an executable (a path, or a name on PATH) perhaps followed by arguments of its
    /// own after a space, as OpenMPI's plm_rsh_agent allows; a path becomes absolute.
    static func resolveAgent(_ agent: String, path: String?) throws(LaunchError) -> String {
        let space = agent.firstIndex(of: " ")
        let executable = String(agent[..<(space ?? agent.endIndex)])
        let rest = space.map { String(agent[$0...]) } ?? ""
        if executable.contains("/") {
            guard FileKind.of(executable).isFile, access(executable, X_OK) == 0,
                  let absolute = LocalMachine.absolute(executable) else {
                throw .input("--rsh-agent: '\(executable)' is not an executable file")
            }
            return absolute + rest
        }
        guard LocalMachine.which(executable, path: path) != nil else {
            throw .input("--rsh-agent: '\(executable)' not found on PATH")
        }
        return agent
    }

    /// What every rank runs, by absolute path (every node must see it at the same path): --program,
    /// else this tessera.
    static func program(_ requested: String?, path: String?) throws(LaunchError) -> String {
        guard let requested else {
            guard let me = LocalMachine.executablePath() else { throw .input("cannot tell this executable's path") }
            return me
        }
        let found = requested.contains("/") ? requested : LocalMachine.which(requested, path: path)
        guard let found, FileKind.of(found).isFile, access(found, X_OK) == 0,
              let absolute = LocalMachine.absolute(found) else {
            throw .input("--program: '\(requested)' is not an executable file")
        }
        return absolute
    }

    /// `tessera train --config FILE`: the file must exist (at the same path on every node).
    static func checkTrainConfig(_ command: [String]) throws(LaunchError) {
        guard command.first == "train" else { return }
        let train = TrainArguments(command.dropFirst())
        if train.configMissingValue { throw .input("train: --config needs a file") }
        if let config = train.config, !FileKind.of(config).isFile {
            throw .input("--config: config file '\(config)' not found")
        }
    }

    /// Where a restarted job continues, in words: for `tessera train`, the newest complete
    /// checkpoint of its run folder (the config read as train reads it, with its --set overrides).
    static func resumePoint(_ options: LaunchOptions) -> String {
        guard options.program == nil, let subcommand = options.command.first else { return "the start" }
        switch subcommand {
        case "train": break
        case "pipeline": return "where tessera pipeline resumes by itself"
        default: return "the start (tessera \(subcommand) keeps no checkpoints)"
        }
        let train = TrainArguments(options.command.dropFirst())
        switch train.resume {
        case "auto": break
        case "never": return "step 0 (--resume never: the run starts over)"
        case let path: return "the checkpoint given by --resume \(path)"
        }
        guard let config = train.config,
              let dir = try? TesseraConfig.load(path: config, overrides: train.overrides).run.dir else {
            return "the newest complete checkpoint"
        }
        let folder = CheckpointFolder(runDirectory: dir)
        guard let steps = try? folder.completeSteps() else { return "the newest complete checkpoint" }
        guard let step = steps.last else { return "step 0 (no complete checkpoint yet in \(folder.root))" }
        return "step \(step) (\(folder.path(step: step)))"
    }
}

/// The options of a `tessera train` command line that the launcher reads: the config, its
/// overrides and --resume, in both spellings (`--config F`, `--config=F`).
struct TrainArguments {
    var config: String?
    var configMissingValue = false
    var overrides: [String] = []
    var resume = "auto"

    init(_ arguments: ArraySlice<String>) {
        var rest = arguments
        while let argument = rest.popFirst(), argument != "--" {
            let (name, inline): (String, String?) = argument.firstIndex(of: "=").map {
                (String(argument[..<$0]), String(argument[argument.index(after: $0)...]))
            } ?? (argument, nil)
            guard ["--config", "--set", "--resume"].contains(name) else { continue }
            let value = inline ?? rest.popFirst()
            switch name {
            case "--config": config = value; configMissingValue = value == nil
            case "--set": if let value { overrides.append(value) }
            default: resume = value ?? resume
            }
        }
    }
}
