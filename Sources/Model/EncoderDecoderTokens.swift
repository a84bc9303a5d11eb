extension GPT {
    /// One sequence in `forward`'s encoder-decoder token layout (`inputCount(batch: 1)`): `input`
    /// (1...S ids) and `decoderInputs` (1...T ids: the start id, then the target so far) each
    /// padded to its block with `padding` (a real id, as training rows pad with end of text), then
    /// the input's length. Padded decoder positions come after every real one, so under the causal
    /// mask they change no real position's logits.
    public func encoderDecoderTokens(input: [Int32], decoderInputs: [Int32], padding: Int32) -> [Int32] {
        let S = dims.encoderBlockSize, T = dims.blockSize
        precondition(dims.encoder != nil && (1...S).contains(input.count) && (1...T).contains(decoderInputs.count),
                     "\(input.count) input and \(decoderInputs.count) decoder ids for S = \(S), T = \(T)")
        return input + Array(repeating: padding, count: S - input.count)
            + decoderInputs + Array(repeating: padding, count: T - decoderInputs.count) + [Int32(input.count)]
    }
}
