/// Latency-bandwidth (alpha-beta) cost of one link class: `alpha` seconds per message step,
/// `beta` seconds per byte.
public struct AlphaBeta: Sendable, Equatable {
    public let alpha: Double
    public let beta: Double

    public init(alpha: Double, beta: Double) {
        self.alpha = alpha
        self.beta = beta
    }

    /// Weighted least squares of `seconds ≈ alpha · steps + beta · bytes` over measured points,
    /// each weighted by 1/seconds² so that small messages (latency) count as much as large ones
    /// (bandwidth). A coefficient that comes out negative is pinned at 0 and the other refitted.
    public static func fit(_ points: [(steps: Double, bytes: Double, seconds: Double)]) -> AlphaBeta? {
        let usable = points.filter { $0.seconds > 0 }
        guard usable.count >= 2 else { return nil }
        var (aa, ab, bb, at, bt) = (0.0, 0.0, 0.0, 0.0, 0.0)
        for p in usable {
            let w = 1 / (p.seconds * p.seconds)
            aa += w * p.steps * p.steps; ab += w * p.steps * p.bytes; bb += w * p.bytes * p.bytes
            at += w * p.steps * p.seconds; bt += w * p.bytes * p.seconds
        }
        let det = aa * bb - ab * ab
        if det > 0 {
            let alpha = (at * bb - bt * ab) / det, beta = (bt * aa - at * ab) / det
            if alpha >= 0 && beta >= 0 { return AlphaBeta(alpha: alpha, beta: beta) }
            if alpha < 0 && bb > 0 { return AlphaBeta(alpha: 0, beta: bt / bb) }
        }
        return aa > 0 ? AlphaBeta(alpha: at / aa, beta: 0) : nil
    }
}

/// The collectives the trainer issues, each costed as its bandwidth-optimal ring algorithm over
/// g ranks: `steps(g)` latencies and `volume(g)` times the buffer's bytes through each rank's link.
public enum Collective: String, Sendable, CaseIterable {
    /// One message between two ranks (a pipeline transfer).
    case p2p
    /// Sum in place (MPI_Allreduce; tensor-parallel regions): 2(g − 1) steps,
    /// 2(g − 1)/g of the buffer.
    case allReduce = "allreduce"
    /// Each rank keeps the sum of its 1/g (the gradient sync): g − 1 steps, (g − 1)/g.
    case reduceScatter = "reducescatter"
    /// Each rank's 1/g to everyone: g − 1 steps, (g − 1)/g.
    case allGather = "allgather"
    /// Each rank sends (g − 1)/g of its buffer, 1/g to each other rank (expert dispatch).
    case allToAll = "alltoall"

    public func steps(ranks g: Int) -> Double {
        switch self {
        case .p2p: 1
        case .allReduce: 2 * Double(g - 1)
        case .reduceScatter, .allGather, .allToAll: Double(g - 1)
        }
    }

    public func volume(ranks g: Int) -> Double {
        switch self {
        case .p2p: 1
        case .allReduce: 2 * Double(g - 1) / Double(g)
        case .reduceScatter, .allGather, .allToAll: Double(g - 1) / Double(g)
        }
    }
}

/// Alpha-beta costs of every collective over one class of link (within a node, or across nodes).
public struct LinkCosts: Sendable, Equatable {
    public var costs: [Collective: AlphaBeta]

    /// Every collective on one link: the ring formulas with the link's latency and per-byte time.
    public init(uniform link: AlphaBeta) {
        costs = Dictionary(uniqueKeysWithValues: Collective.allCases.map { ($0, link) })
    }

    /// Seconds for `collective` over `ranks` ranks on a buffer of `bytes` (per rank); 0 for one rank.
    public func seconds(_ collective: Collective, bytes: Double, ranks: Int) -> Double {
        guard ranks > 1, let cost = costs[collective] else { return 0 }
        return cost.alpha * collective.steps(ranks: ranks) + cost.beta * collective.volume(ranks: ranks) * bytes
    }

    /// Link costs with nothing to pay: a step's time without communication.
    public static let free = LinkCosts(uniform: AlphaBeta(alpha: 0, beta: 0))
}

/// Where ranks sit and what links join them: `ranksPerNode` consecutive ranks share a node of
/// `coresPerNode` cores and the intra-node links; groups that cross nodes use the inter-node ones.
public struct Cluster: Sendable, Equatable {
    public var ranksPerNode: Int
    public var coresPerNode: Int
    public var intraNode: LinkCosts
    public var interNode: LinkCosts

    public init(ranksPerNode: Int, coresPerNode: Int, intraNode: LinkCosts, interNode: LinkCosts) {
        self.ranksPerNode = ranksPerNode
        self.coresPerNode = coresPerNode
        self.intraNode = intraNode
        self.interNode = interNode
    }

    /// Ranks beyond a node's cores time-share them: each rank's compute runs this many times slower
    /// when every rank of the node is busy.
    public var timeShare: Double { max(1, Double(ranksPerNode) / Double(coresPerNode)) }

    /// Share of the intra-node gradient all-reduce that hides behind backward: shared-memory
    /// transfers are copies a core has to make, so they overlap only where a node has a spare core
    /// per rank (1 with twice the cores, 0 with none spare). Across nodes the NIC moves the bytes,
    /// and the transfer overlaps fully.
    public func overlap(crossesNodes: Bool) -> Double {
        crossesNodes ? 1 : min(1, max(0, Double(coresPerNode) / Double(ranksPerNode) - 1))
    }

    /// Cores all `ranks` ranks have between them.
    public func cores(ranks: Int) -> Int {
        let nodes = (ranks + ranksPerNode - 1) / ranksPerNode
        return min(ranks, nodes * coresPerNode)
    }
}
