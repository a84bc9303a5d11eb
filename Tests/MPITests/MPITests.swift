import Testing

/// Root of every MPI test suite. A process may initialise MPI only once and calls on one
/// communicator must not interleave, so all suites nest here and run one test at a time, in one
/// shared world of size 1 that is never finalized.
@Suite(.serialized)
enum MPITests {}
