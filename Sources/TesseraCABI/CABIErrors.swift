// The thread-local error slot of libTesseraCABI, shared by every header it implements
// (include/tessera/cluster.h, include/tessera/pde.h): a failing call stores its message here and
// returns the tsr_status of its TesseraError.
import Tessera
#if canImport(Glibc)
import Glibc
#endif

// MARK: errors

/// Thread-local last error text (a malloc'd C string per thread).
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()
nonisolated(unsafe) private let emptyMessage: UnsafeMutablePointer<CChar> = strdup("")!

func setError(_ message: String) {
    if let old = pthread_getspecific(errorKey) { free(old) }
    pthread_setspecific(errorKey, strdup(message))
}

func status(of error: TesseraError) -> Int32 {
    setError(error.message)
    switch error {
    case .invalidArgument: return 1
    case .outOfMemory: return 2
    case .outOfRange: return 3
    case .malformedInput: return 4
    case .unsupported: return 5
    case .io: return 6
    case .invalidState: return 7
    case .internalError: return 8
    }
}

func invalid(_ message: String) -> Int32 { status(of: .invalidArgument(message)) }

/// Runs `body`, mapping a thrown TesseraError to its status; 0 on success.
func guarded(_ body: () throws(TesseraError) -> Void) -> Int32 {
    do throws(TesseraError) { try body(); return 0 } catch { return status(of: error) }
}

/// `tsr_cluster_last_error` (include/tessera/cluster.h): the detail of this thread's last
/// failure in a cluster call, "" if none; never NULL, owned by the library.
@_cdecl("tsr_cluster_last_error")
public func tsr_cluster_last_error() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return UnsafePointer(emptyMessage)
}

/// `tsr_pde_last_error` (include/tessera/pde.h): the detail of this thread's last failure in a
/// libTesseraCABI call (the same slot as `tsr_cluster_last_error`); never NULL.
@_cdecl("tsr_pde_last_error")
public func tsr_pde_last_error() -> UnsafePointer<CChar> { tsr_cluster_last_error() }
