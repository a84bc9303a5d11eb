import Data
import Model

/// One Hugging Face architecture that Tessera's model maps onto, as a table: where config.json
/// keeps the model's sizes, which of its settings Tessera can represent, and which of the
/// checkpoint's tensors hold each Tessera parameter. Reading (`HFCheckpoint`) and writing
/// (`HFExport`) both go through it, so the two directions cannot disagree.
///
/// The families: gpt2 (GPT2Family.swift), llama (LlamaFamily.swift) and t5 (T5Family.swift). An
/// export takes the one that represents the model's parts (`family(for:)`).
public struct HFFamily: Sendable {
    /// config.json's `model_type`.
    public let modelType: String
    /// The class transformers builds from an export (config.json's `architectures`).
    public let architecture: String
    /// Every class whose checkpoints hold these tensors (the base class saves them without
    /// `basePrefix`).
    let readableArchitectures: Set<String>
    /// What the base model's tensor names start with in `architecture`'s checkpoints.
    let basePrefix: String
    /// The sizes config.json gives, compared with the run's model keys.
    let sizes: [SizeKey]
    /// The model config.json describes, its block size the number of positions it has; refuses
    /// sizes that cannot make a model (naming the key).
    let readDimensions: @Sendable (HFConfigFile) throws(InteropError) -> GPTDimensions
    /// Refuses a config whose settings Tessera's model cannot represent, naming the key.
    let checkSettings: @Sendable (HFConfigFile) throws(InteropError) -> Void
    /// Refuses a Tessera model this family has no class for, saying why (nil: representable).
    let unrepresentable: @Sendable (GPTDimensions) -> String?
    /// Every Tessera parameter of a model of these sizes, and the tensors that hold it.
    let tensors: @Sendable (GPTDimensions) -> [TensorRule]
    /// Checkpoint tensors that are not parameters and are skipped (buffers such as a causal mask,
    /// a copy of a tied head), named without the base prefix.
    let ignores: @Sendable (_ name: String) -> Bool
    /// config.json's members for an export, in the order written.
    let configMembers: @Sendable (GPTDimensions, HFExportSettings) -> [(key: String, value: JSONValue)]

    /// The families Tessera reads and writes.
    public static let all: [HFFamily] = [.gpt2, .llama, .t5]

    /// The family whose class represents a model of `dims` (read from `source`); refused with
    /// every family's reason when none does.
    public static func family(for dims: GPTDimensions, source: String) throws(InteropError) -> HFFamily {
        var reasons: [String] = []
        for family in all {
            guard let reason = family.unrepresentable(dims) else { return family }
            reasons.append(reason)
        }
        throw InteropError(source, "no Hugging Face class represents this model: " + reasons.joined(separator: "; "))
    }

    /// The family of `model_type`, if Tessera has one.
    public static func named(_ modelType: String) -> HFFamily? { all.first { $0.modelType == modelType } }

    /// Why this family's class cannot represent a mixture-of-experts model (`name`: "GPT-2"): every
    /// family's class has one dense MLP per block.
    func mixtureOfExperts(_ experts: ExpertSettings, name: String) -> String {
        "a mixture-of-experts model (model.n_experts = \(experts.count)) has no Hugging Face \(name) class: "
            + "\(architecture) has one dense MLP per block"
    }
}

/// A size config.json gives and the run's model key it must agree with.
struct SizeKey: Sendable {
    /// config.json's key (`n_layer`).
    let key: String
    /// Tessera's config key (`model.n_layer`).
    let modelKey: String
    let value: @Sendable (GPTDimensions) -> Int
    /// `.atLeast`: config.json's value may be larger than the run's (positions: the first
    /// block_size rows of the position embedding are used).
    let rule: Rule

    enum Rule: Sendable { case equal, atLeast }

    /// The vocabulary, `vocab_size` in every family's config.json.
    static let vocabulary = SizeKey(key: "vocab_size", modelKey: "the run's vocabulary (model.vocab_size, or the tokenizer's when 0)",
                                    value: { $0.vocabSize }, rule: .equal)
}

/// One Tessera parameter and where a Hugging Face checkpoint keeps it.
struct TensorRule: Sendable {
    /// Tessera's global name (`h.0.attn.c_attn.weight`).
    let name: String
    /// Tessera's global shape: linear weights [out, in].
    let shape: [Int]
    /// The checkpoint tensors, as stored there (names with the base prefix), whose rows in Tessera's
    /// orientation, one after the other, make the parameter: one for gpt2; llama's q, k, v.
    let pieces: [Piece]
    /// The checkpoint stores the matrix [in, out] (GPT-2's Conv1D): each piece is transposed.
    let transposed: Bool
    /// The checkpoint may hold more rows than the run uses, which takes the first ones (the
    /// position embedding of a model with more positions than block_size).
    let leadingRows: Bool

    struct Piece: Sendable {
        let name: String
        let shape: [Int]
    }

    init(_ name: String, _ shape: [Int], _ pieces: [Piece], transposed: Bool = false, leadingRows: Bool = false) {
        precondition(!transposed || shape.count == 2, "\(name): only matrices are transposed")
        self.name = name
        self.shape = shape
        self.pieces = pieces
        self.transposed = transposed
        self.leadingRows = leadingRows
    }

    /// A parameter held by one tensor of the same layout.
    init(_ name: String, _ shape: [Int], hf: String, leadingRows: Bool = false) {
        self.init(name, shape, [Piece(name: hf, shape: shape)], leadingRows: leadingRows)
    }

    /// A matrix held by one tensor stored [in, out].
    init(_ name: String, transposedMatrix shape: [Int], hf: String) {
        self.init(name, shape, [Piece(name: hf, shape: [shape[1], shape[0]])], transposed: true)
    }
}

/// What an export writes into config.json beyond the model's sizes.
public struct HFExportSettings: Sendable, Equatable {
    /// Dropout where Tessera applies it (embeddings, residual branches).
    public var dropout: Double
    /// The id that starts and ends a document, when the model's vocabulary has one.
    public var endOfText: Int?

    /// `endOfText` as config.json writes a token id: null when the vocabulary has none.
    var endOfTextValue: JSONValue { endOfText.map { .number("\($0)") } ?? .null }

    public init(dropout: Double, endOfText: Int?) {
        self.dropout = dropout
        self.endOfText = endOfText
    }
}
