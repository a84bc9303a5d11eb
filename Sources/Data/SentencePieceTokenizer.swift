import Config
import Foundation

/// A SentencePiece model (unigram or BPE) as a Tokenizer: encode and decode go through the real
/// library, so ids equal `spm_encode`'s and Python `sentencepiece`'s for the same model and text.
///
/// `serialized` is the .model file's bytes in base64, so a checkpoint's `tokenizer_data` carries
/// the whole model and `tessera sample` needs nothing else. Documents in prepared shards end with
/// the model's `</s>` (its `eos_id`), so the vocabulary stays the model's; a model without `</s>`
/// gets one extra id past its pieces.
public struct SentencePieceTokenizer: Tokenizer {
    let model: SentencePieceModel

    /// Loads a .model file.
    public init(modelPath path: String) throws {
        let bytes = try FileBytes.contents(of: path)
        guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }
        model = try SentencePieceModel(modelBytes: bytes, source: path)
    }

    /// Rebuilds from `serialized` (base64 of the model's bytes).
    public init(serialized: String) throws {
        guard let bytes = Foundation.Data(base64Encoded: serialized), !bytes.isEmpty else {
            throw DataError.badTokenizerModel(path: "tokenizer_data", reason: "not a base64 SentencePiece model")
        }
        model = try SentencePieceModel(modelBytes: Array(bytes), source: "tokenizer_data")
    }

    public var kind: TokenizerKind { .sentencepiece }
    public var vocabSize: Int { model.pieceCount }
    public var endOfText: Int32 { model.eosID ?? Int32(model.pieceCount) }
    public var serialized: String { Foundation.Data(model.serialized).base64EncodedString() }

    public func encode(_ text: String) throws -> [Int32] {
        var text = text
        return try text.withUTF8 { try model.encode(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Encodes UTF-8 bytes without making a String first.
    public func encode(utf8 bytes: UnsafeRawBufferPointer) throws -> [Int32] {
        try model.encode(utf8: bytes)
    }

    /// The end-of-text id becomes a newline; other ids outside the vocabulary become U+FFFD.
    public func decode(_ tokens: [Int32]) -> String {
        splitAtEndOfText(tokens).map { run in
            let known = run.map { (0..<Int32(vocabSize)).contains($0) ? $0 : -1 }
            guard !known.contains(-1) else {
                return known.split(separator: -1, omittingEmptySubsequences: false)
                    .map { model.decode(Array($0)) ?? "\u{FFFD}" }.joined(separator: "\u{FFFD}")
            }
            return model.decode(run) ?? "\u{FFFD}"
        }.joined(separator: "\n")
    }
}

/// `tessera tokenize train`: SentencePiece training through the library, writing PREFIX.model and
/// PREFIX.vocab as `spm_train` does. Settings chosen so that text round-trips exactly and a long
/// text encodes the same whole or cut at newlines (what `tessera prepare` does with large files):
/// identity normalization, whitespace kept as is, no dummy prefix, every character of the input
/// in the vocabulary (character_coverage 1), and the newline as a piece of its own (SentencePiece
/// reads its input line by line and would otherwise never see one).
public enum SentencePieceTraining {
    public enum ModelType: String, CaseIterable, Sendable { case unigram, bpe }

    public static func train(inputs: [String], vocabSize: Int, modelType: ModelType, outputPrefix: String,
                             byteFallback: Bool = false, quiet: Bool = true) throws {
        for input in inputs {
            // Checked here for a clear message: SentencePiece's own would be a crash or a vague line.
            let bytes = try FileBytes.contents(of: input)
            if let offset = UTF8Check.firstInvalidOffset(bytes) {
                throw DataError.badInput(path: input, location: "byte \(offset)", reason: "not valid UTF-8 text")
            }
        }
        try trainSentencePiece(options: [
            ("input", inputs.joined(separator: ",")),
            ("model_prefix", outputPrefix),
            ("vocab_size", String(vocabSize)),
            ("model_type", modelType.rawValue),
            ("character_coverage", "1.0"),
            ("normalization_rule_name", "identity"),
            ("remove_extra_whitespaces", "false"),
            ("add_dummy_prefix", "false"),
            ("user_defined_symbols", "\n"),
            ("byte_fallback", byteFallback ? "true" : "false"),
            ("max_sentence_length", "16384"),
        ], quiet: quiet)
    }
}
