// TesseraDiffusion's PatchExchange over MPI: patch p lives on rank p (one patch per rank).
//
//   publish(key, from: p, to: peers)   copies [epoch, call, key, patch | bytes] into a send buffer
//                                       and starts MPI_Isend to each peer rank (.all: every other
//                                       rank — DistriFusion's all-gather; .above/.below: the
//                                       neighbour only — PCPP), then returns: the send overlaps
//                                       the compute that follows.
//   contribution(key, of: q, fresh:)   this call's (fresh) or the previous call's (stale) message
//                                       of patch q; messages are taken off the wire as they come
//                                       (MPI_Iprobe + MPI_Recv of the probed size), filed by
//                                       (call, key, patch); a stale read finds last call's
//                                       activations already delivered while this rank computed.
//   finishCall()                        sends an end-of-call marker to every rank (so a read of a
//                                       key a patch did not publish returns nil instead of
//                                       waiting), next call; drops what is two calls old.
//
// Messages carry the call number, so a rank one call ahead of a neighbour (possible in the
// stale modes) files its message under the right call; `reset` starts a new epoch (run):
// messages of older epochs are dropped, those of a peer already in the next run are kept. MPI is entered under one lock (MPI_THREAD_SERIALIZED is enough:
// the patch executor may call from pool threads). Waiting for a message polls with a time limit
// (`timeout`) and reports a missing message on stderr instead of hanging.

import Foundation
internal import CMPI
import TesseraDiffusion

/// A `PatchExchange` over MPI: one patch per rank, messages tagged by call so ranks may run one
/// call apart, and a time limit instead of a hang when a message does not come.
public final class MPIPatchExchange: PatchExchange, @unchecked Sendable {
    /// Number of patches (the communicator's size).
    public let patches: Int
    /// The rank of this process = the patch it owns.
    public let rank: Int
    /// Seconds a read waits for a message before giving up (returns nil, with a note).
    public var timeout: Double = 120
    private let comm: Communicator
    private let lock = NSLock()
    private let tag = 2917
    private static let header = 4 * 8
    private var epoch: Int64 = 0
    private var call: Int64 = 0
    private struct Key: Hashable { var epoch: Int64; var call: Int64; var key: Int64; var patch: Int64 }
    private var store: [Key: UnsafeMutableRawBufferPointer] = [:]
    /// (epoch, call, patch) whose end-of-call marker arrived: all that patch sent in that call is here
    private struct Ended: Hashable { var epoch: Int64; var call: Int64; var patch: Int64 }
    private var ended: Set<Ended> = []
    private static let marker = Int64.min
    /// A message buffer shared by its sends (one per destination), freed after the last completes.
    private final class Outgoing {
        let buffer: UnsafeMutableRawBufferPointer
        init(_ b: UnsafeMutableRawBufferPointer) { buffer = b }
        deinit { buffer.deallocate() }
    }
    private var sends: [(request: MPI_Request?, message: Outgoing)] = []
    private var bytes = 0
    /// Seconds spent waiting for messages that had not arrived (exposed for benchmarks).
    public private(set) var waitSeconds = 0.0

    /// An exchange among the ranks of `communicator` (duplicated, so its messages never meet
    /// other traffic), one patch per rank. Errors: an MPI thread level below SERIALIZED.
    public init(communicator: Communicator) throws(TesseraError) {
        guard MPI.providedThreadLevel >= .serialized else {
            throw .unsupported("MPIPatchExchange: the patch executor calls from pool threads; initialise MPI with threadLevel .serialized or .multiple (have \(MPI.providedThreadLevel))")
        }
        comm = try communicator.duplicate()
        patches = comm.size
        rank = comm.rank
    }

    deinit {
        // sends still in flight (no `drain`): wait a bounded time, then keep their buffers for
        // the rest of the process rather than free memory MPI may still read (RequestScope's rule)
        let end = MPI.wallTime() + RequestScope.cancelTimeout
        for i in sends.indices where sends[i].request != nil && sends[i].request != tsr_mpi_request_null() && !MPI.isFinalized {
            var flag: Int32 = 0
            while MPI_Test(&sends[i].request, &flag, tsr_mpi_status_ignore()) == tsr_mpi_success(), flag == 0, MPI.wallTime() < end {
                sched_yield()
            }
            if flag == 0 { abandonedRequests.keep(sends[i].message) }
        }
        for (_, b) in store { b.deallocate() }
    }

    private func file(_ k: Key, copying src: UnsafeRawBufferPointer) {
        if let old = store[k] { old.deallocate() }
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: src.count, alignment: 64)
        if src.count > 0 { b.copyMemory(from: src) }
        store[k] = b
    }

    /// Sends this rank's contribution to `key` to `peers` (patch must be this rank).
    public func publish(key: Int, from patch: Int, to peers: PatchPeers, bytes src: UnsafeRawBufferPointer) {
        lock.lock(); defer { lock.unlock() }
        file(Key(epoch: epoch, call: call, key: Int64(key), patch: Int64(patch)), copying: src)
        let dest: [Int]
        switch peers {
        case .all: dest = (0..<patches).filter { $0 != patch }
        case .above: dest = patch > 0 ? [patch - 1] : []
        case .below: dest = patch + 1 < patches ? [patch + 1] : []
        }
        guard !dest.isEmpty else { return }
        let msg = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.header + src.count, alignment: 64)
        let h = msg.baseAddress!.assumingMemoryBound(to: Int64.self)
        h[0] = epoch; h[1] = call; h[2] = Int64(key); h[3] = Int64(patch)
        if src.count > 0 { (msg.baseAddress! + Self.header).copyMemory(from: src.baseAddress!, byteCount: src.count) }
        let out = Outgoing(msg)
        for d in dest {
            var req: MPI_Request?
            let rc = MPI_Isend(msg.baseAddress, Int32(msg.count), tsr_mpi_byte(), Int32(d), Int32(tag), comm.comm, &req)
            if rc != tsr_mpi_success() { fail("MPI_Isend of key \(key) to rank \(d) failed (\(rc))") }
            sends.append((req, out))
        }
        bytes += dest.count * src.count
        progress()
    }

    /// Takes every message that has arrived off the wire and completes finished sends.
    /// Caller holds the lock.
    private func progress() {
        while true {
            var flag: Int32 = 0
            var st = MPI_Status()
            _ = MPI_Iprobe(tsr_mpi_any_source(), Int32(tag), comm.comm, &flag, &st)
            if flag == 0 { break }
            var count: Int32 = 0
            _ = MPI_Get_count(&st, tsr_mpi_byte(), &count)
            let msg = UnsafeMutableRawBufferPointer.allocate(byteCount: max(Int(count), Self.header), alignment: 64)
            defer { msg.deallocate() }
            let rc = MPI_Recv(msg.baseAddress, count, tsr_mpi_byte(), tsr_mpi_status_source(&st), Int32(tag), comm.comm, tsr_mpi_status_ignore())
            if rc != tsr_mpi_success() || Int(count) < Self.header { fail("MPI_Recv of a patch message failed (\(rc), \(count) bytes)") }
            let h = msg.baseAddress!.assumingMemoryBound(to: Int64.self)
            // an old run, or a call nobody will read; a peer that already started the next run
            // (reset) files under its epoch
            guard h[0] > epoch || (h[0] == epoch && h[1] >= call - 1) else { continue }
            if h[2] == Self.marker { ended.insert(Ended(epoch: h[0], call: h[1], patch: h[3])); continue }
            file(Key(epoch: h[0], call: h[1], key: h[2], patch: h[3]),
                 copying: UnsafeRawBufferPointer(start: msg.baseAddress! + Self.header, count: Int(count) - Self.header))
        }
        // completed sends: free their buffers
        var i = 0
        while i < sends.count {
            var flag: Int32 = 0
            _ = MPI_Test(&sends[i].request, &flag, tsr_mpi_status_ignore())
            if flag != 0 {
                sends.remove(at: i)   // the buffer goes with the last reference
            } else { i += 1 }
        }
    }

    private func fail(_ s: String) {
        FileHandle.standardError.write(Data("MPIPatchExchange (rank \(rank)): \(s)\n".utf8))
    }

    /// Patch `patch`'s contribution to `key` from this call (`fresh`) or the previous one, receiving it
    /// if needed; nil if it does not come within `timeout` (noted on stderr).
    public func contribution(key: Int, of patch: Int, fresh: Bool) -> UnsafeRawBufferPointer? {
        guard patch >= 0, patch < patches else { return nil }
        lock.lock(); defer { lock.unlock() }
        let k = Key(epoch: epoch, call: fresh ? call : call - 1, key: Int64(key), patch: Int64(patch))
        if let b = store[k] { return UnsafeRawBufferPointer(b) }
        // own patch, or stale from before the first call: there is nothing to wait for
        if patch == rank || k.call < 0 { return nil }
        let t0 = MPI.wallTime()
        while true {
            progress()
            if let b = store[k] { waitSeconds += MPI.wallTime() - t0; return UnsafeRawBufferPointer(b) }
            // that patch finished the call without publishing this key: there is none
            if ended.contains(Ended(epoch: epoch, call: k.call, patch: k.patch)) { waitSeconds += MPI.wallTime() - t0; return nil }
            if MPI.wallTime() - t0 > timeout {
                fail("no message for key \(key) of patch \(patch) (call \(k.call), now \(call)) after \(timeout) s; have \(store.keys.map { "\($0.call)/\($0.key)/\($0.patch)" }.sorted())")
                waitSeconds += MPI.wallTime() - t0
                return nil
            }
            // let a thread of this process that is about to publish take the lock
            lock.unlock(); sched_yield(); lock.lock()
        }
    }

    /// Ends a denoiser call: this call's contributions become the previous call's.
    public func finishCall() {
        lock.lock(); defer { lock.unlock() }
        // an end-of-call marker to every other rank: after it (same source, same tag: MPI keeps
        // the order) a reader knows a message of this call that has not come never will
        if patches > 1 {
            let msg = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.header, alignment: 64)
            let h = msg.baseAddress!.assumingMemoryBound(to: Int64.self)
            h[0] = epoch; h[1] = call; h[2] = Self.marker; h[3] = Int64(rank)
            let out = Outgoing(msg)
            for d in 0..<patches where d != rank {
                var req: MPI_Request?
                let rc = MPI_Isend(msg.baseAddress, Int32(msg.count), tsr_mpi_byte(), Int32(d), Int32(tag), comm.comm, &req)
                if rc != tsr_mpi_success() { fail("MPI_Isend of the end-of-call marker to rank \(d) failed (\(rc))") }
                sends.append((req, out))
            }
        }
        progress()
        call += 1
        for (k, b) in store where k.epoch == epoch && k.call < call - 1 { b.deallocate(); store[k] = nil }
        ended = ended.filter { $0.epoch > epoch || $0.call >= call - 1 }
    }

    /// Forgets everything (a new sampling run: every rank calls it at the same point) and zeroes
    /// the counters; messages of the previous run still on the wire are dropped on arrival.
    public func reset() {
        lock.lock(); defer { lock.unlock() }
        // what peers that reset earlier already sent (epoch + 1) stays
        for (k, b) in store where k.epoch <= epoch { b.deallocate(); store[k] = nil }
        ended = ended.filter { $0.epoch > epoch }
        epoch += 1; call = 0; bytes = 0; waitSeconds = 0
    }

    /// Adds `n` bytes moved outside `publish`.
    public func recordBytes(_ n: Int) { lock.lock(); bytes += n; lock.unlock() }

    /// Bytes sent since the last call, then zero.
    public func takeBytesSent() -> Int {
        lock.lock(); defer { lock.unlock() }
        let b = bytes; bytes = 0; return b
    }

    /// Completes every send this rank started and takes in every message sent to it
    /// (collective: every rank calls it at the end of a run, before the exchange is dropped).
    /// Messages nobody reads (the last call's, kept for a next call that never comes) must still
    /// be received, or their senders would wait; a nonblocking barrier entered once this rank's
    /// own sends are done tells when every rank's are (then nothing is left in flight).
    public func drain(timeout: Double = 60) {
        let t0 = MPI.wallTime()
        lock.lock(); defer { lock.unlock() }
        var barrier: MPI_Request?
        var done: Int32 = 0
        while done == 0 && MPI.wallTime() - t0 < timeout {
            progress()
            if sends.isEmpty && barrier == nil { _ = MPI_Ibarrier(comm.comm, &barrier) }
            if barrier != nil { _ = MPI_Test(&barrier, &done, tsr_mpi_status_ignore()) }
            if done == 0 { lock.unlock(); sched_yield(); lock.lock() }
        }
        if done == 0 { fail("\(sends.count) sends not received after \(timeout) s") }
        progress()
        call += 1   // what arrived after the barrier is of no call anyone reads
    }
}
