import Model
import MPI
import Parallel

/// Runs one rank's pipeline stage through a step: microbatches forward and backward in the order
/// its PipelinePlan gives, moving the residual stream to the next stage and its gradient back.
///
/// Activations exist only for the microbatches in flight: `plan.activationSlots` sets, microbatch
/// m in slot m % slots (GPipe needs one per microbatch, 1F1B at most the number of later stages).
/// Every transfer is a blocking exchange with one neighbour; the plan orders them so none can
/// deadlock. With one stage the plan is plain forward/backward and nothing is sent.
final class PipelineRunner {
    let model: GPT
    let plan: PipelinePlan
    private let pipeline: Communicator
    private let slots: [GPTActivations]
    private let inputs: UnsafeMutablePointer<Int32>
    private let targets: UnsafeMutablePointer<Int32>
    private let tokensPerMicrobatch: Int, targetsPerMicrobatch: Int
    /// Time in forward and backward; the rest of a step is the pipeline bubble, the transfers and
    /// the gradient reductions.
    let computeTime = TimeAccount()

    init(model: GPT, plan: PipelinePlan, pipeline: Communicator, microbatchSize: Int) {
        self.model = model
        self.plan = plan
        self.pipeline = pipeline
        slots = (0..<plan.activationSlots).map { _ in model.makeActivations(batch: microbatchSize) }
        tokensPerMicrobatch = model.inputCount(batch: microbatchSize)
        targetsPerMicrobatch = microbatchSize * model.dims.blockSize
        inputs = .allocate(capacity: slots.count * tokensPerMicrobatch)
        targets = .allocate(capacity: slots.count * targetsPerMicrobatch)
    }

    deinit {
        inputs.deallocate()
        targets.deallocate()
    }

    /// Bytes of activations this stage keeps for the microbatches in flight.
    var activationBytes: Int { slots.reduce(0) { $0 + $1.byteCount } }

    /// What a step needs from its caller, per microbatch.
    struct Microbatch {
        /// Writes microbatch m's tokens (as `GPT.inputCount` lays them out) and targets.
        let fill: (_ m: Int, _ inputs: UnsafeMutablePointer<Int32>, _ targets: UnsafeMutablePointer<Int32>) -> Void
        let dropout: (_ m: Int) -> DropoutContext?
        /// On the stage with the head, after microbatch m's forward: its per-token losses.
        var losses: ((_ m: Int, _ tokenLosses: UnsafePointer<Float>) -> Void)? = nil
        /// Per-token loss weights for microbatch m's backward (nil: the uniform dloss).
        var weights: ((_ m: Int) -> UnsafePointer<Float>?)? = nil
    }

    /// Forward and backward of every microbatch; `blockDone(l)` fires when block l's gradients are
    /// complete (after the last microbatch's backward). Returns the summed token losses on the
    /// last stage, 0 elsewhere.
    func train(_ batch: Microbatch, dloss: Float, blockDone: (Int) -> Void) throws(MPIError) -> Double {
        // Uniform dloss: the head's backward runs in its forward (the logits are never kept).
        try run(plan.trainingActions, batch, dloss: dloss, headDloss: batch.weights == nil ? dloss : nil,
                blockDone: blockDone)
    }

    /// Forward only, for evaluation; returns the summed token losses on the last stage.
    func evaluate(_ batch: Microbatch) throws(MPIError) -> Double {
        try run(plan.evaluationActions, batch, dloss: 0, headDloss: nil, blockDone: { _ in })
    }

    private func run(_ actions: [PipelineAction], _ batch: Microbatch, dloss: Float, headDloss: Float?,
                     blockDone: (Int) -> Void) throws(MPIError) -> Double {
        let last = plan.microbatches - 1
        var lossSum: Double = 0
        for action in actions {
            switch action {
            case .recvForward(let m):
                try pipeline.recv(input(m), from: plan.stage - 1)
            case .forward(let m):
                let (tokens, targets) = (self.tokens(m), self.targets(m))
                batch.fill(m, tokens, targets)
                let started = computeTime.start()
                lossSum += try model.forward(slot(m), tokens: tokens, targets: targets, dropout: batch.dropout(m),
                                             dloss: headDloss)
                computeTime.stop(started)
                if model.partition.hasHead { batch.losses?(m, model.tokenLosses(slot(m))) }
            case .sendForward(let m):
                try pipeline.send(UnsafeBufferPointer(output(m)), to: plan.stage + 1)
            case .recvBackward:
                try pipeline.recv(gradient, from: plan.stage + 1)
            case .backward(let m):
                let started = computeTime.start()
                try model.backward(slot(m), tokens: tokens(m), targets: targets(m), dloss: dloss,
                                   tokenWeights: batch.weights?(m), dropout: batch.dropout(m)) { layer in
                    if m == last { blockDone(layer) }
                }
                computeTime.stop(started)
            case .sendBackward:
                try pipeline.send(UnsafeBufferPointer(gradient), to: plan.stage - 1)
            case .sendForwardRecvBackward(let send, _):
                try pipeline.sendRecv(send: UnsafeBufferPointer(output(send)), to: plan.stage + 1,
                                      recv: gradient, from: plan.stage + 1)
            case .sendBackwardRecvForward(_, let receive):
                try pipeline.sendRecv(send: UnsafeBufferPointer(gradient), to: plan.stage - 1,
                                      recv: input(receive), from: plan.stage - 1)
            }
        }
        return lossSum
    }

    private func slot(_ m: Int) -> GPTActivations { slots[m % slots.count] }
    private func tokens(_ m: Int) -> UnsafeMutablePointer<Int32> { inputs + m % slots.count * tokensPerMicrobatch }
    private func targets(_ m: Int) -> UnsafeMutablePointer<Int32> { targets + m % slots.count * targetsPerMicrobatch }
    private func input(_ m: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: model.stageInput(slot(m)), count: model.boundaryCount(slot(m)))
    }
    private func output(_ m: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: model.stageOutput(slot(m)), count: model.boundaryCount(slot(m)))
    }
    private var gradient: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: model.residualGradient(batch: slots[0].B), count: model.boundaryCount(slots[0]))
    }
}
