import MPI
import Testing

/// MPI_ERRORS_RETURN is set on every communicator: had MPI kept its default (abort), these tests
/// would kill the test process instead of catching an error.
extension MPITests {
    @Suite struct ErrorTests {
        let world = Communicator.world

        @Test func sendToInvalidRankThrowsOnWorld() throws {
            let error = try #require(throws: MPIError.self) {
                try world.send([Float(1)], to: 1)
            }
            #expect(error.operation == "MPI_Send")
            #expect(error.code != 0)
            #expect(error.message.contains("MPI_ERR_RANK"))
            #expect(error.description.contains("MPI_Send"))
            #expect(error.description.contains(error.message))
        }

        @Test func derivedCommunicatorsReturnErrors() throws {
            let copy = try world.duplicate()
            let group = try #require(try world.split(color: 0, key: 0))
            for communicator in [copy, group] {
                #expect(throws: MPIError.self) {
                    try communicator.send([Int32(1)], to: 5)
                }
                #expect(throws: MPIError.self) {
                    try communicator.broadcast(MPIBuffer<Int32>(repeating: 0, count: 1).buffer, root: 3)
                }
            }
            try copy.free()
            try group.free()
        }

        @Test func collectiveWithInvalidRootThrows() throws {
            let error = try #require(throws: MPIError.self) {
                var values: [Double] = [1]
                try world.broadcast(&values, root: 2)
            }
            #expect(error.operation == "MPI_Bcast")
        }
    }
}
