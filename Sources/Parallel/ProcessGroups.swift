import MPI

/// The communicators one rank needs, built once from a Layout and passed as a value to whatever
/// communicates (never kept in globals). Each group is ordered by the coordinate that varies in it.
public struct ProcessGroups: Sendable {
    public let layout: Layout
    public let world: Communicator
    /// Ranks that differ only in tp index: tensor-parallel collectives.
    public let tensor: Communicator
    /// Ranks that differ only in dp index: gradient averaging.
    public let data: Communicator
    /// Ranks that differ only in pp index: activations between stages.
    public let pipeline: Communicator
    /// The first and last pipeline stages of one (dp, tp) position, which both hold the tied token
    /// embedding and sum its gradients; nil on middle stages and without pipeline parallelism.
    public let embedding: Communicator?
    /// The ep ranks of one expert-parallel group (same stage and tensor index, neighbouring dp
    /// indices), which split a layer's experts and exchange tokens.
    public let expert: Communicator
    /// Ranks holding the same experts in different expert-parallel groups: expert gradients are
    /// summed across these, dense gradients across the whole `data` group.
    public let expertReplicas: Communicator

    public init(layout: Layout, world: Communicator) throws(MPIError) {
        precondition(world.size == layout.degrees.worldSize && world.rank == layout.rank,
                     "layout (\(layout.rank) of \(layout.degrees.worldSize)) does not match the world (\(world.rank) of \(world.size))")
        self.layout = layout
        self.world = world
        // split never returns nil here: every rank passes a colour.
        tensor = try world.split(color: layout.ppIndex * layout.dp + layout.dpIndex, key: layout.tpIndex)!
        data = try world.split(color: layout.ppIndex * layout.tp + layout.tpIndex, key: layout.dpIndex)!
        pipeline = try world.split(color: layout.dpIndex * layout.tp + layout.tpIndex, key: layout.ppIndex)!
        let holdsEmbedding = layout.pp > 1 && (layout.isFirstStage || layout.isLastStage)
        let stageAndTensor = layout.ppIndex * layout.tp + layout.tpIndex
        let expertGroups = layout.dp / layout.ep
        expert = try world.split(color: stageAndTensor * expertGroups + layout.epGroupIndex, key: layout.epIndex)!
        expertReplicas = try world.split(color: stageAndTensor * layout.ep + layout.epIndex, key: layout.epGroupIndex)!
        embedding = try world.split(color: holdsEmbedding ? layout.dpIndex * layout.tp + layout.tpIndex : nil,
                                    key: layout.ppIndex)
    }
}
