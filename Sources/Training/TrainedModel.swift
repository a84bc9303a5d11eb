import Checkpoint
import Config
import Data
import FileSystem
import Model

/// A trained model loaded whole on one process, with the tokenizer it was trained with: what
/// `tessera sample`, `prefer` and `eval` start from.
public struct TrainedModel {
    public let model: GPT
    public let tokenizer: any Tokenizer
    /// The model.h5 it was read from.
    public let file: String

    /// `path` is a model.h5 file, a checkpoint folder, or a run directory: its final model.h5, or
    /// else its newest checkpoint's. Every size comes from the file's config attribute, checked as
    /// a config and against this machine's memory, and each tensor is read only after its declared
    /// shape has been compared with the model's.
    public init(path: String) throws {
        let file = try Self.modelFile(path)
        let reader = try ModelFileReader(path: file)
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
        let dims = GPTDimensions(config: config.model, vocabSize: wte[0])
        try MemoryGate(sampling: dims).check(ranksOnNode: 1)
        let model = GPT(dims: dims, seed: 0)
        for (i, spec) in model.store.specs.enumerated() {
            try reader.read(spec.name, shape: spec.globalShape,
                            into: UnsafeMutableBufferPointer(start: model.store.values + model.store.offsets[i], count: spec.localCount))
        }
        try reader.file.close()
        self.model = model
        self.tokenizer = tokenizer
        self.file = file
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
}
