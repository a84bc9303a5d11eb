import Data
import Foundation

/// The tokenizer of an export, as files a user of the Hugging Face folder can read without Tessera:
/// a SentencePiece model as `tokenizer.model` (its own bytes, for `sentencepiece` or a
/// transformers tokenizer class built on it); Tessera's char and byte tokenizers, which
/// transformers has no class for, as `tessera_vocab.json` (docs/interop.md shows how to decode
/// ids with it).
public enum TokenizerFiles {
    public static let sentencePieceName = "tokenizer.model"
    public static let vocabularyName = "tessera_vocab.json"

    /// The files for `tokenizer`, and the id that ends a document when the model's vocabulary of
    /// `vocabSize` ids holds it (Tessera's char and byte tokenizers add it past their vocabulary
    /// for prepared shards; SentencePiece's is `</s>`).
    public static func files(for tokenizer: any Tokenizer, vocabSize: Int) -> (files: [TokenizerFile], endOfText: Int?) {
        let tokenizer = (tokenizer as? DocumentTokenizer)?.base ?? tokenizer
        let endOfText = Int(tokenizer.endOfText) < vocabSize ? Int(tokenizer.endOfText) : nil
        let end = endOfText.map { JSONValue.number("\($0)") } ?? .null
        switch tokenizer {
        case let char as CharTokenizer:
            return ([vocabulary([("tokenizer", .string("char")), ("vocab_size", .number("\(vocabSize)")), ("end_of_text", end),
                                 ("tokens", .array(char.symbols.map { .string(String($0)) }))])], endOfText)
        case is ByteTokenizer:
            return ([vocabulary([("tokenizer", .string("byte")), ("vocab_size", .number("\(vocabSize)")), ("end_of_text", end)])],
                    endOfText)
        case is SentencePieceTokenizer:
            // `serialized` is the .model file's bytes in base64.
            let bytes = Foundation.Data(base64Encoded: tokenizer.serialized).map { Array($0) } ?? []
            return ([TokenizerFile(name: sentencePieceName, bytes: bytes)], endOfText)
        default:
            return ([], endOfText)
        }
    }

    private static func vocabulary(_ members: [(key: String, value: JSONValue)]) -> TokenizerFile {
        TokenizerFile(name: vocabularyName, bytes: Array(prettyJSON([("format", .string("tessera-vocab")), ("version", .number("1"))]
            + members).utf8))
    }
}
