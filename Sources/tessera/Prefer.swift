import ArgumentParser
import FileSystem
import Foundation
import Training

/// `tessera prefer`: a person chooses, for each prompt, the better of two sampled continuations;
/// each answer is appended to a JSONL file of preference pairs at once, so quitting or a crash
/// loses nothing, and a rerun skips the prompts already answered. `--judge` replaces the person by
/// a scripted rule (for tests and batch use).
struct Prefer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collect preferences between two sampled continuations per prompt (1/2, s skip, q quit).")

    @Option(help: "A model.h5 file, a checkpoint folder, or a run directory.")
    var checkpoint: String

    @Option(help: "A text file with one prompt per line (\\n in a line stands for a newline).")
    var prompts: String

    @Option(help: "The JSONL file of pairs to append to.")
    var out: String

    @Option(help: "Instead of asking: longer, shorter, first, second, or contains:TEXT (skip when neither or both do).")
    var judge: String?

    @Option(help: "Tokens per continuation.")
    var tokens: Int = 64

    @Option(help: "Softmax temperature of the samples.")
    var temperature: Double = 1.0

    @Option(help: "Seed of the first prompt's samples (each prompt and side draws its own stream).")
    var seed: Int = 1

    func validate() throws {
        // Each prompt's two samples draw with seeds seed + 2i and seed + 2i + 1.
        guard (1...TextSampler.largestGeneration).contains(tokens), temperature > 0, (0...(1 << 62)).contains(seed) else {
            throw ValidationError("--tokens must be in [1, \(TextSampler.largestGeneration)], --temperature positive, --seed in [0, 2^62]")
        }
        if let judge, !["longer", "shorter", "first", "second"].contains(judge), !judge.hasPrefix("contains:") {
            throw ValidationError("unknown --judge '\(judge)' (longer, shorter, first, second, contains:TEXT)")
        }
    }

    /// 1 or 2 for the better continuation, 0 to skip, nil to quit.
    func choose(_ a: String, _ b: String, prompt: String) -> Int? {
        if let judge {
            switch judge {
            case "longer": return a.count == b.count ? 0 : a.count > b.count ? 1 : 2
            case "shorter": return a.count == b.count ? 0 : a.count < b.count ? 1 : 2
            case "first": return 1
            case "second": return 2
            default:
                let text = String(judge.dropFirst("contains:".count))
                return a.contains(text) == b.contains(text) ? 0 : a.contains(text) ? 1 : 2
            }
        }
        print("\n=== prompt ===\n\(prompt)\n=== 1 ===\n\(a)\n=== 2 ===\n\(b)")
        while true {
            print("better: 1 or 2, s to skip, q to quit > ", terminator: "")
            guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return nil }
            switch answer {
            case "1": return 1
            case "2": return 2
            case "s": return 0
            case "q": return nil
            default: continue
            }
        }
    }

    /// The largest prompts or pairs file read.
    static let fileLimit = 1 << 30

    /// `--out` opened for appending, with the prompts its pairs already answer (from an earlier
    /// session). An existing file must be JSONL of objects; one whose last line lacks its newline
    /// gets one first, so a new record never joins the old text.
    func openOutput() throws -> (Set<String>, FileHandle) {
        var answered = Set<String>()
        var endsMidLine = false
        if FileKind.of(out) == .missing {
            guard FileManager.default.createFile(atPath: out, contents: nil) else {
                throw SetupError("cannot create --out \(out)")
            }
        } else {
            let text = try readUTF8File(out, limit: Self.fileLimit)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.allSatisfy(\.isWhitespace) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw SetupError("--out \(out) line \(number + 1) is not a JSON object: give a JSONL file of "
                        + "preference pairs to extend, or a new file")
                }
                if let prompt = object["prompt"] as? String { answered.insert(prompt) }
            }
            endsMidLine = !text.isEmpty && !text.hasSuffix("\n")
        }
        guard let handle = FileHandle(forWritingAtPath: out) else { throw SetupError("cannot write --out \(out)") }
        try handle.seekToEnd()
        if endsMidLine { try handle.write(contentsOf: Data("\n".utf8)) }
        return (answered, handle)
    }

    func run() throws {
        let sampler: TextSampler
        let lines: [String]
        let answered: Set<String>
        let handle: FileHandle
        do {
            sampler = try TextSampler(path: checkpoint)
            lines = try PromptFile.read(prompts)
            (answered, handle) = try openOutput()
        } catch {
            printError(describe(error))
            throw ExitCode(2)
        }
        defer { try? handle.close() }
        var recorded = 0, skipped = 0
        for (i, prompt) in lines.enumerated() where !answered.contains(prompt) {
            let samples = try [0, 1].map { side in
                let settings = SamplingSettings(temperature: Float(temperature), topK: 0, seed: UInt64(seed + 2 * i + side))
                return try sampler.continuation(prompt: prompt, tokens: tokens, settings: settings)
            }
            guard let choice = choose(samples[0], samples[1], prompt: prompt) else { break }
            guard choice > 0 else { skipped += 1; continue }
            let pair: [String: String] = ["prompt": prompt, "chosen": samples[choice - 1], "rejected": samples[2 - choice]]
            let data = try JSONSerialization.data(withJSONObject: pair, options: [.sortedKeys])
            try handle.write(contentsOf: data + Data("\n".utf8))
            try handle.synchronize()
            recorded += 1
        }
        FileHandle.standardError.write(Data("tessera prefer: \(recorded) pairs recorded, \(skipped) skipped, \(answered.count) answered before; \(out)\n".utf8))
    }
}
