import ArgumentParser
import Checkpoint
import FileSystem
import Foundation
import Training

/// `tessera ckpt inspect|verify PATH`: PATH is a checkpoint folder or a run directory (its latest).
struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt", abstract: "Inspect or verify a sharded checkpoint.", subcommands: [Inspect.self, Verify.self])

    /// The checkpoint folder PATH means and its manifest; a bad PATH is reported, exit 2.
    static func open(_ path: String) throws -> (folder: String, manifest: CheckpointManifest) {
        do {
            let folder = try CheckpointFolder.resolve(path)
            return (folder, try CheckpointFolder.manifest(in: folder))
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Step, layout, tensors (name, global shape, dtype), sizes and config of a checkpoint.")

        @Argument(help: "A checkpoint folder or a run directory.")
        var path: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let (folder, manifest) = try Ckpt.open(path)
            let tensors = manifest.parameterShapes
            let bytes = manifest.shards.reduce(0) { $0 + $1.bytes }
            let parameters = tensors.values.reduce(0) { $0 + $1.reduce(1, *) }
            if json {
                let object: [String: Any] = [
                    "path": folder, "step": manifest.step, "format_version": manifest.formatVersion,
                    "layout": ["world_size": manifest.layout.worldSize, "dp": manifest.layout.dp, "tp": manifest.layout.tp,
                               "pp": manifest.layout.pp, "ep": manifest.layout.ep, "zero": manifest.layout.zero,
                               "microbatches": manifest.layout.microbatches],
                    "tensors": tensors.keys.sorted().map { ["name": $0, "shape": tensors[$0]!, "dtype": "float32"] },
                    "parameters": parameters, "shards": manifest.shards.map { ["file": $0.file, "bytes": $0.bytes, "crc32c": $0.crc32c] },
                    "bytes": bytes, "config": manifest.config,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let l = manifest.layout
            print("checkpoint \(folder)")
            print("step \(manifest.step), format_version \(manifest.formatVersion)")
            print("layout: \(l.worldSize) ranks = dp \(l.dp) × pp \(l.pp) × tp \(l.tp), ep \(l.ep), zero \(l.zero), \(l.microbatches) microbatches")
            print("\(manifest.shards.count) shards, \(bytes) bytes; \(parameters) parameters in \(tensors.count) tensors (float32):")
            for name in tensors.keys.sorted() { print("  \(name) \(tensors[name]!)") }
            print("config:")
            print(manifest.config)
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every shard against its recorded size, checksum and datasets; exit 1 when not whole.")

        @Argument(help: "A checkpoint folder or a run directory.")
        var path: String

        func run() throws {
            let (folder, manifest) = try Ckpt.open(path)
            // What resuming checks: every shard's size and checksum, then every tensor assembled
            // from its slices, parameters whole, every value finite.
            let saved = SavedTensors(folder: folder, manifest: manifest)
            var problems: [String] = []
            for shard in manifest.shards {
                do { try saved.verify(shard) } catch { problems.append("\(error)") }
            }
            if problems.isEmpty {
                do { try saved.verifyAll() } catch { problems.append("\(error)") }
            }
            let model = folder + "/model.h5"
            switch FileKind.of(model) {
            case .regular: break
            case .missing: problems.append("\(model) is missing")
            case let kind: problems.append("\(model) is \(kind.phrase), not the model file")
            }
            guard problems.isEmpty else {
                for problem in problems { printError(problem) }
                throw ExitCode(1)
            }
            print("ok: \(folder), step \(manifest.step), \(manifest.shards.count) shards verified")
        }
    }
}
