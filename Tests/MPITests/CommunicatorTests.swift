import MPI
import Testing

extension MPITests {
    @Suite struct CommunicatorTests {
        let world = Communicator.world

        @Test func splitWithColorGivesOwnGroup() throws {
            let group = try #require(try world.split(color: 3, key: 7))
            #expect(group.rank == 0)
            #expect(group.size == 1)
            #expect(try group.allReduce(Int32(5), op: .sum) == 5)
            try group.free()
        }

        @Test func splitWithoutColorGivesNil() throws {
            #expect(try world.split(color: nil, key: 0) == nil)
        }

        @Test func duplicateHasSameRanksAndOwnHandle() throws {
            let copy = try world.duplicate()
            #expect(copy.rank == world.rank)
            #expect(copy.size == world.size)
            #expect(copy.handle != world.handle)
            try copy.barrier()
            try copy.free()
        }

        @Test func barrierReturns() throws {
            try world.barrier()
        }
    }
}
