// Kernels: forward/backward pairs over contiguous Float buffers. They never know about ranks.
//
// Size letters used throughout:
//   B batch (sequences), T time (tokens per sequence), C channels, OC output channels,
//   NH heads, NKV key/value heads (NH / NKV query heads share each; NKV = NH is plain multi-head),
//   HS head size (C / NH), H hidden width of a gated MLP, V vocabulary, N element count,
//   S source length (encoder tokens per sequence, which an encoder-decoder's cross-attention reads).
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
