// Request safety: no buffer is released while MPI may still read or write it.
//
// The rule, for every nonblocking path in TesseraDistributed (ring attention, halos, datatype
// transfers, the patch exchange): each request holds a strong reference to the owner of the
// memory it references (`Request.keep`), and requests are posted inside a `RequestScope`. On a
// normal exit the scope waits for them; on a thrown error it cancels those still in flight
// (MPI_Cancel), waits a bounded time for the cancellation, and keeps any request that still
// did not finish — with its buffer — for the rest of the process: a little memory is leaked on
// that error path instead of freed memory being written by MPI (the heap corruption that a
// throw between post and wait once caused in ring attention).

import Foundation
internal import CMPI
import Tessera

/// The nonblocking requests of one region of code, completed or cancelled on every exit.
public final class RequestScope {
    private var requests: [Request] = []
    private let owners: [AnyObject]

    /// Seconds an error exit waits for cancelled requests before keeping them alive for good.
    nonisolated(unsafe) public static var cancelTimeout: Double = 10

    /// A scope whose requests all keep `owners` (the objects that own their buffers) alive.
    public init(keeping owners: [AnyObject] = []) { self.owners = owners }

    /// Tracks `request`; it keeps `owner` (and the scope's owners) alive until it completes.
    @discardableResult
    public func add(_ request: Request, keeping owner: AnyObject? = nil) -> Request {
        request.keep += owners
        if let owner { request.keep.append(owner) }
        requests.append(request)
        return request
    }

    /// Waits for every request posted so far (and runs their completion steps).
    public func waitAll() throws(TesseraError) {
        let pending = requests
        requests.removeAll()
        do { try Request.waitAll(pending) } catch {
            for r in pending where !r.isComplete { r.cancelOrKeep(timeout: RequestScope.cancelTimeout) }
            throw error
        }
    }

    /// The requests tracked so far, handed over to the caller (who completes them).
    public func release() -> [Request] { defer { requests.removeAll() }; return requests }

    /// The error path: cancels what is still in flight; see `Request.cancelOrKeep`.
    public func cancelOutstanding() {
        for r in requests where !r.isComplete { r.cancelOrKeep(timeout: RequestScope.cancelTimeout) }
        requests.removeAll()
    }
}

extension Communicator {
    /// Runs `body` with a `RequestScope`: after a normal return every request of the scope has
    /// completed; after a throw every request has completed, been cancelled, or been kept
    /// (with its buffers) for the rest of the process — none is left referencing freed memory.
    public func withRequests<R>(_ body: (RequestScope) throws(TesseraError) -> R) throws(TesseraError) -> R {
        let scope = RequestScope()
        do {
            let result = try body(scope)
            try scope.waitAll()
            return result
        } catch {
            scope.cancelOutstanding()
            throw error
        }
    }
}

/// Transfers that did not finish after a cancel on an error path, kept with their buffers.
let abandonedRequests = AbandonedRequests()
final class AbandonedRequests: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [AnyObject] = []
    /// Keeps `owner` (a request, or the buffer of a raw MPI request) for the rest of the process.
    func keep(_ owner: AnyObject) { lock.lock(); list.append(owner); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return list.count }
}

extension Request {
    /// Requests kept alive for good after an error exit (see `RequestScope`).
    public static var abandonedCount: Int { abandonedRequests.count }

    /// Cancels (MPI_Cancel) and completes within `timeout` seconds; a request still not done
    /// then is kept, with what it references, for the rest of the process.
    func cancelOrKeep(timeout: Double) {
        guard !isComplete, request != nil, request != tsr_mpi_request_null(), !MPI.isFinalized else { return }
        _ = MPI_Cancel(&request)
        let end = MPI.wallTime() + timeout
        var flag: Int32 = 0
        var st = MPI_Status()
        while MPI_Test(&request, &flag, &st) == tsr_mpi_success(), flag == 0, MPI.wallTime() < end { sched_yield() }
        if flag != 0 {
            markCompletedWithoutResult()
        } else {
            abandonedRequests.keep(self)
        }
    }
}

extension Communicator {
    /// Starts sending a tensor's elements (row-major bytes) within `scope`. The request keeps
    /// the tensor's storage alive; changing the tensor afterwards copies it (value semantics),
    /// so the bytes in flight stay as they were.
    public func isend<E: TensorElement>(_ tensor: Tensor<E>, to destination: Int, tag: Int = 0,
                                        in scope: RequestScope) throws(TesseraError) -> Request {
        let r = try tensor.withUnsafeBufferPointer { (b) throws(TesseraError) in
            try isend(bytes: UnsafeRawBufferPointer(b), to: destination, tag: tag)
        }
        return scope.add(r, keeping: tensor.storageOwner)
    }

    /// Starts receiving a tensor of `shape` within `scope`: the returned tensor holds the
    /// elements once the request has completed (read it only after the scope's wait). The
    /// request keeps its storage alive.
    public func irecv<E: TensorElement>(shape: [Int], of _: E.Type = E.self, from source: Int, tag: Int = 0,
                                        in scope: RequestScope) throws(TesseraError) -> (request: Request, tensor: Tensor<E>) {
        var t = try Tensor<E>(shape: shape)
        let r = try t.withUnsafeMutableBufferPointer { (b) throws(TesseraError) in
            try irecv(bytes: UnsafeMutableRawBufferPointer(b), from: source, tag: tag)
        }
        return (scope.add(r, keeping: t.storageOwner), t)
    }
}
