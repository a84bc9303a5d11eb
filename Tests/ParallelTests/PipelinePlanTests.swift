import Parallel
import Testing

/// Pipeline schedules checked by running every stage's plan against its neighbours under rendezvous
/// semantics, and by counting what each plan computes and holds.
struct PipelinePlanTests {
    static let stageCounts = 1...8
    static let microbatchCounts = 1...16

    static func plans(_ schedule: PipelineSchedule, stages: Int, microbatches: Int) -> [PipelinePlan] {
        (0..<stages).map { PipelinePlan(schedule: schedule, stage: $0, stages: stages, microbatches: microbatches) }
    }

    // MARK: Rendezvous simulator

    /// One half of a transfer, seen from the stage that performs it.
    struct Half {
        var gradient: Bool   // false: activations (flow up); true: gradients (flow down)
        var peer: Int        // +1: the next stage, -1: the previous one
        var isSend: Bool
        var microbatch: Int
    }

    /// The transfer halves of an action; empty for compute.
    static func halves(_ action: PipelineAction) -> [Half] {
        switch action {
        case .forward, .backward: []
        case let .recvForward(m): [Half(gradient: false, peer: -1, isSend: false, microbatch: m)]
        case let .sendForward(m): [Half(gradient: false, peer: +1, isSend: true, microbatch: m)]
        case let .recvBackward(m): [Half(gradient: true, peer: +1, isSend: false, microbatch: m)]
        case let .sendBackward(m): [Half(gradient: true, peer: -1, isSend: true, microbatch: m)]
        case let .sendForwardRecvBackward(send: f, recv: b): halves(.sendForward(f)) + halves(.recvBackward(b))
        case let .sendBackwardRecvForward(send: b, recv: f): halves(.sendBackward(b)) + halves(.recvForward(f))
        }
    }

    struct StageState {
        var next = 0                    // index of the current action
        var doneHalves: Set<Int> = []   // halves of the current action already matched
        var activationsIn: Set<Int> = [], gradientsIn: Set<Int> = []
        var forwarded: Set<Int> = [], backwarded: Set<Int> = []
    }

    /// Runs all stages' action lists in lockstep: compute completes at once, a transfer half only when
    /// the neighbour's current action has the complementary half. Returns the first problem found, or
    /// nil when every stage finished.
    static func simulate(_ plans: [[PipelineAction]]) -> String? {
        var state = plans.map { _ in StageState() }
        func current(_ s: Int) -> PipelineAction? {
            plans.indices.contains(s) && state[s].next < plans[s].count ? plans[s][state[s].next] : nil
        }
        func advance(_ s: Int) { state[s].next += 1; state[s].doneHalves = [] }
        let last = plans.count - 1

        while plans.indices.contains(where: { current($0) != nil }) {
            var progressed = false
            for s in plans.indices {
                guard let action = current(s) else { continue }
                switch action {
                case let .forward(m):
                    if s > 0 && !state[s].activationsIn.contains(m) { return "stage \(s): forward(\(m)) before its input arrived" }
                    state[s].forwarded.insert(m)
                    advance(s); progressed = true
                case let .backward(m):
                    if !state[s].forwarded.contains(m) { return "stage \(s): backward(\(m)) before forward(\(m))" }
                    if s < last && !state[s].gradientsIn.contains(m) { return "stage \(s): backward(\(m)) before its gradient arrived" }
                    state[s].backwarded.insert(m)
                    advance(s); progressed = true
                default:
                    let mine = halves(action)
                    for (h, half) in mine.enumerated() where !state[s].doneHalves.contains(h) {
                        let p = s + half.peer
                        guard let theirAction = current(p) else { continue }
                        let theirs = halves(theirAction)
                        guard let k = theirs.indices.first(where: {
                            !state[p].doneHalves.contains($0) && theirs[$0].gradient == half.gradient
                                && theirs[$0].peer == -half.peer && theirs[$0].isSend != half.isSend
                        }) else { continue }
                        if theirs[k].microbatch != half.microbatch {
                            return "stage \(s) \(action) met stage \(p) \(theirAction): microbatches differ"
                        }
                        let (sender, receiver) = half.isSend ? (s, p) : (p, s)
                        let m = half.microbatch
                        if half.gradient {
                            if !state[sender].backwarded.contains(m) { return "stage \(sender) sends gradient of \(m) before backward(\(m))" }
                            state[receiver].gradientsIn.insert(m)
                        } else {
                            if !state[sender].forwarded.contains(m) { return "stage \(sender) sends activations of \(m) before forward(\(m))" }
                            state[receiver].activationsIn.insert(m)
                        }
                        state[s].doneHalves.insert(h)
                        state[p].doneHalves.insert(k)
                        progressed = true
                    }
                }
            }
            // A transfer action finishes once all its halves are matched, whichever side matched them.
            for s in plans.indices {
                if let action = current(s), !halves(action).isEmpty, state[s].doneHalves.count == halves(action).count {
                    advance(s); progressed = true
                }
            }
            if !progressed {
                let stuck = plans.indices.compactMap { s in current(s).map { "stage \(s) at #\(state[s].next) \($0)" } }
                return "deadlock: " + stuck.joined(separator: "; ")
            }
        }
        return nil
    }

    // MARK: Tests

    @Test(arguments: PipelineSchedule.allCases)
    func everyStageCountAndMicrobatchCountRunsWithoutDeadlock(schedule: PipelineSchedule) {
        for stages in Self.stageCounts {
            for microbatches in Self.microbatchCounts {
                let plans = Self.plans(schedule, stages: stages, microbatches: microbatches)
                let training = Self.simulate(plans.map(\.trainingActions))
                #expect(training == nil, "\(schedule) stages \(stages) microbatches \(microbatches)")
                let evaluation = Self.simulate(plans.map(\.evaluationActions))
                #expect(evaluation == nil, "\(schedule) evaluation stages \(stages) microbatches \(microbatches)")
            }
        }
    }

    /// The simulator is only evidence if it can catch a bad plan.
    @Test func simulatorCatchesDeadlockWrongMicrobatchAndMissingInput() {
        // Stage 0 waits for a gradient before sending the activations stage 1 waits for.
        let crossed: [[PipelineAction]] = [
            [.forward(0), .recvBackward(0), .sendForward(0), .backward(0)],
            [.recvForward(0), .forward(0), .backward(0), .sendBackward(0)],
        ]
        #expect(Self.simulate(crossed)?.hasPrefix("deadlock") == true)
        // Microbatches sent out of order.
        let swapped: [[PipelineAction]] = [
            [.forward(0), .forward(1), .sendForward(1), .sendForward(0)],
            [.recvForward(0), .forward(0), .recvForward(1), .forward(1)],
        ]
        #expect(Self.simulate(swapped)?.contains("microbatches differ") == true)
        // Forward before its input arrived.
        let early: [[PipelineAction]] = [[.forward(0), .sendForward(0)], [.forward(0), .recvForward(0)]]
        #expect(Self.simulate(early)?.contains("before its input arrived") == true)
        // Backward on a non-last stage without the gradient.
        let noGradient: [[PipelineAction]] = [[.forward(0), .sendForward(0), .backward(0)], [.recvForward(0), .forward(0)]]
        #expect(Self.simulate(noGradient)?.contains("before its gradient arrived") == true)
        // A combined action whose halves are satisfied by two separate plain actions still completes.
        let split: [[PipelineAction]] = [
            [.forward(0), .sendForward(0), .forward(1), .sendForwardRecvBackward(send: 1, recv: 0), .backward(0)],
            [.recvForward(0), .forward(0), .backward(0), .recvForward(1), .sendBackward(0), .forward(1)],
        ]
        #expect(Self.simulate(split) == nil)
    }

    @Test(arguments: PipelineSchedule.allCases)
    func eachMicrobatchRunsForwardAndBackwardOnceInOrder(schedule: PipelineSchedule) {
        for stages in Self.stageCounts {
            for microbatches in Self.microbatchCounts {
                for plan in Self.plans(schedule, stages: stages, microbatches: microbatches) {
                    let actions = plan.trainingActions
                    let forwards = actions.compactMap { if case let .forward(m) = $0 { m } else { nil } }
                    let backwards = actions.compactMap { if case let .backward(m) = $0 { m } else { nil } }
                    #expect(forwards == Array(0..<microbatches), "\(schedule) stage \(plan.stage)/\(stages) M \(microbatches)")
                    #expect(backwards == Array(0..<microbatches), "\(schedule) stage \(plan.stage)/\(stages) M \(microbatches)")
                }
            }
        }
    }

    @Test(arguments: PipelineSchedule.allCases)
    func activationSlotsAreThePeakInFlightAndReuseIsSafe(schedule: PipelineSchedule) {
        for stages in Self.stageCounts {
            for microbatches in Self.microbatchCounts {
                for plan in Self.plans(schedule, stages: stages, microbatches: microbatches) {
                    let context = "\(schedule) stage \(plan.stage)/\(stages) M \(microbatches)"
                    let slots = plan.activationSlots
                    var inFlight = 0, peak = 0
                    var finished: Set<Int> = []
                    for action in plan.trainingActions {
                        switch action {
                        case let .forward(m):
                            // Microbatch m overwrites slot m % slots, last used by m - slots.
                            if m >= slots { #expect(finished.contains(m - slots), "\(context): forward(\(m)) clobbers \(m - slots)") }
                            inFlight += 1
                            peak = max(peak, inFlight)
                        case let .backward(m):
                            inFlight -= 1
                            finished.insert(m)
                        default: break
                        }
                    }
                    #expect(peak == slots, "\(context)")
                }
            }
        }
    }

    @Test func oneFOneBTwoStagesTwoMicrobatches() {
        let plans = Self.plans(.oneFOneB, stages: 2, microbatches: 2)
        #expect(plans[0].trainingActions == [
            .forward(0), .sendForward(0), .forward(1), .sendForwardRecvBackward(send: 1, recv: 0),
            .backward(0), .recvBackward(1), .backward(1),
        ])
        #expect(plans[1].trainingActions == [
            .recvForward(0), .forward(0), .backward(0), .sendBackwardRecvForward(send: 0, recv: 1),
            .forward(1), .backward(1), .sendBackward(1),
        ])
        #expect(plans.map(\.activationSlots) == [2, 1])
    }

    @Test func oneFOneBMiddleStageWarmsUpThenDrains() {
        // Stage 1 of 4 with 3 microbatches: warm-up 2, one steady iteration, cool-down 2.
        let plan = PipelinePlan(schedule: .oneFOneB, stage: 1, stages: 4, microbatches: 3)
        #expect(plan.trainingActions == [
            .recvForward(0), .forward(0), .sendForward(0),
            .recvForward(1), .forward(1), .sendForward(1),
            .recvForward(2),
            .forward(2), .sendForwardRecvBackward(send: 2, recv: 0), .backward(0), .sendBackward(0),
            .recvBackward(1), .backward(1), .sendBackward(1),
            .recvBackward(2), .backward(2), .sendBackward(2),
        ])
        #expect(plan.activationSlots == 3)
    }

    @Test func singleStagePlansAreComputeOnly() {
        #expect(PipelinePlan(schedule: .gpipe, stage: 0, stages: 1, microbatches: 2).trainingActions
            == [.forward(0), .forward(1), .backward(0), .backward(1)])
        #expect(PipelinePlan(schedule: .oneFOneB, stage: 0, stages: 1, microbatches: 2).trainingActions
            == [.forward(0), .backward(0), .forward(1), .backward(1)])
    }

    @Test func gpipeLastStageRunsAllForwardsThenAllBackwards() {
        let plan = PipelinePlan(schedule: .gpipe, stage: 2, stages: 3, microbatches: 2)
        #expect(plan.trainingActions == [
            .recvForward(0), .forward(0), .recvForward(1), .forward(1),
            .backward(0), .sendBackward(0), .backward(1), .sendBackward(1),
        ])
        #expect(plan.activationSlots == 2)
    }

    @Test(arguments: PipelineSchedule.allCases)
    func evaluationIsForwardOnlyAndDropsMissingNeighbours(schedule: PipelineSchedule) {
        let plans = Self.plans(schedule, stages: 3, microbatches: 2)
        #expect(plans[1].evaluationActions == [
            .recvForward(0), .forward(0), .sendForward(0), .recvForward(1), .forward(1), .sendForward(1),
        ])
        #expect(plans[0].evaluationActions == [.forward(0), .sendForward(0), .forward(1), .sendForward(1)])
        #expect(plans[2].evaluationActions == [.recvForward(0), .forward(0), .recvForward(1), .forward(1)])
    }
}
