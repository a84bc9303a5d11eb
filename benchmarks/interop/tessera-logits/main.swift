// tessera-logits MODEL OUT.safetensors [--batch B] [--tokens T] [--seed S] [--ids FILE]
//
// Tessera's own logits for a model, in the file `check_export.py` compares a Hugging Face folder
// against: `input_ids` I64 [B, T] and `logits` F32 [B, T, V], computed on one process in fp32
// with a causal mask from position 0 (what transformers computes without a cache).
// MODEL: a model.h5, a checkpoint folder or a run directory, or a Hugging Face folder.
// The ids are drawn uniformly from the vocabulary (SplitMix64 from --seed, default 4321; B = 2,
// T = 12), or taken from FILE's `input_ids`. Exit 2 with one `error:` line on bad input.
import Foundation
import SafeTensors
import Training

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(2)
}

/// The two paths and the `--name value` options, in any order.
func parse(_ words: [String]) -> (paths: [String], options: [String: String]) {
    var paths: [String] = [], options: [String: String] = [:], rest = words[...]
    while let word = rest.popFirst() {
        guard word.hasPrefix("--") else { paths.append(word); continue }
        guard let value = rest.popFirst() else { fail("\(word) needs a value") }
        options[String(word.dropFirst(2))] = value
    }
    return (paths, options)
}

let (arguments, options) = parse(Array(CommandLine.arguments.dropFirst()))
guard arguments.count == 2, Set(options.keys).isSubset(of: ["batch", "tokens", "seed", "ids"]) else {
    fail("usage: tessera-logits MODEL OUT.safetensors [--batch B] [--tokens T] [--seed S] [--ids FILE]")
}
do {
    let whole = try WholeModel(path: arguments[0])
    let V = whole.model.dims.vocabSize
    var ids: [Int64], B: Int
    if let file = options["ids"] {
        let expected = try SafeTensorsFile(path: file)
        guard let info = expected.info("input_ids"), info.shape.count == 2, info.shape.allSatisfy({ $0 > 0 }) else {
            fail("\(file) has no input_ids of shape [B, T]")
        }
        ids = try expected.integers("input_ids")
        B = info.shape[0]
    } else {
        guard let batch = Int(options["batch"] ?? "2"), let tokens = Int(options["tokens"] ?? "12"),
              let seed = UInt64(options["seed"] ?? "4321"), batch > 0, tokens > 0 else {
            fail("--batch, --tokens and --seed take positive integers")
        }
        var state = seed
        ids = (0..<(batch * tokens)).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15  // SplitMix64
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int64((z ^ (z >> 31)) % UInt64(V))
        }
        B = batch
    }
    let T = ids.count / B
    guard T <= whole.model.dims.blockSize, ids.allSatisfy({ (0..<Int64(V)).contains($0) }) else {
        fail("the ids must be at most \(whole.model.dims.blockSize) per row and in [0, \(V))")
    }
    let logits = try whole.logits(tokens: ids.map { Int32($0) }, batch: B)
    try writeSafeTensors(path: arguments[1], tensors: [
        TensorToWrite(name: "input_ids", shape: [B, T], integers: ids),
        TensorToWrite(name: "logits", shape: [B, T, V], values: logits),
    ])
    print("tessera-logits: \(whole.source): logits [\(B), \(T), \(V)] written to \(arguments[1])")
} catch {
    fail(describe(error))
}
