import FileSystem

extension Corpus {
    /// A held-out set for `[[eval]] kind = "lm"`: every token of `path` in both splits, so the
    /// sampler's fixed validation batches draw from all of it. `path` is a text file, encoded with
    /// the run's `tokenizer`, or a folder of shards prepared with that same tokenizer (the ids must
    /// mean what the model learned; the end-of-text id must be one of its `vocabSize` rows).
    public init(heldOut path: String, tokenizer: any Tokenizer, vocabSize: Int, blockSize: Int) throws {
        func bad(_ reason: String) -> DataError { .badInput(path: path, location: "(an [[eval]] path)", reason: reason) }
        let tokens: TokenStore
        if Corpus.isPreparedFolder(path) {
            let prepared = try PreparedFolder(folder: path, format: ShardIndex.formatName)
            guard prepared.base.kind == tokenizer.kind && prepared.base.serialized == tokenizer.serialized else {
                throw bad("its shards were prepared with another tokenizer (\(prepared.base.kind.rawValue), "
                    + "\(prepared.base.vocabSize) ids) than the run's (\(tokenizer.kind.rawValue), \(tokenizer.vocabSize) ids)")
            }
            guard prepared.index.vocabSize <= vocabSize else {
                throw bad("its shards hold ids up to \(prepared.index.vocabSize - 1) (end of text included), past the "
                    + "model's \(vocabSize) embedding rows; train on shards, or set model.vocab_size, to evaluate shards")
            }
            tokens = TokenStore(shards: prepared.segments, range: 0..<prepared.index.tokens)
        } else {
            let bytes = try FileBytes.contents(of: path)
            guard !bytes.isEmpty else { throw DataError.emptyFile(path: path) }
            if tokenizer.kind != .byte, let offset = UTF8Check.firstInvalidOffset(bytes) {
                throw DataError.notUTF8(path: path, byteOffset: offset)
            }
            do {
                tokens = TokenStore(tokenizer.kind == .byte ? bytes.map { Int32($0) }
                                        : try tokenizer.encode(String(decoding: bytes, as: UTF8.self)))
            } catch {
                throw bad("the run's \(tokenizer.kind.rawValue) tokenizer cannot encode it: \(error)")
            }
        }
        try Corpus.checkSplits(path: path, train: tokens.count, val: tokens.count, blockSize: blockSize)
        self.init(path: path, tokenizer: tokenizer, train: tokens, val: tokens)
    }
}
