import Kernels

/// Stable global names of every parameter (nanoGPT's, without the `transformer.` prefix): the
/// keys of model.h5 and of sharded checkpoints, identical on every layout.
public enum GPTParameterName {
    public static let tokenEmbedding = "wte"        // (V, C), also the head when tied
    public static let positionEmbedding = "wpe"     // (T, C), learned positions only
    public static let finalNormWeight = "ln_f.weight"
    public static let finalNormBias = "ln_f.bias"   // LayerNorm only
    public static let head = "lm_head.weight"       // (V, C), untied head only

    public static func block(_ layer: Int, _ leaf: BlockLeaf) -> String { "h.\(layer).\(leaf.rawValue)" }
    public static func expert(_ layer: Int, _ expert: Int, _ leaf: ExpertLeaf) -> String {
        "h.\(layer).mlp.experts.\(expert).\(leaf.rawValue)"
    }

    /// The layer a block's or expert's parameter belongs to; nil outside the blocks.
    public static func layer(of name: String) -> Int? {
        guard name.hasPrefix("h.") else { return nil }
        return Int(name.dropFirst(2).prefix { $0 != "." })
    }
}

/// The parameters of one transformer block, in memory order (`leaves(_:layer:)` says which a
/// block has). H is the MLP's hidden width (4C for GPT-2); fc holds H rows, or 2H [gate | up] for
/// a gated MLP. An encoder-decoder's decoder blocks add cross-attention (q from the decoder, [k | v]
/// from the encoder's output); its first decoder block holds the encoder's final norm, and each
/// stack's first block the stack's relative position bias table.
public enum BlockLeaf: String, CaseIterable, Sendable {
    case encoderNormWeight = "ln_enc.weight"        // (C) first decoder block only
    case encoderNormBias = "ln_enc.bias"            // (C) LayerNorm only
    case ln1Weight = "ln_1.weight"                  // (C)
    case ln1Bias = "ln_1.bias"                      // (C) LayerNorm only
    case qkvWeight = "attn.c_attn.weight"           // (3C, C), rows [q | k | v], heads contiguous
    case qWeight = "attn.q.weight"                  // (NH·HS, C) \
    case kWeight = "attn.k.weight"                  // (NKV·HS, C) } instead of c_attn when NKV < NH
    case vWeight = "attn.v.weight"                  // (NKV·HS, C) /
    case qkvBias = "attn.c_attn.bias"               // (3C)
    case qBias = "attn.q.bias"                      // (NH·HS)
    case kBias = "attn.k.bias"                      // (NKV·HS)
    case vBias = "attn.v.bias"                      // (NKV·HS)
    case attnProjWeight = "attn.c_proj.weight"      // (C, C)
    case attnProjBias = "attn.c_proj.bias"          // (C)
    case relativeBias = "attn.relative_bias"        // (buckets, NH) a stack's first block
    case crossNormWeight = "ln_cross.weight"        // (C) decoder blocks of an encoder-decoder
    case crossNormBias = "ln_cross.bias"            // (C) LayerNorm only
    case crossQWeight = "cross.q.weight"            // (NH·HS, C)
    case crossKVWeight = "cross.kv.weight"          // (2·NKV·HS, C), rows [k | v]
    case crossQBias = "cross.q.bias"                // (NH·HS)
    case crossKVBias = "cross.kv.bias"              // (2·NKV·HS)
    case crossProjWeight = "cross.c_proj.weight"    // (C, NH·HS)
    case crossProjBias = "cross.c_proj.bias"        // (C)
    case ln2Weight = "ln_2.weight"                  // (C)
    case ln2Bias = "ln_2.bias"                      // (C) LayerNorm only
    case fcWeight = "mlp.c_fc.weight"               // (H or 2H, C)
    case fcBias = "mlp.c_fc.bias"                   // (H or 2H)
    case fcProjWeight = "mlp.c_proj.weight"         // (C, H)
    case fcProjBias = "mlp.c_proj.bias"             // (C)
    case routerWeight = "mlp.router.weight"         // (n_experts, C), experts only

    /// The leaves block `layer` of `dims` has, in memory order: with experts the router replaces
    /// the MLP's linears (each expert brings its own, ExpertLeaf).
    public static func leaves(_ dims: GPTDimensions, layer: Int) -> [BlockLeaf] {
        let parts = dims.parts, fused = parts.fusedQKV(nHead: dims.nHead)
        let decoderOfEncoderDecoder = dims.encoder != nil && !dims.isEncoderLayer(layer)
        var leaves: [BlockLeaf] = []
        if decoderOfEncoderDecoder && layer == dims.encoderLayers {
            leaves += parts.normHasBias ? [.encoderNormWeight, .encoderNormBias] : [.encoderNormWeight]
        }
        leaves.append(.ln1Weight)
        if parts.normHasBias { leaves.append(.ln1Bias) }
        leaves += fused ? [.qkvWeight] : [.qWeight, .kWeight, .vWeight]
        if parts.bias { leaves += fused ? [.qkvBias] : [.qBias, .kBias, .vBias] }
        leaves.append(.attnProjWeight)
        if parts.bias { leaves.append(.attnProjBias) }
        if parts.relativeBuckets != nil && layer == dims.stackStart(layer) { leaves.append(.relativeBias) }
        if decoderOfEncoderDecoder {
            leaves += parts.normHasBias ? [.crossNormWeight, .crossNormBias] : [.crossNormWeight]
            leaves += parts.bias ? [.crossQWeight, .crossKVWeight, .crossQBias, .crossKVBias] : [.crossQWeight, .crossKVWeight]
            leaves += parts.bias ? [.crossProjWeight, .crossProjBias] : [.crossProjWeight]
        }
        leaves.append(.ln2Weight)
        if parts.normHasBias { leaves.append(.ln2Bias) }
        if dims.experts != nil { return leaves + [.routerWeight] }
        leaves.append(.fcWeight)
        if parts.bias { leaves.append(.fcBias) }
        leaves.append(.fcProjWeight)
        if parts.bias { leaves.append(.fcProjBias) }
        return leaves
    }
}

/// One expert's MLP, in memory order (`leaves(_:)` says which a model has): the dense MLP's
/// shapes, so fc holds H rows, or 2H [gate | up] for SwiGLU.
public enum ExpertLeaf: String, CaseIterable, Sendable {
    case fcWeight = "c_fc.weight"                   // (H or 2H, C)
    case fcBias = "c_fc.bias"                       // (H or 2H)
    case projWeight = "c_proj.weight"               // (C, H)
    case projBias = "c_proj.bias"                   // (C)

    /// The leaves an expert built from `parts` has, in memory order: the biases only with biases.
    public static func leaves(_ parts: DecoderParts) -> [ExpertLeaf] {
        parts.bias ? allCases : [.fcWeight, .projWeight]
    }
}

/// Pointers to one block's parameters (or their gradients) inside a ParameterStore buffer; nil
/// for a bias or norm bias the model does not have.
struct BlockView {
    let base: FloatPointer
    let offsets: [BlockLeaf: Int]

    init(_ base: FloatPointer, _ offsets: [BlockLeaf: Int]) {
        self.base = base
        self.offsets = offsets
    }

    subscript(_ leaf: BlockLeaf) -> FloatPointer? { offsets[leaf].map { base + $0 } }
    var ln1w: FloatPointer { self[.ln1Weight]! }
    var ln1b: FloatPointer? { self[.ln1Bias] }
    /// The [q | k | v] weights (one fused tensor, or q, k and v adjacent) and biases.
    var qkvw: FloatPointer { self[.qkvWeight] ?? self[.qWeight]! }
    var qkvb: FloatPointer? { self[.qkvBias] ?? self[.qBias] }
    var attProjw: FloatPointer { self[.attnProjWeight]! }
    var attProjb: FloatPointer? { self[.attnProjBias] }
    var ln2w: FloatPointer { self[.ln2Weight]! }
    var ln2b: FloatPointer? { self[.ln2Bias] }
    var fcw: FloatPointer { self[.fcWeight]! }
    var fcb: FloatPointer? { self[.fcBias] }
    var fcProjw: FloatPointer { self[.fcProjWeight]! }
    var fcProjb: FloatPointer? { self[.fcProjBias] }
    var routerw: FloatPointer { self[.routerWeight]! }
    var crossNormw: FloatPointer { self[.crossNormWeight]! }
    var crossNormb: FloatPointer? { self[.crossNormBias] }
    var crossQw: FloatPointer { self[.crossQWeight]! }
    var crossQb: FloatPointer? { self[.crossQBias] }
    var crossKVw: FloatPointer { self[.crossKVWeight]! }
    var crossKVb: FloatPointer? { self[.crossKVBias] }
    var crossProjw: FloatPointer { self[.crossProjWeight]! }
    var crossProjb: FloatPointer? { self[.crossProjBias] }
}

extension GPTDimensions {
    /// Every parameter of the whole model, in memory order: embeddings, blocks 0..<L, final norm,
    /// untied head. Per-block parameters are contiguous, so a block's gradients form one
    /// communication bucket.
    public func parameterSpecs() -> [ParameterSpec] {
        let C = nEmbd, H = parts.ffnHidden, HS = headSize, NKV = parts.kvHeads
        let residualStd: Float = 0.02 / (2 * Float(nLayer)).squareRoot()
        /// GPT-2's 0.02 (a residual projection's 0.02/√(2L)), or 1/√fan-in.
        func std(fanIn: Int, residual: Bool = false) -> Float {
            switch parts.initialization {
            case .gpt2: residual ? residualStd : 0.02
            case .fanIn: 1 / Float(fanIn).squareRoot()
            }
        }
        func matrix(_ name: String, _ shape: [Int], std: Float, splitDim: Int = 0, parts: Int = 1) -> ParameterSpec {
            ParameterSpec(name: name, globalShape: shape, initializer: .normal(std: std), decays: true,
                          splitDim: splitDim, parts: parts)
        }
        func vector(_ name: String, _ count: Int, _ initializer: ParameterInit, parts: Int = 1) -> ParameterSpec {
            ParameterSpec(name: name, globalShape: [count], initializer: initializer, decays: false, parts: parts)
        }
        let fcParts = self.parts.mlp == .gelu ? 1 : 2
        let queryStd = std(fanIn: C * (self.parts.initialization == .fanIn ? HS : 1))
        var specs = [matrix(GPTParameterName.tokenEmbedding, [vocabSize, C],
                            std: self.parts.initialization == .fanIn ? 1 : 0.02)]
        if self.parts.position == .learned {
            specs.append(matrix(GPTParameterName.positionEmbedding, [blockSize, C], std: 0.02))
        }
        for l in 0..<nLayer {
            for leaf in BlockLeaf.leaves(self, layer: l) {
                let name = GPTParameterName.block(l, leaf)
                let spec: ParameterSpec = switch leaf {
                case .ln1Weight, .ln2Weight, .encoderNormWeight, .crossNormWeight: vector(name, C, .ones)
                case .ln1Bias, .ln2Bias, .encoderNormBias, .crossNormBias, .attnProjBias, .fcProjBias, .crossProjBias:
                    vector(name, C, .zeros)
                case .qkvWeight: matrix(name, [3 * C, C], std: std(fanIn: C), parts: 3)
                case .qkvBias: vector(name, 3 * C, .zeros, parts: 3)
                case .qWeight, .crossQWeight: matrix(name, [nHead * HS, C], std: queryStd)
                case .kWeight, .vWeight: matrix(name, [NKV * HS, C], std: std(fanIn: C))
                case .crossKVWeight: matrix(name, [2 * NKV * HS, C], std: std(fanIn: C), parts: 2)
                case .qBias, .crossQBias: vector(name, nHead * HS, .zeros)
                case .kBias, .vBias: vector(name, NKV * HS, .zeros)
                case .crossKVBias: vector(name, 2 * NKV * HS, .zeros, parts: 2)
                case .attnProjWeight, .crossProjWeight:
                    matrix(name, [C, nHead * HS], std: std(fanIn: nHead * HS, residual: true), splitDim: 1)
                case .relativeBias: matrix(name, [parts.relativeBuckets!.buckets, nHead], std: std(fanIn: C), splitDim: 1)
                case .fcWeight: matrix(name, [self.parts.fcRows, C], std: std(fanIn: C), parts: fcParts)
                case .fcBias: vector(name, self.parts.fcRows, .zeros, parts: fcParts)
                case .fcProjWeight: matrix(name, [C, H], std: std(fanIn: H, residual: true), splitDim: 1)
                case .routerWeight: matrix(name, [experts!.count, C], std: std(fanIn: C))
                }
                specs.append(spec)
            }
            // Experts after the dense parameters: they form their own gradient bucket.
            for e in 0..<(experts?.count ?? 0) {
                for leaf in ExpertLeaf.leaves(self.parts) {
                    let name = GPTParameterName.expert(l, e, leaf)
                    let spec: ParameterSpec = switch leaf {
                    case .fcWeight: matrix(name, [self.parts.fcRows, C], std: std(fanIn: C), parts: fcParts)
                    case .fcBias: vector(name, self.parts.fcRows, .zeros, parts: fcParts)
                    case .projWeight: matrix(name, [C, H], std: std(fanIn: H, residual: true), splitDim: 1)
                    case .projBias: vector(name, C, .zeros)
                    }
                    specs.append(spec)
                }
            }
        }
        specs.append(vector(GPTParameterName.finalNormWeight, C, .ones))
        if self.parts.normHasBias { specs.append(vector(GPTParameterName.finalNormBias, C, .zeros)) }
        if !self.parts.tiedEmbeddings { specs.append(matrix(GPTParameterName.head, [vocabSize, C], std: std(fanIn: C))) }
        return specs
    }
}
