/// Seq2seq pairs in token shards: a folder from `tessera prepare --format seq2seq` is a folder of
/// ordinary token shards (`TokenShard`: same header, checksum and id checks) whose index.json has
/// format `tessera-pair-shards`. Each shard holds one input file's pairs in line order, each as
///
///     input ids, end of text, target ids, end of text
///
/// so the stream is its own index of pair boundaries: tokenizers never encode text to the
/// end-of-text id (and encoding refuses a text that does), so every second end-of-text id ends a
/// pair. A shard's `documents` counts its pairs; the loader finds them by one pass over the ids
/// (the same pass that checks them) and compares the count. The split is by pairs: the first
/// int(pairs × (1 − val_fraction)) train, and `train_tokens` is where the first validation pair
/// starts.
public enum PairShards {
    /// The stream of `pairs` (as above) and where each pair lies in it. Refuses, naming the line,
    /// a text that encodes to no ids or to the end-of-text id, or that the tokenizer cannot encode.
    static func encode(_ pairs: [TextPair], tokenizer: any Tokenizer, path: String) throws -> (tokens: [Int32], spans: [PairSpan]) {
        let endOfText = tokenizer.endOfText
        var tokens: [Int32] = [], spans: [PairSpan] = []
        spans.reserveCapacity(pairs.count)
        for pair in pairs {
            let start = tokens.count
            for (name, text) in [("input", pair.input), ("target", pair.target)] {
                func bad(_ reason: String) -> DataError { .badInput(path: path, location: "line \(pair.line)", reason: reason) }
                let ids: [Int32]
                do {
                    ids = try tokenizer.encode(text)
                } catch {
                    throw bad("the \(name) cannot be encoded: \(error)")
                }
                guard !ids.isEmpty else { throw bad("the \(name) encodes to no tokens") }
                guard !ids.contains(endOfText) else { throw bad("the \(name) encodes to the end-of-text id \(endOfText)") }
                tokens += ids
                tokens.append(endOfText)
            }
            let inputCount = tokens[start...].firstIndex(of: endOfText)! - start + 1
            spans.append(PairSpan(start: start, inputCount: Int32(inputCount), targetCount: Int32(tokens.count - start - inputCount)))
        }
        return (tokens, spans)
    }

    /// The pairs of one mapped shard, positions counted in the folder's concatenation. Refuses a
    /// shard that ends inside a pair or holds an empty input or target (two end-of-text ids in a
    /// row): `path` names the shard.
    static func spans(of segment: ShardSegment, endOfText: Int32, path: String) throws(DataError) -> [PairSpan] {
        var spans: [PairSpan] = [], i = 0
        func end(after from: Int, _ part: String) throws(DataError) -> Int {
            var at = from
            while at < segment.count, segment.id(at: at) != endOfText { at += 1 }
            guard at < segment.count else {
                throw .badShard(path: path, reason: "pair \(spans.count + 1) has no end-of-text id after its \(part): the shard ends inside a pair")
            }
            guard at > from else { throw .badShard(path: path, reason: "pair \(spans.count + 1) has an empty \(part)") }
            return at
        }
        while i < segment.count {
            let inputEnd = try end(after: i, "input")
            let targetEnd = try end(after: inputEnd + 1, "target")
            spans.append(PairSpan(start: segment.start + i, inputCount: Int32(inputEnd - i + 1),
                                  targetCount: Int32(targetEnd - inputEnd)))
            i = targetEnd + 1
        }
        return spans
    }

    /// index.json for a pair folder whose `shards` (records in order) are written in `folder`:
    /// split after the first int(pairs × (1 − valFraction)) pairs, which needs the token offset
    /// of that pair, read from the shard it lies in. Throws `DataError.tooFewPairs` when a split
    /// would be empty.
    public static func index(folder: String, tokenizer: any Tokenizer, valFraction: Double,
                             shards: [ShardRecord]) throws -> ShardIndex {
        let pairs = shards.reduce(0) { $0 + $1.documents }
        let trainPairs = Int(Double(pairs) * (1 - valFraction))
        guard trainPairs >= 1, trainPairs < pairs else {
            throw DataError.tooFewPairs(path: folder, pairs: pairs, valFraction: valFraction)
        }
        var before = 0, tokensBefore = 0, trainTokens = 0
        for record in shards {
            guard trainPairs < before + record.documents else {
                before += record.documents
                tokensBefore += record.tokens
                continue
            }
            let width = TokenShard.width(vocabSize: tokenizer.vocabSizeWithEndOfText)
            let file = try MappedFile(path: folder + "/" + record.file)
            let payload = try TokenShard.validate(file, tokens: record.tokens, width: width, crc: record.checksum ?? 0,
                                                  vocabSize: tokenizer.vocabSizeWithEndOfText)
            let segment = ShardSegment(file: file, payload: payload, width: width, start: 0, count: record.tokens)
            let spans = try PairShards.spans(of: segment, endOfText: tokenizer.endOfText, path: file.path)
            guard spans.count == record.documents else {
                throw DataError.badShard(path: file.path, reason: "holds \(spans.count) pairs, \(record.documents) were written")
            }
            trainTokens = tokensBefore + spans[trainPairs - before].start
            break
        }
        return ShardIndex(tokenizer: tokenizer, valFraction: valFraction, shards: shards, format: ShardIndex.pairFormatName,
                          trainTokens: trainTokens)
    }
}
