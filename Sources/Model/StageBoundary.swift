/// The one buffer that crosses a pipeline stage boundary with each microbatch of B sequences, and
/// its gradient going back (the same layout): what `stageInput` receives and a stage sends on.
///
/// A decoder's is its residual stream (B, T, C). An encoder-decoder's holds both streams, the
/// encoder's (B, S, C) first: the encoder's residual until its last layer, then its output, which
/// every decoder layer on every later stage reads (so its gradient comes back summed over them).
/// Before the decoder's first layer the decoder stream holds the target embeddings, made on the
/// first stage. Under relative positions each stack's bias table (buckets, NH/tp) follows: the
/// stage holding the stack's first layer writes its parameter there, later stages' layers read
/// it, and the gradient slot carries their sum back to that stage, which adds it into the
/// parameter's gradient. A table is a few hundred floats, so carrying it costs nothing, and no
/// parameter is held by two stages.
public struct StageBoundary: Sendable, Equatable {
    /// The encoder's stream (B, S, C), for an encoder-decoder.
    public let encoder: Range<Int>?
    /// The decoder's residual stream (B, T, C).
    public let decoder: Range<Int>
    /// Per stack (the encoder's, then the decoder's), its relative position bias table
    /// (buckets, NH / tp); empty without relative positions.
    public let tables: [Range<Int>]

    public init(dims: GPTDimensions, partition: GPTPartition, B: Int) {
        let C = dims.nEmbd, encoderCount = B * dims.encoderBlockSize * C
        encoder = dims.encoder == nil ? nil : 0..<encoderCount
        let start = encoder?.upperBound ?? 0
        let end = start + B * dims.blockSize * C
        decoder = start..<end
        let tableCount = (dims.parts.relativeBuckets?.buckets ?? 0) * dims.nHead / partition.tpSize
        let stacks = dims.parts.relativeBuckets == nil ? 0 : dims.encoder == nil ? 1 : 2
        tables = (0..<stacks).map { (stack: Int) -> Range<Int> in
            let first: Int = end + stack * tableCount
            return first..<(first + tableCount)
        }
    }

    public var count: Int { tables.last?.upperBound ?? decoder.upperBound }

    /// Whether a stage sends a copy (its streams and tables gathered), rather than its last
    /// block's output as it lies.
    public var sendsCopy: Bool { encoder != nil || !tables.isEmpty }

    /// The table slot of `layer`'s stack.
    public func table(layer: Int, dims: GPTDimensions) -> Range<Int> {
        tables[dims.encoder != nil && !dims.isEncoderLayer(layer) ? 1 : 0]
    }
}
