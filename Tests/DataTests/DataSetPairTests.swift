import Data
import Foundation
import Testing

/// Two data sets read with one tokenizer for `tessera monitor drift`: text files share a char
/// vocabulary, a prepared folder's tokenizer reads the other side, and folders of different
/// tokenizers are refused.
struct DataSetPairTests {
    @Test func twoTextFilesShareTheCharVocabularyOfBoth() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let pair = try DataSetPair(reference: try scratch.file("a.txt", text: "abab"), current: try scratch.file("b.txt", text: "cab"))
        #expect(pair.tokenizer.vocabSize == 3 && DataSetPair.describe(pair.tokenizer) == "char (3 symbols)")
        #expect(Array(pair.reference.tokens) == [0, 1, 0, 1] && Array(pair.current.tokens) == [2, 0, 1])
        #expect(pair.reference.endOfText == nil)
    }

    @Test func aFoldersDocumentEndsDoNotCountAgainstTheSameText() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let chars = CharTokenizer(corpus: "abc")
        let folder = try writeFolder([try chars.encode("abcab") + [chars.endOfText], try chars.encode("ca") + [chars.endOfText]],
                                     tokenizer: chars, in: scratch)
        let pair = try DataSetPair(reference: folder, current: try scratch.file("same.txt", text: "abcabca"))
        #expect(pair.reference.endOfText == 3 && pair.reference.tokens.count == 9)
        let reference = TokenCounts(pair.reference.tokens, excluding: pair.reference.endOfText)
        let current = TokenCounts(pair.current.tokens, excluding: pair.current.endOfText)
        #expect(reference == current && Divergence.jensenShannon(reference, current) == 0)
    }

    @Test func foldersOfDifferentTokenizersAreRefusedNamingBoth() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let chars = try writeFolder([[0, 1, 2, 3]], tokenizer: CharTokenizer(corpus: "abc"), in: scratch, name: "chars")
        let bytes = try writeFolder([[97, 98, 99, 256]], tokenizer: ByteTokenizer(), in: scratch, name: "bytes")
        let otherChars = try writeFolder([[0, 1, 3]], tokenizer: CharTokenizer(corpus: "xyz"), in: scratch, name: "other")
        let kinds = try #require(throws: DataError.self) { try DataSetPair(reference: chars, current: bytes) }
        #expect(kinds.description.hasPrefix("data sets of different tokenizers: prepared folder '\(chars)' is char (3 symbols), "
            + "prepared folder '\(bytes)' is byte;"), "\(kinds)")
        let vocabularies = try #require(throws: DataError.self) { try DataSetPair(reference: chars, current: otherChars) }
        #expect(vocabularies.description.contains("with another vocabulary"), "\(vocabularies)")
        let asked = try #require(throws: DataError.self) { try DataSetPair(reference: chars, current: chars, textTokenizer: .byte) }
        #expect(asked.description.contains("--tokenizer byte"), "\(asked)")
    }

    @Test func textTheFixedVocabularyCannotSayIsRefusedNamingTheFile() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let folder = try writeFolder([[0, 1, 2, 3]], tokenizer: CharTokenizer(corpus: "abc"), in: scratch)
        let text = try scratch.file("new.txt", text: "abd")
        let error = try #require(throws: DataError.self) { try DataSetPair(reference: folder, current: text) }
        #expect(error.description.contains("'\(text)'") && error.description.contains("'d'"), "\(error)")
        let empty = try scratch.file("empty.txt", text: "")
        #expect(throws: DataError.emptyFile(path: empty)) { try DataSetPair(reference: folder, current: empty) }
    }
}
