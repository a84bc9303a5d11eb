import Testing
@testable import Launch

@Suite struct RestartPolicyTests {
    let resume = { "step 50 (runs/x/checkpoints/step_00000050)" }

    @Test func aFailedJobRestartsUntilTheRestartsAreUsedUp() {
        let policy = RestartPolicy(restarts: 2, delay: 0)
        let killed = JobStatus(code: 137)
        #expect(policy.decide(after: killed, attempt: 0, interrupted: false, resumePoint: resume)
            == .restart(attempt: 1, note: "restart 1/2 after signal 9 (KILL, exit 137); resuming from step 50 (runs/x/checkpoints/step_00000050)"))
        #expect(policy.decide(after: JobStatus(code: 1), attempt: 1, interrupted: false, resumePoint: resume)
            == .restart(attempt: 2, note: "restart 2/2 after exit 1 (a failure during the run); resuming from step 50 (runs/x/checkpoints/step_00000050)"))
        #expect(policy.decide(after: JobStatus(code: 1), attempt: 2, interrupted: false, resumePoint: resume)
            == .finish(note: "giving up: the job failed again with exit 1 (a failure during the run) after 2 restarts (--restarts 2 used up)"))
        #expect(policy.decide(after: JobStatus(code: 0), attempt: 2, interrupted: false, resumePoint: resume) == .finish(note: nil))
    }

    @Test func badInputAndInterruptionsAreFinal() {
        let policy = RestartPolicy(restarts: 5, delay: 10)
        #expect(policy.decide(after: JobStatus(code: 2), attempt: 0, interrupted: false, resumePoint: resume)
            == .finish(note: "not restarting: exit 2 means bad usage, config or input, which a restart cannot fix"))
        #expect(policy.decide(after: JobStatus(code: 143), attempt: 0, interrupted: true, resumePoint: resume)
            == .finish(note: "interrupted: the job ended with signal 15 (TERM, exit 143)"))
        guard case .restart(_, let note) = policy.decide(after: JobStatus(code: 213), attempt: 0, interrupted: false,
                                                         resumePoint: resume) else {
            Issue.record("mpirun's own failure is restarted")
            return
        }
        #expect(note.hasPrefix("restart 1/5 in 10 s after exit 213 (not tessera's own status but mpirun's"))
    }

    @Test func anAlarmStopIsFinal() {
        let policy = RestartPolicy(restarts: 5, delay: 10)
        #expect(policy.decide(after: JobStatus(code: 3), attempt: 0, interrupted: false, resumePoint: resume)
            == .finish(note: "not restarting: exit 3 means an alarm stopped the job on purpose, and it would fire again"))
        #expect(RestartPolicy(restarts: 0, delay: 0).decide(after: JobStatus(code: 3), attempt: 0, interrupted: false,
                                                            resumePoint: resume) == .finish(note: nil))
    }

    @Test func withoutRestartsOnlyAnUnexplainedEndIsSaid() {
        let policy = RestartPolicy(restarts: 0, delay: 0)
        #expect(policy.decide(after: JobStatus(code: 1), attempt: 0, interrupted: false, resumePoint: resume) == .finish(note: nil))
        #expect(policy.decide(after: JobStatus(code: 2), attempt: 0, interrupted: false, resumePoint: resume) == .finish(note: nil))
        #expect(policy.decide(after: JobStatus(code: 134), attempt: 0, interrupted: false, resumePoint: resume)
            == .finish(note: "the job failed: signal 6 (ABRT, exit 134)"))
    }

    @Test func waitStatusesAsAShellReportsThem() {
        #expect(JobStatus(waitStatus: 0).code == 0)
        #expect(JobStatus(waitStatus: 2 << 8).code == 2)
        #expect(JobStatus(waitStatus: 9).code == 137)
        #expect(JobStatus(waitStatus: 0x80 | 11).code == 139)  // core dumped
        #expect(JobStatus(code: 128 + 40).description == "signal 40 (exit 168)")
    }
}
