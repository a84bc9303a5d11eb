import MPI
import Testing

extension MPITests {
    @Suite struct EnvironmentTests {
        @Test func initializeIsIdempotentFromManyThreads() async {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { MPIEnvironment.initialize() }
                }
            }
            MPIEnvironment.initialize()
            #expect(Communicator.world.size == 1)
        }

        @Test func processWithoutMpirunIsWorldOfOne() {
            let world = Communicator.world
            #expect(world.rank == 0)
            #expect(world.size == 1)
        }

        @Test func threadMultipleIsGranted() {
            #expect(MPIEnvironment.isThreadMultiple)
        }

        @Test func wallTimeNeverGoesBackwards() {
            let start = MPIEnvironment.wallTime()
            #expect(MPIEnvironment.wallTime() >= start)
        }

        @Test func processorNameIsNotEmpty() throws {
            #expect(try !MPIEnvironment.processorName.isEmpty)
        }
    }
}
