import Checkpoint
import Config
import Data
import Interop
import FileSystem
import Model

/// A whole model on one process, for sampling, evaluation, export and checks: read from model.h5 (with the
/// run's config and tokenizer) or from a Hugging Face folder (config.json and safetensors weights;
/// its block size the folder's number of positions). Every size comes from the file and is checked
/// against this machine's memory; each tensor is read only after its declared shape has been
/// compared with the model's.
public struct WholeModel {
    public let model: GPT
    /// The file or folder read.
    public let source: String
    /// model.h5's run config and tokenizer; nil for a Hugging Face folder.
    public let config: TesseraConfig?
    public let tokenizer: (any Tokenizer)?

    /// `path` is a Hugging Face folder when it holds config.json, else what `init(modelFile:)` reads.
    public init(path: String) throws {
        if HFCheckpoint.holdsConfig(path) {
            try self.init(huggingFace: path)
        } else {
            try self.init(modelFile: path)
        }
    }

    /// `path` is a model.h5 file, a checkpoint folder, or a run directory: its final model.h5, or
    /// else its newest checkpoint's.
    public init(modelFile path: String) throws {
        let file = try Self.modelFile(path)
        let reader = try ModelFileReader(path: file)
        let (config, tokenizer, vocabSize) = try Self.header(reader, file: file)
        let dims = GPTDimensions(config: config.model, vocabSize: vocabSize)
        try MemoryGate(sampling: dims).check(ranksOnNode: 1)
        let model = GPT(dims: dims, seed: 0)
        for (i, spec) in model.store.specs.enumerated() {
            try reader.read(spec.name, shape: spec.globalShape,
                            into: UnsafeMutableBufferPointer(start: model.store.values + model.store.offsets[i], count: spec.localCount))
        }
        try reader.file.close()
        model.parametersChanged()
        (self.model, source, self.config, self.tokenizer) = (model, file, config, tokenizer)
    }

    /// The tokenizer and vocabulary (the token embedding's rows) that a model.h5, checkpoint folder
    /// or run directory records, without reading its weights: what a run starting from it must
    /// encode its data with.
    public static func recordedTokenizer(_ path: String) throws -> (tokenizer: any Tokenizer, vocabSize: Int) {
        let file = try modelFile(path)
        let reader = try ModelFileReader(path: file)
        defer { try? reader.file.close() }
        let (_, tokenizer, vocabSize) = try header(reader, file: file)
        return (tokenizer, vocabSize)
    }

    /// A model file's run config, tokenizer and vocabulary, checked against one another.
    private static func header(_ reader: ModelFileReader, file: String) throws
        -> (config: TesseraConfig, tokenizer: any Tokenizer, vocabSize: Int) {
        let config = try TesseraConfig.parse(toml: reader.attributes.config, source: "\(file) (config attribute)")
        guard let kindName = reader.attributes.strings["tokenizer"],
              let kind = TokenizerKind(rawValue: kindName) else {
            throw SetupError("\(file) records no tokenizer")
        }
        let tokenizer = try makeTokenizer(kind: kind, serialized: reader.attributes.strings["tokenizer_data"] ?? "")
        guard let wte = try reader.shape(of: GPTParameterName.tokenEmbedding), wte.count == 2,
              wte[1] == config.model.nEmbd, (tokenizer.vocabSize...Limits.vocabulary).contains(wte[0]) else {
            throw SetupError("\(file) has no '\(GPTParameterName.tokenEmbedding)' tensor of shape (vocabulary, "
                + "model.n_embd = \(config.model.nEmbd)) with a vocabulary of \(tokenizer.vocabSize) to \(Limits.vocabulary) ids")
        }
        return (config, tokenizer, wte[0])
    }

    /// A Hugging Face folder of a family Tessera reads (`HFCheckpoint`).
    public init(huggingFace folder: String) throws {
        let checkpoint = try HFCheckpoint(folder: folder)
        try MemoryGate(sampling: checkpoint.dims).check(ranksOnNode: 1)
        let model = GPT(dims: checkpoint.dims, seed: 0)
        for (i, spec) in model.store.specs.enumerated() {
            let values = try checkpoint.tensor(spec.name, shape: spec.globalShape)
            (model.store.values + model.store.offsets[i]).update(from: values, count: values.count)
        }
        model.parametersChanged()
        (self.model, source, config, tokenizer) = (model, folder, nil, nil)
    }

    /// The tokenizer the model was trained with, which a Hugging Face folder does not carry.
    public func trainedTokenizer() throws -> any Tokenizer {
        guard let tokenizer else {
            throw SetupError("\(source) is a Hugging Face folder, which carries no Tessera tokenizer: "
                + "give a model.h5, a checkpoint folder or a run directory")
        }
        return tokenizer
    }

    /// The model file `path` means: itself, a folder's model.h5, or a run directory's newest
    /// checkpoint's. Tessera writes model.h5 as a regular file (a hard link at the run's top).
    static func modelFile(_ path: String) throws -> String {
        let kind = FileKind.of(path)
        if kind.isFile { return path }
        guard kind.isFolder else {
            throw SetupError("checkpoint '\(path)' \(kind == .missing ? "does not exist" : "is \(kind.phrase)")")
        }
        let inside = path + "/model.h5"
        if FileKind.of(inside) == .missing, let (folder, _) = try CheckpointFolder(runDirectory: path).newest() {
            return try modelFile(folder)
        }
        switch FileKind.of(inside) {
        case .regular: return inside
        case .missing: throw SetupError("'\(path)' holds no model.h5 and no complete checkpoint")
        case let other: throw SetupError("\(inside) is \(other.phrase); Tessera writes model.h5 as a regular file")
        }
    }

    /// Parameter `name`'s full tensor (one process holds all of it), valid while this lives.
    public func parameter(_ name: String) -> UnsafeBufferPointer<Float> {
        let store = model.store, index = store.index(of: name)
        return UnsafeBufferPointer(start: store.values + store.offsets[index], count: store.specs[index].localCount)
    }

    /// The logits (B, T, V) of `tokens`, B sequences of T ≤ block size tokens one after the other,
    /// each from position 0 with a causal mask: what `transformers` computes without a cache.
    public func logits(tokens: [Int32], batch B: Int) throws -> [Float] {
        let T = tokens.count / B, V = model.dims.vocabSize
        precondition(model.dims.encoder == nil, "an encoder-decoder's logits need decoder inputs (seq2seqLogits)")
        precondition(B > 0 && T * B == tokens.count && (1...model.dims.blockSize).contains(T),
                     "\(tokens.count) tokens in \(B) sequences of at most \(model.dims.blockSize)")
        precondition(tokens.allSatisfy { (0..<Int32(V)).contains($0) }, "token ids outside [0, \(V))")
        let acts = model.makeActivations(batch: B)
        try tokens.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: $0.baseAddress!, targets: nil, T: T) }
        return try firstLogits(acts, rows: T, of: T)
    }

    /// An encoder-decoder's logits (B, T', V) for B rows of `inputs` (S' ≤ S ids each) and of
    /// `decoderInputs` (T' ≤ T ids each), one row after the other: each row's encoder reads its S'
    /// ids (their length masks the padding after them, so it is an encoder of S' positions), its
    /// decoder its T' ids causally. What `transformers` computes without masks or cache.
    public func seq2seqLogits(inputs: [Int32], decoderInputs: [Int32], batch B: Int) throws -> [Float] {
        let dims = model.dims, S = dims.encoderBlockSize, T = dims.blockSize, V = dims.vocabSize
        let inputLength = inputs.count / B, decoderLength = decoderInputs.count / B
        precondition(dims.encoder != nil, "a decoder's logits need no decoder inputs (logits(tokens:))")
        precondition(B > 0 && inputLength * B == inputs.count && (1...S).contains(inputLength)
                     && decoderLength * B == decoderInputs.count && (1...T).contains(decoderLength),
                     "\(inputs.count) and \(decoderInputs.count) ids in \(B) rows of at most \(S) and \(T)")
        precondition((inputs + decoderInputs).allSatisfy { (0..<Int32(V)).contains($0) }, "token ids outside [0, \(V))")
        var tokens = [Int32](repeating: 0, count: model.inputCount(batch: B))
        for b in 0..<B {
            for i in 0..<inputLength { tokens[b * S + i] = inputs[b * inputLength + i] }
            for t in 0..<decoderLength { tokens[B * S + b * T + t] = decoderInputs[b * decoderLength + t] }
            tokens[B * (S + T) + b] = Int32(inputLength)
        }
        let acts = model.makeActivations(batch: B)
        try tokens.withUnsafeBufferPointer { _ = try model.forward(acts, tokens: $0.baseAddress!, targets: nil) }
        return try firstLogits(acts, rows: decoderLength, of: T)
    }

    /// The first `rows` of every sequence's `of` rows of logits, V columns each.
    private func firstLogits(_ acts: GPTActivations, rows: Int, of T: Int) throws -> [Float] {
        let V = model.dims.vocabSize, (values, ld) = try model.fullLogits(acts)
        var result = [Float](repeating: 0, count: acts.B * rows * V)
        for b in 0..<acts.B {
            for t in 0..<rows {
                for v in 0..<V { result[(b * rows + t) * V + v] = values[(b * T + t) * ld + v] }
            }
        }
        return result
    }
}
