
/// One thing a pipeline stage does, in order. Transfers are named for direction: "forward" carries
/// activations to the next stage, "backward" carries gradients to the previous one.
public enum PipelineAction: Equatable, Sendable {
    /// Receive microbatch `m`'s input activations from the previous stage.
    case recvForward(Int)
    case forward(Int)
    /// Send microbatch `m`'s output activations to the next stage.
    case sendForward(Int)
    /// Receive the gradient of microbatch `m`'s output from the next stage.
    case recvBackward(Int)
    case backward(Int)
    /// Send the gradient of microbatch `m`'s input to the previous stage.
    case sendBackward(Int)
    /// Both transfers to/from the NEXT stage posted together and waited together (MPI_Sendrecv with the next stage).
    case sendForwardRecvBackward(send: Int, recv: Int)
    /// Both transfers to/from the PREVIOUS stage posted together and waited together.
    case sendBackwardRecvForward(send: Int, recv: Int)
}

/// The order in which one pipeline stage computes and communicates during a step: pure arithmetic,
/// no communication.
///
/// GPipe runs every forward, then every backward, holding all microbatches' activations. 1F1B
/// (Megatron's non-interleaved schedule) runs `stages - stage - 1` warm-up forwards, then alternates
/// one forward with one backward, then drains the remaining backwards, so stage `s` holds at most
/// `stages - s` microbatches' activations.
///
/// Why no schedule can deadlock, even though every transfer is blocking and rendezvous (a send
/// completes only once the neighbour posts the matching receive):
/// - Between stages `s` and `s + 1` only activations flow up and only gradients flow down, so each
///   direction is one channel and a receive can only ever meet the kind of message it expects.
/// - Both stages of every neighbouring pair issue their transfers on each channel in increasing
///   microbatch order (forwards in order; backwards in order, which 1F1B gives by construction and
///   GPipe by running backwards in increasing order too), so the n-th send meets the n-th receive.
/// - A combined action is an exchange with a single neighbour, posted together and waited together,
///   so it never holds one neighbour up while waiting on another, and its halves may complete in
///   either order.
/// So a blocked transfer waits only for its neighbour to reach the matching transfer, which comes
/// after finitely many steps that need nothing the blocked stage still owes it: a stage wants
/// microbatch m's gradient only after it has sent m's activations. The tests confirm this by
/// simulating all stages under rendezvous semantics for many stage and microbatch counts.
public struct PipelinePlan: Sendable, Equatable {
    public let schedule: PipelineSchedule
    public let stage: Int
    public let stages: Int
    public let microbatches: Int

    public init(schedule: PipelineSchedule, stage: Int, stages: Int, microbatches: Int) {
        precondition(stages >= 1 && (0..<stages).contains(stage), "stage \(stage) outside \(stages) stages")
        precondition(microbatches >= 1, "need at least one microbatch, got \(microbatches)")
        self.schedule = schedule
        self.stage = stage
        self.stages = stages
        self.microbatches = microbatches
    }

    /// The stage's actions for one training step (forward and backward of every microbatch).
    public var trainingActions: [PipelineAction] {
        let m = microbatches
        var actions: [PipelineAction] = []
        switch schedule {
        case .gpipe:
            for i in 0..<m { actions += [.recvForward(i), .forward(i), .sendForward(i)] }
            for i in 0..<m { actions += [.recvBackward(i), .backward(i), .sendBackward(i)] }
        case .oneFOneB:
            let warmup = min(stages - stage - 1, m)
            let remaining = m - warmup
            for i in 0..<warmup { actions += [.recvForward(i), .forward(i), .sendForward(i)] }
            if remaining > 0 { actions.append(.recvForward(warmup)) }
            for i in 0..<remaining {
                let f = warmup + i
                actions += [.forward(f), .sendForwardRecvBackward(send: f, recv: i), .backward(i)]
                // The next forward's input arrives in the same exchange that sends this gradient.
                actions.append(i == remaining - 1 ? .sendBackward(i) : .sendBackwardRecvForward(send: i, recv: f + 1))
            }
            for i in remaining..<m { actions += [.recvBackward(i), .backward(i), .sendBackward(i)] }
        }
        return actions.filter(hasPeer)
    }

    /// Forward only (evaluation): recvForward, forward, sendForward for each microbatch, in order.
    public var evaluationActions: [PipelineAction] {
        (0..<microbatches).flatMap { i -> [PipelineAction] in [.recvForward(i), .forward(i), .sendForward(i)] }
            .filter(hasPeer)
    }

    /// Most microbatches whose activations this stage holds at once under this schedule
    /// (GPipe: microbatches; 1F1B: min(stages - stage, microbatches)). Activation buffers are
    /// allocated for this many; microbatch m uses slot m % activationSlots.
    public var activationSlots: Int {
        switch schedule {
        case .gpipe: microbatches
        case .oneFOneB: min(stages - stage, microbatches)
        }
    }

    /// Whether the neighbour an action talks to exists. Both halves of a combined action talk to the
    /// same neighbour, so a combined action is kept or dropped whole.
    private func hasPeer(_ action: PipelineAction) -> Bool {
        switch action {
        case .forward, .backward: true
        case .recvForward, .sendBackward, .sendBackwardRecvForward: stage > 0
        case .sendForward, .recvBackward, .sendForwardRecvBackward: stage < stages - 1
        }
    }
}

/// The order in which a stage runs its microbatches' forwards and backwards: one forward, one
/// backward once the pipeline is full (1F1B), or every forward before any backward (GPipe).
public enum PipelineSchedule: String, Sendable, Codable, CaseIterable {
    case oneFOneB = "1f1b"
    case gpipe
}
