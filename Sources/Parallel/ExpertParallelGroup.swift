import MPI

/// The ranks that share one mixture-of-experts layer's experts (each holds n_experts / size of
/// them), and the token exchange between them: every rank sends each token row to the rank owning
/// the expert it was routed to, and gets the results back the same way.
///
/// Rows are `width` floats. Counts travel first (one all-to-all of the per-expert row counts), then
/// the rows (all-to-all-v). A group of one rank exchanges nothing, so one code path serves every
/// layout.
public struct ExpertParallelGroup: Sendable {
    let communicator: Communicator?
    public let rank: Int
    public let size: Int
    /// Time spent in this group's all-to-alls.
    public let communicationTime = TimeAccount()

    public init(_ communicator: Communicator) {
        self.communicator = communicator.size > 1 ? communicator : nil
        rank = communicator.rank
        size = communicator.size
    }

    private init() {
        communicator = nil
        rank = 0
        size = 1
    }

    /// Every expert on this rank.
    public static var single: ExpertParallelGroup { ExpertParallelGroup() }

    /// `sendCounts[d · perRank + e]` rows go to rank d's local expert e; returns
    /// `receiveCounts[s · perRank + e]`, the rows rank s sends to this rank's local expert e.
    public func exchangeCounts(_ sendCounts: [Int32], perRank: Int) throws(MPIError) -> [Int32] {
        guard let communicator else { return sendCounts }
        let started = communicationTime.start()
        let received = try communicator.allToAll(sendCounts)
        communicationTime.stop(started)
        return received
    }

    /// Sends `send` (rows packed in destination-rank order, `sendRows[d]` for rank d) and receives
    /// into `receive` (`receiveRows[s]` from rank s, packed in source order).
    ///
    /// Not optimised: Swift 6.3.1's optimiser miscompiles this function (release builds of a
    /// one-rank mixture-of-experts run saw it "throw" an uninitialised MPIError after a normal
    /// return, found by bisecting modules, then functions, at -Onone). It only wraps one MPI call
    /// and one copy, so nothing is lost.
    @_optimize(none)
    public func exchangeRows(send: UnsafePointer<Float>, sendRows: [Int],
                             receive: UnsafeMutablePointer<Float>, receiveRows: [Int], width: Int) throws(MPIError) {
        let sent = sendRows.reduce(0, +) * width, received = receiveRows.reduce(0, +) * width
        if let communicator {
            let started = communicationTime.start()
            try communicator.allToAllv(send: UnsafeBufferPointer(start: send, count: sent),
                                       sendCounts: sendRows.map { $0 * width },
                                       recv: UnsafeMutableBufferPointer(start: receive, count: received),
                                       recvCounts: receiveRows.map { $0 * width })
            communicationTime.stop(started)
        } else {
            precondition(sent == received, "a single-rank exchange receives what it sends")
            receive.update(from: send, count: sent)
        }
    }
}
