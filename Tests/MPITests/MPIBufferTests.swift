import MPI
import Testing

extension MPITests {
    @Suite struct MPIBufferTests {
        @Test func repeatingInitFillsEveryElement() {
            let buffer = MPIBuffer<UInt32>(repeating: 7, count: 3)
            #expect(buffer.count == 3)
            #expect(buffer.array == [7, 7, 7])
        }

        @Test func arrayInitCopiesValues() {
            let buffer = MPIBuffer<Double>([1, 2, 3])
            #expect(buffer.count == 3)
            #expect(buffer.array == [1, 2, 3])
            #expect(MPIBuffer<Float>([]).count == 0)
        }

        @Test func pointerBufferAndSubscriptShareStorage() {
            let buffer = MPIBuffer<Int32>(repeating: 0, count: 4)
            buffer[1] = 5
            buffer.pointer[2] = 6
            buffer.buffer[3] = 7
            #expect(buffer.array == [0, 5, 6, 7])
            #expect(buffer.buffer.baseAddress == buffer.pointer)
            #expect(buffer.buffer.count == 4)
        }

        @Test func subscriptOutOfRangeTraps() async {
            await #expect(processExitsWith: .failure) {
                _ = MPIBuffer<Float>(repeating: 0, count: 2)[2]
            }
        }
    }
}
