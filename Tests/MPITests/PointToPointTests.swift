import MPI
import Testing

/// A world of one talks to itself: a receive is posted first (non-blocking) or the send is
/// non-blocking, so no test depends on MPI buffering a blocking send.
extension MPITests {
    @Suite struct PointToPointTests {
        let world = Communicator.world

        @Test func sendArrivesAtPostedReceive() throws {
            let inbox = MPIBuffer<Int32>(repeating: 0, count: 3)
            let receiving = try world.irecv(inbox, from: 0, tag: 11)
            try world.send([Int32(1), 2, 3], to: 0, tag: 11)
            try receiving.wait()
            #expect(inbox.array == [1, 2, 3])
        }

        @Test func recvReportsCountAndFillsArray() throws {
            let outbox = MPIBuffer<Float>([4, 5])
            let sending = try world.isend(outbox, to: 0, tag: 12)
            let inbox = MPIBuffer<Float>(repeating: -1, count: 4)
            #expect(try world.recv(inbox.buffer, from: 0, tag: 12) == 2)
            try sending.wait()
            #expect(inbox.array == [4, 5, -1, -1])

            let again = try world.isend(outbox, to: 0, tag: 13)
            var values: [Float] = [0, 0]
            try world.recv(&values, from: 0, tag: 13)
            try again.wait()
            #expect(values == [4, 5])
        }

        @Test func tagsKeepMessagesApart() throws {
            let first = MPIBuffer<UInt8>([1])
            let second = MPIBuffer<UInt8>([2])
            let requests = [try world.isend(first, to: 0, tag: 1), try world.isend(second, to: 0, tag: 2)]
            var received: [UInt8] = [0]
            try world.recv(&received, from: 0, tag: 2)
            #expect(received == [2])
            try world.recv(&received, from: 0, tag: 1)
            #expect(received == [1])
            try Request.waitAll(requests)
        }

        @Test func sendRecvToSelfSwapsThroughRing() throws {
            #expect(try world.sendRecv([Double(1), 2], to: 0, from: 0, count: 2) == [1, 2])

            let send = MPIBuffer<Int64>([7])
            let recv = MPIBuffer<Int64>(repeating: 0, count: 2)
            #expect(try world.sendRecv(send: UnsafeBufferPointer(send.buffer), to: 0, recv: recv.buffer, from: 0, tag: 4) == 1)
            #expect(recv.array == [7, 0])
        }
    }
}
