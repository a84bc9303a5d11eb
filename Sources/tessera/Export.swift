import ArgumentParser
import Foundation
import Training

/// `tessera export --format hf SOURCE OUT_DIR`: a trained model as a Hugging Face folder.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model as a Hugging Face folder (model.safetensors, config.json, tokenizer files).",
        discussion: "transformers loads the folder as GPT2LMHeadModel with the same logits. See docs/interop.md.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case hf
    }

    @Option(help: "What to write: hf (a folder Hugging Face transformers loads).")
    var format: Format = .hf

    @Argument(help: "A model.h5 file, a checkpoint folder, or a run directory (its model.h5, else its latest checkpoint).")
    var source: String

    @Argument(help: "The folder to write; made when missing.")
    var outDir: String

    @Flag(help: "Replace the files of an earlier export in OUT_DIR.")
    var overwrite = false

    func run() throws {
        let export: HuggingFaceExport
        do {
            export = try HuggingFaceExport(source: source)
            try export.checkDestination(outDir, overwrite: overwrite)
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
        do {
            try export.write(to: outDir)
        } catch {
            printError(describe(error))
            throw ExitCode(1)
        }
        let names = ["model.safetensors", "config.json"] + export.files.map(\.name)
        print("exported \(export.whole.source) as \(export.family.architecture) to \(outDir): \(names.joined(separator: ", "))")
    }
}
