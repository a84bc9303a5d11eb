import MPI
import Testing

extension MPITests {
    @Suite struct AgreementTests {
        let world = Communicator.world

        @Test(arguments: ["", "plain", "config error: ünïcödé ✓\nsecond line"])
        func broadcastStringRoundTrips(text: String) throws {
            #expect(try world.broadcast(string: text, root: 0) == text)
        }

        @Test func firstFailureIsNilWhenNoRankFails() throws {
            #expect(try world.firstFailure(nil) == nil)
        }

        @Test func firstFailureNamesFailingRankAndMessage() throws {
            let failure = try #require(try world.firstFailure("missing file: data.bin"))
            #expect(failure.rank == 0)
            #expect(failure.message == "missing file: data.bin")
        }
    }
}
