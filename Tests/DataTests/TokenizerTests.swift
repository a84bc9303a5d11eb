import Config
import Data
import Foundation
import Testing

@Test func charVocabularyOfTinyShakespeareHas65Symbols() throws {
    let text = try String(contentsOfFile: shakespearePath, encoding: .utf8)
    let tokenizer = CharTokenizer(corpus: text)
    #expect(tokenizer.vocabSize == 65)
    #expect(tokenizer.serialized == "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    // nanoGPT's encode("hii there") for this corpus.
    #expect(try tokenizer.encode("hii there") == [46, 47, 47, 1, 58, 46, 43, 56, 43])
    #expect(try tokenizer.decode(tokenizer.encode(text)) == text)
}

@Test func charTokenizerRejectsUnknownCharacters() throws {
    let tokenizer = CharTokenizer(corpus: "abc")
    let error = try #require(throws: DataError.self) { try tokenizer.encode("abΩ") }
    #expect(error == .unknownCharacter("Ω"))
    #expect(error.description == "character 'Ω' (U+3A9) is not in the char tokenizer's vocabulary")
}

@Test func charTokenizerCountsScalarsNotGraphemes() throws {
    let tokenizer = CharTokenizer(corpus: "a\r\nb")
    #expect(tokenizer.vocabSize == 4)
    #expect(try tokenizer.encode("\r\n") == [1, 0])
}

@Test func charDecodeMapsUnknownIdsToReplacement() {
    #expect(CharTokenizer(corpus: "ab").decode([0, 7, -1, 1]) == "a\u{FFFD}\u{FFFD}b")
}

@Test func charTokenizerRebuildsFromItsSerializedForm() throws {
    let original = CharTokenizer(corpus: "hello, wörld 🎉\n")
    let rebuilt = try makeTokenizer(kind: .char, serialized: original.serialized)
    #expect(rebuilt.kind == .char && rebuilt.vocabSize == original.vocabSize)
    #expect(try rebuilt.encode("wörld 🎉") == original.encode("wörld 🎉"))
}

@Test func corruptCharVocabularyIsRejected() throws {
    #expect(throws: DataError.badVocabulary(reason: "it is empty")) { try CharTokenizer(serialized: "") }
    #expect(throws: DataError.badVocabulary(reason: "its symbols are not sorted and unique")) {
        try CharTokenizer(serialized: "ba")
    }
    #expect(throws: DataError.badVocabulary(reason: "its symbols are not sorted and unique")) {
        try CharTokenizer(serialized: "aa")
    }
}

@Test func byteTokenizerRoundTripsUTF8() throws {
    let tokenizer = ByteTokenizer()
    let text = "héllo, 世界 🎉\n"
    #expect(tokenizer.vocabSize == 256 && tokenizer.kind == .byte)
    #expect(tokenizer.encode(text) == Array(text.utf8).map { Int32($0) })
    #expect(tokenizer.decode(tokenizer.encode(text)) == text)
}

@Test func byteDecodeOfInvalidUTF8IsLossy() {
    let tokenizer = ByteTokenizer()
    #expect(tokenizer.decode([0x41, 0xFF, 0x42]) == "A\u{FFFD}B")
    #expect(tokenizer.decode([0xE4, 0xB8]) == "\u{FFFD}")
    // 256 is the end-of-text id of prepared shards: a newline.
    #expect(tokenizer.decode([0x41, 256, -1, 257]) == "A\n\u{FFFD}\u{FFFD}")
}

@Test func byteTokenizerRebuildsFromItsSerializedForm() throws {
    let rebuilt = try makeTokenizer(kind: .byte, serialized: ByteTokenizer().serialized)
    #expect(rebuilt.kind == .byte && rebuilt.vocabSize == 256)
}

@Test func sentencepieceFromAnEmptySerializedFormIsRejected() throws {
    let error = try #require(throws: DataError.self) { try makeTokenizer(kind: .sentencepiece, serialized: "") }
    #expect(error == .badTokenizerModel(path: "tokenizer_data", reason: "not a base64 SentencePiece model"))
}
