import Foundation
internal import CTessera

/// An error reported by Tessera: the C status it came from and the library's message.
///
/// Every C status maps to one case; the message says which argument or value was wrong.
public enum TesseraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An argument is out of its domain: a shape, a count, NaN/Inf in data (`TSR_EINVAL`).
    case invalidArgument(String)
    /// An allocation failed or would exceed the memory limit (`TSR_ENOMEM`).
    case outOfMemory(String)
    /// A size or index overflows its type or range (`TSR_ERANGE`).
    case outOfRange(String)
    /// A file or buffer is not in the expected format (`TSR_EFORMAT`).
    case malformedInput(String)
    /// A valid request this build or machine does not support (`TSR_EUNSUPPORTED`).
    case unsupported(String)
    /// Reading or writing a file failed (`TSR_EIO`).
    case io(String)
    /// The object is not in a state that allows the call, or a computation diverged (`TSR_ESTATE`).
    case invalidState(String)
    /// A bug in Tessera: a check that should never fail did.
    case internalError(String)

    /// The message that came with the error.
    public var message: String {
        switch self {
        case .invalidArgument(let m), .outOfMemory(let m), .outOfRange(let m), .malformedInput(let m),
             .unsupported(let m), .io(let m), .invalidState(let m), .internalError(let m):
            return m
        }
    }

    /// The kind of error and its message, e.g. "invalid argument: KMeans: k must be in 1...100 (got 0)".
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
    /// The same text as `description`.
    public var errorDescription: String? { description }
    /// The message alone.
    public var failureReason: String? { message }
    /// What to try, for out-of-memory and internal errors; nil otherwise.
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
