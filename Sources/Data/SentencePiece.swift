#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import CSentencePiece

/// A loaded SentencePiece model: the only Swift code that calls the `tessera_spm_*` C functions
/// (Sources/CSentencePiece wraps `sentencepiece::SentencePieceProcessor`). Immutable once loaded;
/// SentencePiece's encode and decode are const, so one model serves any number of threads.
final class SentencePieceModel: @unchecked Sendable {
    private let handle: OpaquePointer

    /// `tessera_spm_load`: the bytes of a .model file. `source` names it in errors.
    init(modelBytes: [UInt8], source: String) throws(DataError) {
        var error: UnsafeMutablePointer<CChar>?
        let loaded = modelBytes.withUnsafeBytes { tessera_spm_load($0.baseAddress, $0.count, &error) }
        guard let loaded else {
            throw .badTokenizerModel(path: source, reason: takeMessage(error))
        }
        handle = loaded
    }

    deinit { tessera_spm_destroy(handle) }

    /// `tessera_spm_piece_count`: the vocabulary size.
    var pieceCount: Int { Int(tessera_spm_piece_count(handle)) }
    /// `tessera_spm_eos_id`: the `</s>` id, or nil when the model has none.
    var eosID: Int32? {
        let id = tessera_spm_eos_id(handle)
        return id >= 0 ? id : nil
    }

    /// `tessera_spm_serialized`: the model proto, as a .model file holds it.
    var serialized: [UInt8] {
        var size = 0
        guard let bytes = tessera_spm_serialized(handle, &size) else { return [] }
        defer { tessera_spm_free(bytes) }
        return Array(UnsafeRawBufferPointer(start: bytes, count: size))
    }

    /// `tessera_spm_encode` over UTF-8 bytes.
    func encode(utf8 text: UnsafeRawBufferPointer) throws(DataError) -> [Int32] {
        var ids: UnsafeMutablePointer<Int32>?
        var count = 0
        var error: UnsafeMutablePointer<CChar>?
        let base = text.baseAddress?.assumingMemoryBound(to: CChar.self)
        guard tessera_spm_encode(handle, base, text.count, &ids, &count, &error) == 0, let ids else {
            throw .tokenizerFailed(reason: takeMessage(error))
        }
        defer { tessera_spm_free(ids) }
        return Array(UnsafeBufferPointer(start: ids, count: count))
    }

    /// `tessera_spm_decode`; nil when SentencePiece refuses an id.
    func decode(_ ids: [Int32]) -> String? {
        var text: UnsafeMutablePointer<CChar>?
        var length = 0
        var error: UnsafeMutablePointer<CChar>?
        let status = ids.withUnsafeBufferPointer { tessera_spm_decode(handle, $0.baseAddress, $0.count, &text, &length, &error) }
        guard status == 0, let text else {
            tessera_spm_free(error)
            return nil
        }
        defer { tessera_spm_free(text) }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }
}

/// `tessera_spm_train`: SentencePieceTrainer::Train over `options` (spm_train's flags without the
/// dashes). `quiet` keeps SentencePiece's progress log and warnings off standard error.
func trainSentencePiece(options: [(String, String)], quiet: Bool) throws(DataError) {
    tessera_spm_set_log_level(quiet ? 2 : 0)
    var keys = options.map { strdup($0.0) }, values = options.map { strdup($0.1) }
    defer { (keys + values).forEach { free($0) } }
    var error: UnsafeMutablePointer<CChar>?
    let status = keys.withUnsafeMutableBufferPointer { keys in
        values.withUnsafeMutableBufferPointer { values in
            keys.withMemoryRebound(to: UnsafePointer<CChar>?.self) { keys in
                values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                    tessera_spm_train(keys.baseAddress, values.baseAddress, keys.count, &error)
                }
            }
        }
    }
    guard status == 0 else { throw .tokenizerTrainingFailed(reason: takeMessage(error)) }
}

/// The message a `tessera_spm_*` call left, freed.
private func takeMessage(_ error: UnsafeMutablePointer<CChar>?) -> String {
    guard let error else { return "unknown SentencePiece error" }
    defer { tessera_spm_free(error) }
    return String(cString: error)
}
