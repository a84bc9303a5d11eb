import Kernels

/// Stable global names of every GPT parameter (nanoGPT's, without the `transformer.` prefix):
/// the keys of model.h5 and of sharded checkpoints, identical on every layout.
public enum GPTParameterName {
    public static let tokenEmbedding = "wte"        // (V, C), tied with the output head
    public static let positionEmbedding = "wpe"     // (T, C)
    public static let finalNormWeight = "ln_f.weight"
    public static let finalNormBias = "ln_f.bias"

    public static func block(_ layer: Int, _ leaf: BlockLeaf) -> String { "h.\(layer).\(leaf.rawValue)" }
    public static func expert(_ layer: Int, _ expert: Int, _ leaf: ExpertLeaf) -> String {
        "h.\(layer).mlp.experts.\(expert).\(leaf.rawValue)"
    }
}

/// The parameters of one transformer block, in memory order: twelve with a dense MLP; with experts,
/// the router replaces the MLP's four and each expert brings its own (ExpertLeaf).
public enum BlockLeaf: String, CaseIterable, Sendable {
    case ln1Weight = "ln_1.weight"                  // (C)
    case ln1Bias = "ln_1.bias"                      // (C)
    case qkvWeight = "attn.c_attn.weight"           // (3C, C), rows [q | k | v], heads contiguous
    case qkvBias = "attn.c_attn.bias"               // (3C)
    case attnProjWeight = "attn.c_proj.weight"      // (C, C)
    case attnProjBias = "attn.c_proj.bias"          // (C)
    case ln2Weight = "ln_2.weight"                  // (C)
    case ln2Bias = "ln_2.bias"                      // (C)
    case fcWeight = "mlp.c_fc.weight"               // (4C, C)
    case fcBias = "mlp.c_fc.bias"                   // (4C)
    case fcProjWeight = "mlp.c_proj.weight"         // (C, 4C)
    case fcProjBias = "mlp.c_proj.bias"             // (C)
    case routerWeight = "mlp.router.weight"         // (n_experts, C), experts only

    static let attention: [BlockLeaf] = [.ln1Weight, .ln1Bias, .qkvWeight, .qkvBias, .attnProjWeight,
                                         .attnProjBias, .ln2Weight, .ln2Bias]
    static let denseMLP: [BlockLeaf] = [.fcWeight, .fcBias, .fcProjWeight, .fcProjBias]
}

/// One expert's MLP (the dense MLP's shapes), in memory order.
public enum ExpertLeaf: String, CaseIterable, Sendable {
    case fcWeight = "c_fc.weight"                   // (4C, C)
    case fcBias = "c_fc.bias"                       // (4C)
    case projWeight = "c_proj.weight"               // (C, 4C)
    case projBias = "c_proj.bias"                   // (C)
}

/// Pointers to one block's parameters (or their gradients) inside a ParameterStore buffer.
struct BlockView {
    let base: FloatPointer
    let offsets: [BlockLeaf: Int]

    init(_ base: FloatPointer, _ offsets: [BlockLeaf: Int]) {
        self.base = base
        self.offsets = offsets
    }

    subscript(_ leaf: BlockLeaf) -> FloatPointer { base + offsets[leaf]! }
    var ln1w: FloatPointer { self[.ln1Weight] }
    var ln1b: FloatPointer { self[.ln1Bias] }
    var qkvw: FloatPointer { self[.qkvWeight] }
    var qkvb: FloatPointer { self[.qkvBias] }
    var attProjw: FloatPointer { self[.attnProjWeight] }
    var attProjb: FloatPointer { self[.attnProjBias] }
    var ln2w: FloatPointer { self[.ln2Weight] }
    var ln2b: FloatPointer { self[.ln2Bias] }
    var fcw: FloatPointer { self[.fcWeight] }
    var fcb: FloatPointer { self[.fcBias] }
    var fcProjw: FloatPointer { self[.fcProjWeight] }
    var fcProjb: FloatPointer { self[.fcProjBias] }
    var routerw: FloatPointer { self[.routerWeight] }
}

extension GPTDimensions {
    /// Every parameter of the whole model, in memory order: embeddings, blocks 0..<L, final norm.
    /// Per-block parameters are contiguous, so a block's gradients form one communication bucket.
    public func parameterSpecs() -> [ParameterSpec] {
        let C = nEmbd, std: Float = 0.02
        let residualStd = std / (2 * Float(nLayer)).squareRoot()
        var specs = [
            ParameterSpec(name: GPTParameterName.tokenEmbedding, globalShape: [vocabSize, C],
                          initializer: .normal(std: std), decays: true),
            ParameterSpec(name: GPTParameterName.positionEmbedding, globalShape: [blockSize, C],
                          initializer: .normal(std: std), decays: true),
        ]
        for l in 0..<nLayer {
            for leaf in BlockLeaf.attention + (experts == nil ? BlockLeaf.denseMLP : [.routerWeight]) {
                let name = GPTParameterName.block(l, leaf)
                let spec: ParameterSpec
                switch leaf {
                case .ln1Weight, .ln2Weight:
                    spec = ParameterSpec(name: name, globalShape: [C], initializer: .ones, decays: false)
                case .ln1Bias, .ln2Bias, .attnProjBias, .fcProjBias:
                    spec = ParameterSpec(name: name, globalShape: [C], initializer: .zeros, decays: false)
                case .qkvWeight:
                    spec = ParameterSpec(name: name, globalShape: [3 * C, C],
                                         initializer: .normal(std: std), decays: true, parts: 3)
                case .qkvBias:
                    spec = ParameterSpec(name: name, globalShape: [3 * C], initializer: .zeros,
                                         decays: false, parts: 3)
                case .attnProjWeight:
                    spec = ParameterSpec(name: name, globalShape: [C, C],
                                         initializer: .normal(std: residualStd), decays: true, splitDim: 1)
                case .fcWeight:
                    spec = ParameterSpec(name: name, globalShape: [4 * C, C],
                                         initializer: .normal(std: std), decays: true)
                case .fcBias:
                    spec = ParameterSpec(name: name, globalShape: [4 * C], initializer: .zeros, decays: false)
                case .fcProjWeight:
                    spec = ParameterSpec(name: name, globalShape: [C, 4 * C],
                                         initializer: .normal(std: residualStd), decays: true, splitDim: 1)
                case .routerWeight:
                    spec = ParameterSpec(name: name, globalShape: [experts!.count, C],
                                         initializer: .normal(std: std), decays: true)
                }
                specs.append(spec)
            }
            // Experts after the dense parameters: they form their own gradient bucket.
            for e in 0..<(experts?.count ?? 0) {
                for leaf in ExpertLeaf.allCases {
                    let name = GPTParameterName.expert(l, e, leaf)
                    switch leaf {
                    case .fcWeight:
                        specs.append(ParameterSpec(name: name, globalShape: [4 * C, C],
                                                   initializer: .normal(std: std), decays: true))
                    case .fcBias:
                        specs.append(ParameterSpec(name: name, globalShape: [4 * C], initializer: .zeros, decays: false))
                    case .projWeight:
                        specs.append(ParameterSpec(name: name, globalShape: [C, 4 * C],
                                                   initializer: .normal(std: residualStd), decays: true, splitDim: 1))
                    case .projBias:
                        specs.append(ParameterSpec(name: name, globalShape: [C], initializer: .zeros, decays: false))
                    }
                }
            }
        }
        specs.append(ParameterSpec(name: GPTParameterName.finalNormWeight, globalShape: [C],
                                   initializer: .ones, decays: false))
        specs.append(ParameterSpec(name: GPTParameterName.finalNormBias, globalShape: [C],
                                   initializer: .zeros, decays: false))
        return specs
    }
}
