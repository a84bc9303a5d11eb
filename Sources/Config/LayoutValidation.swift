import Parallel

extension TesseraConfig {
    /// Checks that `worldSize` ranks can run this config and returns the derived degrees; every
    /// rank runs this identically before training. Errors name the keys and the numbers.
    public func validateLayout(worldSize: Int) throws -> ParallelDegrees {
        let (tp, pp, ep, microbatches) = (parallel.tp, parallel.pp, parallel.ep, parallel.microbatches)
        func fail(_ message: String) -> ConfigError { .badLayout(message: message) }

        guard worldSize >= 1 else { throw fail("world size \(worldSize) must be at least 1") }
        guard worldSize % (tp * pp) == 0 else {
            throw fail("world size \(worldSize) is not divisible by parallel.tp * parallel.pp = \(tp) * \(pp)")
        }
        let dp = worldSize / (tp * pp)
        guard model.nHead % tp == 0 else {
            throw fail("parallel.tp = \(tp) does not divide model.n_head = \(model.nHead)")
        }
        guard model.nEmbd % tp == 0 else {
            throw fail("parallel.tp = \(tp) does not divide model.n_embd = \(model.nEmbd)")
        }
        let kv = model.effectiveKVHeads
        guard kv % tp == 0 || tp % kv == 0 else {
            throw fail("parallel.tp = \(tp) and the \(kv) key/value heads (model.n_kv_head) do not divide one another: "
                + "tensor ranks split the kv heads evenly, or copy each on tp / n_kv_head of them")
        }
        // Every rank holds H / tp of each MLP's hidden columns, dense or expert, GELU or SwiGLU
        // (whose gate and up are split alike).
        guard model.effectiveFFNHidden % tp == 0 else {
            throw fail("parallel.tp = \(tp) does not divide the MLP's hidden width \(model.effectiveFFNHidden) (model.ffn_hidden)")
        }
        guard pp <= model.totalLayers else {
            let layers = model.family == .t5 ? "the \(model.totalLayers) encoder and decoder layers" : "model.n_layer = \(model.nLayer)"
            throw fail("parallel.pp = \(pp) exceeds \(layers); each stage needs a layer")
        }
        guard ep == 1 || model.nExperts > 0 else {
            throw fail("parallel.ep = \(ep) needs experts, but model.n_experts = 0")
        }
        guard dp % ep == 0 else {
            throw fail("parallel.ep = \(ep) does not divide dp = \(dp) "
                + "(world size \(worldSize) / (tp \(tp) * pp \(pp)))")
        }
        guard model.nExperts == 0 || model.nExperts % ep == 0 else {
            throw fail("parallel.ep = \(ep) does not divide model.n_experts = \(model.nExperts)")
        }
        guard train.batchSize % dp == 0 else {
            throw fail("train.batch_size = \(train.batchSize) is not divisible by dp = \(dp)")
        }
        let batchPerReplica = train.batchSize / dp
        guard batchPerReplica % microbatches == 0 else {
            throw fail("parallel.microbatches = \(microbatches) does not divide the per-replica batch "
                + "train.batch_size / dp = \(train.batchSize) / \(dp) = \(batchPerReplica)")
        }
        return ParallelDegrees(worldSize: worldSize, dp: dp, tp: tp, pp: pp, ep: ep, microbatches: microbatches,
                               batchPerReplica: batchPerReplica, microbatchSize: batchPerReplica / microbatches)
    }
}
