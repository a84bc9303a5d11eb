import Foundation
import Model

/// A first look at whether a model fits the machine, made before anything is sized from the config:
/// a lower bound on the bytes the busiest rank holds, in floating point so that no product of
/// config values can overflow, against the memory this node offers its ranks. It refuses only what
/// cannot fit; `tessera plan` gives the full estimate.
public struct MemoryGate {
    /// Parameters held per rank: dense ones cut by tp·pp, expert ones also by ep.
    let parameters: Double
    /// Parameters whose AdamW moments a rank keeps (ZeRO-1 shares the dense ones across dp).
    let optimized: Double
    /// Activation bytes of one microbatch: at least the residual stream saved twice per layer in
    /// bf16 (fp32 saves more), for the layers of one stage.
    let activations: Double

    /// A training rank of `degrees` (world size, dp, tp, pp, ep, microbatch size), `zero` sharding.
    public init(training dims: GPTDimensions, tp: Int, pp: Int, dp: Int, ep: Int, zero: Bool, microbatchSize: Int) {
        let (dense, experts) = Self.parameterCounts(dims)
        let perRank = (dense + experts / Double(ep)) / Double(tp * pp)
        parameters = perRank
        optimized = zero ? (dense / Double(dp) + experts / Double(ep)) / Double(tp * pp) : perRank
        activations = 2 * 2 * Double(dims.nEmbd) * Double(dims.blockSize) * Double(microbatchSize)
            * Double(dims.nLayer) / Double(pp)
    }

    /// One process generating from the whole model: its weights and one sequence's activations.
    public init(sampling dims: GPTDimensions) {
        let (dense, experts) = Self.parameterCounts(dims)
        parameters = dense + experts
        optimized = 0
        activations = 2 * 2 * Double(dims.nEmbd) * Double(dims.blockSize) * Double(dims.nLayer)
    }

    /// (dense, expert) parameter counts: embeddings (and an untied head), and per layer attention
    /// (C · (q, k, v rows + C): 4C² for GPT-2) and an MLP (C · (fc rows + H): 8C² for GPT-2) — one
    /// per expert with experts. Norms and biases are left out (a lower bound).
    static func parameterCounts(_ dims: GPTDimensions) -> (Double, Double) {
        let C = Double(dims.nEmbd), L = Double(dims.nLayer), parts = dims.parts
        let heads = Double(dims.vocabSize) * (parts.tiedEmbeddings ? 1 : 2)
        let embeddings = (heads + (parts.position == .learned ? Double(dims.blockSize) : 0)) * C
        let mlp = C * Double(parts.fcRows + parts.ffnHidden) * L
        let dense = embeddings + C * Double(dims.qkvRows + dims.nEmbd) * L + (dims.experts == nil ? mlp : 0)
        return (dense, Double(dims.experts?.count ?? 0) * mlp)
    }

    /// Bytes the busiest rank needs at the least: weights (fp32), their gradients when training
    /// (any optimized parameter has them), AdamW's two moments, activations.
    public var bytes: Double {
        4 * parameters + (optimized > 0 ? 4 * parameters + 8 * optimized : 0) + activations
    }

    /// Throws a SetupError when `ranksOnNode` ranks of this size cannot fit in the node's memory.
    public func check(ranksOnNode: Int = MemoryGate.ranksOnThisNode, available: Double = MemoryGate.nodeMemory) throws {
        let needed = bytes * Double(ranksOnNode)
        guard needed > available else { return }
        func gib(_ x: Double) -> String { String(format: "%.1f GiB", x / 0x1p30) }
        throw SetupError("the model needs at least \(gib(bytes)) per rank (\(gib(4 * parameters)) of weights"
            + (optimized > 0 ? ", as much again for gradients, \(gib(8 * optimized)) of AdamW moments" : "")
            + ", \(gib(activations)) of activations), \(ranksOnNode) rank(s) on this node: more than its \(gib(available)) "
            + "of memory; shrink the model or the batch, or use more nodes (`tessera plan` estimates layouts)")
    }

    /// Ranks that share this node, as the launcher tells (OpenMPI, MPICH/Hydra, Slurm); 1 when alone.
    public static var ranksOnThisNode: Int {
        let environment = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let value = environment[key], let ranks = Int(value), ranks >= 1 { return ranks }
        }
        return 1
    }

    /// The node's memory: physical, or the control group's limit when lower.
    public static var nodeMemory: Double {
        var memory = Double(ProcessInfo.processInfo.physicalMemory)
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let limit = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                memory = min(memory, limit)
            }
        }
        return memory
    }
}
