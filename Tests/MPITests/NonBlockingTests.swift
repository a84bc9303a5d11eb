import MPI
import Testing

extension MPITests {
    @Suite struct NonBlockingTests {
        let world = Communicator.world

        @Test func iallReduceCompletesInPlace() throws {
            let values = MPIBuffer<Float>([1, 2, 3, 4])
            try world.iallReduce(values, op: .sum).wait()
            #expect(values.array == [1, 2, 3, 4])
        }

        @Test func iallReduceOnRangesCompletesWithWaitAll() throws {
            let values = MPIBuffer<Int32>(repeating: 3, count: 8)
            try Request.waitAll([try world.iallReduce(values, range: 0..<4, op: .max),
                                 try world.iallReduce(values, range: 4..<8, op: .min)])
            #expect(values.array == Array(repeating: 3, count: 8))
        }

        @Test func isendAndIrecvMoveRanges() throws {
            let source = MPIBuffer<UInt16>([1, 2, 3, 4])
            let target = MPIBuffer<UInt16>(repeating: 0, count: 4)
            let receiving = try world.irecv(target, range: 1..<3, from: 0, tag: 21)
            let sending = try world.isend(source, range: 2..<4, to: 0, tag: 21)
            try Request.waitAll([sending, receiving])
            #expect(target.array == [0, 3, 4, 0])
        }

        @Test func testReportsCompletionAndStaysTrue() throws {
            let target = MPIBuffer<Double>(repeating: 0, count: 1)
            let receiving = try world.irecv(target, from: 0, tag: 22)
            #expect(try !receiving.test())
            try world.send([Double(9)], to: 0, tag: 22)
            while try !receiving.test() {}
            #expect(try receiving.test())
            try receiving.wait()
            #expect(target[0] == 9)
        }

        @Test func requestKeepsBufferAliveUntilCompletion() throws {
            weak var watched: MPIBuffer<Float>?
            let receiving: Request
            do {
                let target = MPIBuffer<Float>(repeating: 0, count: 2)
                watched = target
                receiving = try world.irecv(target, from: 0, tag: 23)
            }
            #expect(watched != nil)
            try world.send([Float(5), 6], to: 0, tag: 23)
            #expect(watched != nil)
            try receiving.wait()
            #expect(watched == nil)
        }

        @Test func droppedUnfinishedRequestLeaksItsBufferInsteadOfFreeingIt() throws {
            // A communicator of its own, so the message below cannot reach any other test.
            let channel = try world.duplicate()
            weak var watched: MPIBuffer<Int64>?
            do {
                let target = MPIBuffer<Int64>(repeating: 0, count: 1)
                watched = target
                _ = try channel.irecv(target, from: 0, tag: 24)
            }
            #expect(watched != nil)
            // MPI may now complete the abandoned receive: it writes into memory that is still valid.
            try channel.send([Int64(42)], to: 0, tag: 24)
            #expect(watched != nil)
            try channel.free()
        }
    }
}
