import MPI
import Testing

/// On a world of one every collective is a copy (reductions of one value are that value), so
/// these tests pin down argument order, counts and array overloads.
extension MPITests {
    @Suite struct CollectiveTests {
        let world = Communicator.world

        @Test func broadcastKeepsRootValues() throws {
            var values: [Float] = [1, 2, 3]
            try world.broadcast(&values, root: 0)
            #expect(values == [1, 2, 3])

            let raw = MPIBuffer<UInt16>([7, 8])
            try world.broadcast(raw.buffer, root: 0)
            #expect(raw.array == [7, 8])
        }

        @Test(arguments: [ReduceOp.sum, .max, .min])
        func allReduceOfOneRankIsIdentity(op: ReduceOp) throws {
            var floats: [Float] = [1.5, -2, 3]
            try world.allReduce(&floats, op: op)
            #expect(floats == [1.5, -2, 3])

            let raw = MPIBuffer<Int64>([Int64.min, 0, Int64.max])
            try world.allReduce(raw.buffer, op: op)
            #expect(raw.array == [Int64.min, 0, Int64.max])

            #expect(try world.allReduce(UInt8(200), op: op) == 200)
            #expect(try world.allReduce(-0.25, op: op) == -0.25)
        }

        @Test func allReduceWorksForEveryScalarType() throws {
            #expect(try world.allReduce(Float(1), op: .sum) == 1)
            #expect(try world.allReduce(Double(2), op: .sum) == 2)
            #expect(try world.allReduce(Int32(-3), op: .sum) == -3)
            #expect(try world.allReduce(Int64(-4), op: .sum) == -4)
            #expect(try world.allReduce(UInt8(5), op: .sum) == 5)
            #expect(try world.allReduce(UInt16(6), op: .sum) == 6)
            #expect(try world.allReduce(UInt32(7), op: .sum) == 7)
            #expect(try world.allReduce(UInt64(8), op: .sum) == 8)
        }

        @Test func allGatherOfOneRankIsCopy() throws {
            #expect(try world.allGather([Int32(4), 5]) == [4, 5])

            let send = MPIBuffer<Double>([1, 2])
            let recv = MPIBuffer<Double>(repeating: 0, count: 2)
            try world.allGather(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer)
            #expect(recv.array == [1, 2])
        }

        @Test func reduceScatterBlockOfOneRankIsCopy() throws {
            #expect(try world.reduceScatterBlock([Float(1), 2, 3], op: .sum) == [1, 2, 3])

            let send = MPIBuffer<UInt32>([9, 8])
            let recv = MPIBuffer<UInt32>(repeating: 0, count: 2)
            try world.reduceScatterBlock(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer, op: .max)
            #expect(recv.array == [9, 8])
        }

        @Test func allToAllOfOneRankIsCopy() throws {
            #expect(try world.allToAll([UInt64(1), 2, 3]) == [1, 2, 3])

            let send = MPIBuffer<Int32>([4, 5])
            let recv = MPIBuffer<Int32>(repeating: 0, count: 2)
            try world.allToAll(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer)
            #expect(recv.array == [4, 5])
        }

        @Test func allToAllvMovesOnlyCountedPrefix() throws {
            #expect(try world.allToAllv([Int64(1), 2, 3], sendCounts: [2], recvCounts: [2]) == [1, 2])
            #expect(try world.allToAllv([Int64](), sendCounts: [0], recvCounts: [0]) == [])

            let send = MPIBuffer<Float>([1, 2, 3])
            let recv = MPIBuffer<Float>(repeating: -1, count: 4)
            try world.allToAllv(send: UnsafeBufferPointer(send.buffer), sendCounts: [3],
                                recv: recv.buffer, recvCounts: [3])
            #expect(recv.array == [1, 2, 3, -1])
        }

        @Test func gatherDeliversToRoot() throws {
            #expect(try world.gather([UInt8(1), 2], root: 0) == [1, 2])

            let send = MPIBuffer<Float>([3, 4])
            let recv = MPIBuffer<Float>(repeating: 0, count: 2)
            try world.gather(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer, root: 0)
            #expect(recv.array == [3, 4])
        }

        @Test func gathervDeliversToRoot() throws {
            #expect(try world.gatherv([Int32(1), 2, 3], root: 0) == [1, 2, 3])
            #expect(try world.gatherv([Int32](), root: 0) == [])

            let send = MPIBuffer<Double>([5, 6])
            let recv = MPIBuffer<Double>(repeating: 0, count: 3)
            try world.gatherv(send: UnsafeBufferPointer(send.buffer), recv: recv.buffer, recvCounts: [2], root: 0)
            #expect(recv.array == [5, 6, 0])
        }
    }
}
