import Checkpoint
import Model
import MPI
import Parallel

/// Full logical tensors assembled on world rank 0 from the shards the ranks hold, for model.h5
/// and for checking a layout's gradients against one rank's.
///
/// Each parameter comes from one canonical replica: the first pipeline stage that holds it, the
/// first data-parallel index that does (0, or the expert-parallel rank owning an expert), and
/// tensor rank 0 when it is replicated (every tensor rank when it is split; the first copy of a kv
/// head copied on several).
/// Holders send their shards to rank 0 in global parameter order, and rank 0 receives them in the
/// same order, so the messages need no tags.
enum ParameterGather {
    enum Source { case values, gradients }

    /// On rank 0: every parameter's full tensor (padding dropped), in the single-rank order.
    /// Elsewhere: nil. Every rank must call it.
    static func gather(_ source: Source, model: GPT, groups: ProcessGroups) throws(MPIError) -> FullTensors? {
        let layout = groups.layout, dims = model.dims, store = model.store
        let base = source == .values ? store.values : store.grads
        // (rank, spec) of every canonical holder, per global parameter; pure, so every rank agrees.
        // Data-parallel indices below ep cover every expert (the first expert-parallel group).
        let partitions = (0..<layout.pp).flatMap { stage in
            (0..<layout.ep).flatMap { d in
                (0..<layout.tp).map { t in
                    let rank = layout.rank(pp: stage, dp: d, tp: t)
                    return (rank, Dictionary(uniqueKeysWithValues: GPTPartition(
                        layout: Layout(degrees: layout.degrees, rank: rank), dims: dims)
                        .parameterSpecs(dims).map { ($0.name, $0) }))
                }
            }
        }
        let globals = dims.parameterSpecs()
        let result = groups.world.rank == 0 ? FullTensors(specs: globals) : nil
        for (g, global) in globals.enumerated() {
            var holders: [(rank: Int, spec: ParameterSpec)] = []
            for (rank, specs) in partitions {
                guard let spec = specs[global.name] else { continue }
                if let first = holders.first {
                    let (a, b) = (Layout(degrees: layout.degrees, rank: first.rank), Layout(degrees: layout.degrees, rank: rank))
                    if a.ppIndex != b.ppIndex || a.dpIndex != b.dpIndex { continue }
                }
                // One holder per slice: replicated tensors and copied kv heads come from their first.
                if holders.contains(where: { $0.spec.shard == spec.shard }) { continue }
                holders.append((rank, spec))
            }
            let me = groups.world.rank
            if me != 0, holders.contains(where: { $0.rank == me }) {
                let range = store.range(of: store.index(of: global.name))
                try groups.world.send(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), to: 0)
            }
            guard me == 0 else { continue }
            let full = result!.tensors[g].data.baseAddress!.mutating
            for holder in holders {
                var shard = [Float](repeating: 0, count: holder.spec.localCount)
                if holder.rank == 0 {
                    let range = store.range(of: store.index(of: global.name))
                    shard = Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
                } else {
                    try groups.world.recv(&shard, from: holder.rank)
                }
                holder.spec.forEachGlobalIndex { local, index in full[index] = shard[local] }
            }
        }
        return result
    }
}

/// Full tensors in one allocation, lent out as NamedTensor views for as long as this lives.
public final class FullTensors {
    public let tensors: [NamedTensor]
    private let storage: UnsafeMutablePointer<Float>

    init(specs: [ParameterSpec]) {
        let total = specs.reduce(0) { $0 + $1.globalCount }
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
        storage.initialize(repeating: 0, count: max(total, 1))
        var offset = 0
        tensors = specs.map { spec in
            defer { offset += spec.globalCount }
            return NamedTensor(name: spec.name, shape: spec.globalShape,
                               data: UnsafeBufferPointer(start: storage + offset, count: spec.globalCount))
        }
        self.storage = storage
    }

    deinit { storage.deallocate() }
}

private extension UnsafePointer {
    var mutating: UnsafeMutablePointer<Pointee> { UnsafeMutablePointer(mutating: self) }
}
