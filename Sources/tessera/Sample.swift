import ArgumentParser
import Foundation
import FileSystem
import Training

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a trained model.")

    @Option(help: "A model.h5 file, a checkpoint folder, or a run directory (its model.h5, else its latest checkpoint).")
    var checkpoint: String

    @Option(help: "Text the generation continues; for a t5 model, the encoder's input (its target is printed).")
    var prompt: String = ""

    @Option(help: "A text file of prompts, one per line (\\n in a line stands for a newline): one continuation each, written to --out.")
    var prompts: String?

    @Option(help: "With --prompts: the JSONL file written, one {\"prompt\": ..., \"text\": ...} per prompt (text: the continuation).")
    var out: String?

    @Option(help: "How many tokens to generate (t5: at most this many, and at most block_size; generation ends at end of text).")
    var tokens: Int = 200

    @Option(help: "Softmax temperature; lower is more conservative.")
    var temperature: Double = 1.0

    @Option(name: .customLong("top-k"), help: "Sample only from the k most likely tokens (0 = all).")
    var topK: Int = 0

    @Option(help: "Seed of the sampling generator.")
    var seed: Int = 1337

    @Flag(help: "Recompute the window for every token instead of keeping keys and values (slower; for comparison).")
    var recompute = false

    @Flag(help: "Print the generation's time and tokens per second to standard error.")
    var timing = false

    func validate() throws {
        guard (0...TextSampler.largestGeneration).contains(tokens) else {
            throw ValidationError("--tokens must be in [0, \(TextSampler.largestGeneration)], got \(tokens)")
        }
        guard temperature > 0 else { throw ValidationError("--temperature must be > 0, got \(temperature)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be ≥ 0, got \(topK)") }
        guard seed >= 0 else { throw ValidationError("--seed must be ≥ 0, got \(seed)") }
        guard (prompts == nil) == (out == nil) else { throw ValidationError("--prompts and --out go together") }
        guard prompts == nil || prompt.isEmpty else { throw ValidationError("give --prompt or --prompts, not both") }
    }

    func run() throws {
        let sampler: TextSampler
        do {
            sampler = try TextSampler(path: checkpoint, incremental: !recompute)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        do {
            if let prompts, let out {
                try sampleEach(try PromptFile.read(prompts), with: sampler, out: out)
            } else {
                let settings = SamplingSettings(temperature: Float(temperature), topK: topK, seed: UInt64(seed))
                let started = Date()
                let text = try sampler.generate(prompt: prompt, tokens: tokens, settings: settings)
                let seconds = Date().timeIntervalSince(started)
                FileHandle.standardOutput.write(Data((text + "\n").utf8))
                if timing {
                    FileHandle.standardError.write(Data(String(format: "tessera sample: %d tokens in %.3f s: %.1f tokens/s, %.2f ms/token (%@)\n",
                        sampler.generatedTokens, seconds, Double(sampler.generatedTokens) / seconds,
                        1000 * seconds / Double(max(sampler.generatedTokens, 1)),
                        recompute ? "window recomputed" : "key/value cache").utf8))
                }
            }
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
    }

    /// One continuation (t5: target) per prompt (prompt i draws with seed + i), each line written as
    /// it is made.
    private func sampleEach(_ lines: [String], with sampler: TextSampler, out: String) throws {
        guard (out as NSString).standardizingPath != ((prompts ?? "") as NSString).standardizingPath else {
            throw SetupError("--out \(out) is the prompts file")
        }
        // Every prompt is checked before --out is written.
        for (i, prompt) in lines.enumerated() {
            do { try sampler.check(prompt: prompt) } catch { throw SetupError("\(prompts ?? "") prompt \(i + 1): \(error)") }
        }
        guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
            throw SetupError("cannot write --out \(out)")
        }
        defer { try? handle.close() }
        for (i, prompt) in lines.enumerated() {
            let settings = SamplingSettings(temperature: Float(temperature), topK: topK, seed: UInt64(seed + i))
            let text = try sampler.continuation(prompt: prompt, tokens: tokens, settings: settings)
            let data = try JSONSerialization.data(withJSONObject: ["prompt": prompt, "text": text], options: [.sortedKeys])
            try handle.write(contentsOf: data + Data("\n".utf8))
        }
    }
}
