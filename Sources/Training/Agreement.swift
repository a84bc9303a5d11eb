import Foundation
import MPI

/// A problem every rank has agreed on before training: rank 0 reports `message` once (after
/// `error: `) and every rank exits with `code` (2 for bad input, 1 for damage found while loading).
public struct RunStop: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { message }
}

/// Brings every rank to the same verdict on a check each ran alone: when any rank failed, every
/// rank throws the first failure as a RunStop (its message names the rank when it is not rank 0),
/// so that no rank goes on to a collective the others have left.
public func agree(_ world: Communicator, _ localFailure: String?, code: Int32 = 2) throws {
    // The code travels with the message, so every rank stops with the first failure's.
    guard let failure = try world.firstFailure(localFailure.map { "\(code)|\($0)" }) else { return }
    let parts = failure.message.split(separator: "|", maxSplits: 1).map(String.init)
    let message = parts.count > 1 ? parts[1] : ""
    throw RunStop(code: Int32(parts[0]) ?? 2,
                  message: failure.rank == 0 || world.size == 1 ? message : "rank \(failure.rank): \(message)")
}

/// `body`'s value on every rank, or, when it throws on any rank, that failure agreed on as above.
public func agreed<T>(_ world: Communicator, code: Int32 = 2, _ body: () throws -> T) throws -> T {
    var value: T?, failure: String?
    do { value = try body() } catch { failure = describe(error) }
    try agree(world, failure, code: code)
    return value!
}

/// An error in one line: Foundation's file errors otherwise print as a multi-line dump of domains
/// and user-info dictionaries.
public func describe(_ error: any Error) -> String {
    let bridged = error as NSError
    guard bridged.domain == NSCocoaErrorDomain else { return "\(error)" }
    let path = bridged.userInfo[NSFilePathErrorKey] as? String
    // The system's reason: on Linux the underlying error is a POSIXError, elsewhere an NSError.
    let underlying = bridged.userInfo[NSUnderlyingErrorKey]
    let code = (underlying as? POSIXError)?.code.rawValue
        ?? (underlying as? NSError).flatMap { $0.domain == NSPOSIXErrorDomain ? Int32($0.code) : nil }
    let reason = code.map { String(cString: strerror($0)) } ?? bridged.localizedDescription
    return path.map { "\($0): \(reason)" } ?? reason
}
