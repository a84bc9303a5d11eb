// tessera-logits MODEL OUT.safetensors [--batch B] [--tokens T] [--seed S] [--ids FILE]
//
// Tessera's own logits for a model, in the file `check_export.py` compares a Hugging Face folder
// against: `input_ids` I64 [B, T] and `logits` F32 [B, T, V], computed on one process in fp32
// with a causal mask from position 0 (what transformers computes without a cache).
// MODEL: a model.h5, a checkpoint folder or a run directory, or a Hugging Face folder.
// The ids are drawn uniformly from the vocabulary (SplitMix64 from --seed, default 4321; B = 2,
// T = 12), or taken from FILE's `input_ids`. Exit 2 with one `error:` line on bad input.
// An encoder-decoder (t5) reads the ids as its encoder's input (at most its encoder_block_size per
// row) and also writes `decoder_input_ids` I64 [B, T_dec]: FILE's, or min(T, block_size) ids per
// row drawn after the encoder's; `logits` are then [B, T_dec, V], the decoder causal, the encoder
// and cross-attention over all T inputs (transformers' AutoModelForSeq2SeqLM without masks).
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
/// Ids drawn uniformly from a vocabulary of `V` (SplitMix64).
struct RandomIds {
    var state: UInt64
    let V: Int

    mutating func next() -> Int64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int64((z ^ (z >> 31)) % UInt64(V))
    }
}

do {
    let whole = try WholeModel(path: arguments[0])
    let V = whole.model.dims.vocabSize
    var random = RandomIds(state: 4321, V: V)
    var ids: [Int64], B: Int, decoderIds: [Int64]?
    if let file = options["ids"] {
        let expected = try SafeTensorsFile(path: file)
        guard let info = expected.info("input_ids"), info.shape.count == 2, info.shape.allSatisfy({ $0 > 0 }) else {
            fail("\(file) has no input_ids of shape [B, T]")
        }
        ids = try expected.integers("input_ids")
        B = info.shape[0]
        if expected.info("decoder_input_ids") != nil { decoderIds = try expected.integers("decoder_input_ids") }
    } else {
        guard let batch = Int(options["batch"] ?? "2"), let tokens = Int(options["tokens"] ?? "12"),
              let seed = UInt64(options["seed"] ?? "4321"), batch > 0, tokens > 0 else {
            fail("--batch, --tokens and --seed take positive integers")
        }
        random = RandomIds(state: seed, V: V)
        ids = (0..<(batch * tokens)).map { _ in random.next() }
        B = batch
    }
    let T = ids.count / B, dims = whole.model.dims
    let encoderDecoder = dims.encoder != nil, length = encoderDecoder ? dims.encoderBlockSize : dims.blockSize
    guard T <= length, ids.allSatisfy({ (0..<Int64(V)).contains($0) }) else {
        fail("the ids must be at most \(length) per row and in [0, \(V))")
    }
    var tensors = [TensorToWrite(name: "input_ids", shape: [B, T], integers: ids)]
    var logits: [Float], rows = T
    if encoderDecoder {
        let decoderIds = decoderIds ?? (0..<(B * min(T, dims.blockSize))).map { _ in random.next() }
        rows = decoderIds.count / B
        guard rows * B == decoderIds.count, (1...dims.blockSize).contains(rows),
              decoderIds.allSatisfy({ (0..<Int64(V)).contains($0) }) else {
            fail("the decoder ids must be B rows of 1 to \(dims.blockSize) ids in [0, \(V))")
        }
        tensors.append(TensorToWrite(name: "decoder_input_ids", shape: [B, rows], integers: decoderIds))
        logits = try whole.seq2seqLogits(inputs: ids.map { Int32($0) }, decoderInputs: decoderIds.map { Int32($0) }, batch: B)
    } else {
        logits = try whole.logits(tokens: ids.map { Int32($0) }, batch: B)
    }
    tensors.append(TensorToWrite(name: "logits", shape: [B, rows, V], values: logits))
    try writeSafeTensors(path: arguments[1], tensors: tensors)
    print("tessera-logits: \(whole.source): logits [\(B), \(rows), \(V)] written to \(arguments[1])")
} catch {
    fail(describe(error))
}
