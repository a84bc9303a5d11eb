// Kernels: forward/backward pairs over contiguous Float buffers. They never know about ranks.
//
// Size letters used throughout:
//   B batch (sequences), T time (tokens per sequence), C channels, OC output channels,
//   NH heads, NKV key/value heads (NH / NKV query heads share each; NKV = NH is plain multi-head),
//   HS head size (C / NH), H hidden width of a gated MLP, V vocabulary, N element count,
//   S source length (encoder tokens per sequence, which an encoder-decoder's cross-attention reads).
//
// Padded seq2seq batches: encoder inputs shorter than S are padded to it, and `keyLengths`
// (B Int32 values, 1 ≤ keyLengths[b] ≤ S; one `keyLength` Int when decoding a single sequence) tells
// bidirectional self-attention and cross-attention how many of sequence b's keys are real. Padded
// keys are left out of every max, sum and product (never read), so their probabilities and their
// key/value gradients are exactly 0; padded query rows still compute, over the real keys, and are
// ignored downstream. nil means every key is real and is bit-identical to the unpadded kernels.
//
// Argument order everywhere (llm.c's): outputs, saved-for-backward buffers, inputs, weights, sizes.
// Backward mirrors forward: input gradients, weight gradients, output gradient, saved buffers,
// inputs, weights, sizes.
//
// Invariant: every *weight* gradient is accumulated with `+=`, so gradient accumulation over
// microbatches works by simply not zeroing between them. Input gradients are overwritten unless a
// kernel says otherwise (LayerNorm and RMSNorm add into the residual stream's gradient; RoPE turns
// qkv and its gradient in place).
public typealias FloatPointer = UnsafeMutablePointer<Float>
public typealias ConstFloatPointer = UnsafePointer<Float>
