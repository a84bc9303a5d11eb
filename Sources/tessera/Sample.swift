import ArgumentParser
import Foundation
import Training

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a trained model.")

    @Option(help: "A model.h5 file, a checkpoint folder, or a run directory (its model.h5, else its latest checkpoint).")
    var checkpoint: String

    @Option(help: "Text the generation continues.")
    var prompt: String = ""

    @Option(help: "How many tokens to generate.")
    var tokens: Int = 200

    @Option(help: "Softmax temperature; lower is more conservative.")
    var temperature: Double = 1.0

    @Option(name: .customLong("top-k"), help: "Sample only from the k most likely tokens (0 = all).")
    var topK: Int = 0

    @Option(help: "Seed of the sampling generator.")
    var seed: Int = 1337

    func validate() throws {
        guard (0...TextSampler.largestGeneration).contains(tokens) else {
            throw ValidationError("--tokens must be in [0, \(TextSampler.largestGeneration)], got \(tokens)")
        }
        guard temperature > 0 else { throw ValidationError("--temperature must be > 0, got \(temperature)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0, got \(topK)") }
        guard seed >= 0 else { throw ValidationError("--seed must be ≥ 0, got \(seed)") }
    }

    func run() throws {
        let sampler: TextSampler
        do {
            sampler = try TextSampler(path: checkpoint)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let settings = SamplingSettings(temperature: Float(temperature), topK: topK, seed: UInt64(seed))
        do {
            let text = try sampler.generate(prompt: prompt, tokens: tokens, settings: settings)
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
    }
}
