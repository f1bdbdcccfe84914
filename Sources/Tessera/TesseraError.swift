import Foundation
internal import CTessera

/// An error reported by Tessera: the C status it came from and the library's message.
///
/// Every C status maps to one case; the message says which argument or value was wrong.
public enum TesseraError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    case outOfMemory(String)
    case outOfRange(String)
    case malformedInput(String)
    case unsupported(String)
    case io(String)
    case invalidState(String)
    case internalError(String)

    /// The message that came with the error.
    public var message: String {
        switch self {
        case .invalidArgument(let m), .outOfMemory(let m), .outOfRange(let m), .malformedInput(let m),
             .unsupported(let m), .io(let m), .invalidState(let m), .internalError(let m):
            return m
        }
    }

    public var description: String {
        switch self {
        case .invalidArgument: return "invalid argument: \(message)"
        case .outOfMemory: return "out of memory: \(message)"
        case .outOfRange: return "out of range: \(message)"
        case .malformedInput: return "malformed input: \(message)"
        case .unsupported: return "unsupported: \(message)"
        case .io: return "I/O error: \(message)"
        case .invalidState: return "invalid state: \(message)"
        case .internalError: return "internal error (please report): \(message)"
        }
    }

    /// Maps a C status code (`tsr_status` raw value) and message to an error; nil for success.
    public init?(statusCode: Int32, message: String) {
        switch statusCode {
        case 0: return nil
        case 1: self = .invalidArgument(message)
        case 2: self = .outOfMemory(message)
        case 3: self = .outOfRange(message)
        case 4: self = .malformedInput(message)
        case 5: self = .unsupported(message)
        case 6: self = .io(message)
        case 7: self = .invalidState(message)
        default: self = .internalError(message.isEmpty ? "status \(statusCode)" : message)
        }
    }
}

/// `localizedDescription` (what Foundation and most logging show) reads like `description`,
/// not "The operation could not be completed".
extension TesseraError: LocalizedError {
    public var errorDescription: String? { description }
    public var failureReason: String? { message }
    public var recoverySuggestion: String? {
        switch self {
        case .outOfMemory: return "Use smaller inputs, or free memory and try again."
        case .internalError: return "This is a bug in Tessera; please report it with the message."
        default: return nil
        }
    }
}

/// Throws the `TesseraError` for a non-OK C status, with `tsr_last_error()` as message.
@inline(__always)
func check(_ status: tsr_status) throws(TesseraError) {
    if status == TSR_OK { return }
    let message = String(cString: tsr_last_error())
    throw TesseraError(statusCode: Int32(status.rawValue), message: message)
        ?? .internalError(message)
}
