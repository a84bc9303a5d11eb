/// How `tessera prepare` reads an input file, chosen by its extension unless `--format` says:
///
///   .txt .md .text  text      the whole file is one document
///   .jsonl          jsonl     one document per line: `--jsonl-template`, else the "text" field,
///                             else every field as a `key: value` line
///   .csv .tsv       csv, tsv  one document per row, a `column: value` line per header column;
///                             a .tsv whose header is subject/predicate/object is read as triples
///   .nt             triples   N-Triples, grouped per subject: one document per subject holding a
///                             "subject predicate object." statement per triple
///   anything else   binary    any bytes, framed as one document behind a modality tag line
///                             (`<|image|>`, `<|audio|>` or `<|binary|>`); byte tokenizer only
///
/// and, only when `--format seq2seq` says so, `seq2seq`: JSONL of `{"input": ..., "target": ...}`
/// pairs, written as pair shards (`PairShards`) for an encoder-decoder model.
public enum InputFormat: String, CaseIterable, Sendable {
    case text, jsonl, csv, tsv, triples, binary, seq2seq

    /// The format for `path` by its extension.
    public static func detect(path: String) -> InputFormat {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return .binary }
        switch name[name.index(after: dot)...].lowercased() {
        case "txt", "md", "text": return .text
        case "jsonl": return .jsonl
        case "csv": return .csv
        case "tsv": return .tsv
        case "nt": return .triples
        default: return .binary
        }
    }

    /// The tag line that opens a binary file's document, by extension.
    static func modalityTag(path: String) -> String {
        let lower = path.lowercased()
        let images = [".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"], audio = [".wav", ".mp3", ".flac", ".ogg"]
        if images.contains(where: lower.hasSuffix) { return "<|image|>" }
        if audio.contains(where: lower.hasSuffix) { return "<|audio|>" }
        return "<|binary|>"
    }
}
