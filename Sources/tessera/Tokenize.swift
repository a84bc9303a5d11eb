import ArgumentParser
import Data
import Foundation

/// `tessera tokenize train`: builds a SentencePiece model with the real library.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenizer tools.", subcommands: [TokenizeTrain.self])
}

struct TokenizeTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a SentencePiece model: writes PREFIX.model and PREFIX.vocab (readable by spm_encode and Python sentencepiece).")

    @Option(parsing: .upToNextOption, help: "UTF-8 text files to learn from.")
    var input: [String]

    @Option(name: .customLong("vocab-size"), help: "Pieces in the vocabulary, <unk>, <s>, </s> and the newline included.")
    var vocabSize: Int

    @Option(name: .customLong("model-type"), help: "unigram or bpe.")
    var modelType: String = "unigram"

    @Option(help: "Output prefix: PREFIX.model and PREFIX.vocab.")
    var output: String

    @Flag(name: .customLong("byte-fallback"), help: "Spell characters outside the vocabulary as UTF-8 byte pieces (needs a vocabulary above 259).")
    var byteFallback = false

    @Flag(help: "Show SentencePiece's training log.")
    var verbose = false

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("--input needs at least one file") }
        guard vocabSize >= 4 else { throw ValidationError("--vocab-size must be ≥ 4, got \(vocabSize)") }
        guard SentencePieceTraining.ModelType(rawValue: modelType) != nil else {
            throw ValidationError("--model-type must be unigram or bpe, got '\(modelType)'")
        }
    }

    func run() throws {
        // One process trains; other ranks of an mpirun have nothing to add.
        guard launchRank == 0 else { return }
        do {
            try SentencePieceTraining.train(inputs: input, vocabSize: vocabSize,
                                            modelType: SentencePieceTraining.ModelType(rawValue: modelType)!,
                                            outputPrefix: output, byteFallback: byteFallback, quiet: !verbose)
            let tokenizer = try SentencePieceTokenizer(modelPath: output + ".model")
            print("wrote \(output).model and \(output).vocab: \(modelType), \(tokenizer.vocabSize) pieces")
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }
}
