// Communicators: rank, size, dup, split, Cartesian topologies; blocking and nonblocking
// point-to-point of typed arrays and raw bytes; collectives.

import Foundation
internal import CMPI
import Tessera

/// What arrived with a receive.
public struct ReceiveStatus: Sendable, Equatable {
    /// The rank the message came from.
    public var source: Int
    /// The message's tag.
    public var tag: Int
    /// Bytes received.
    public var bytes: Int
}

/// A group of ranks that talk to each other (an MPI communicator). Every rank of the group
/// must make the same collective calls in the same order.
///
/// Errors of MPI calls come back as `TesseraError` carrying MPI's message (the communicator
/// uses MPI_ERRORS_RETURN; communicators made from it inherit that).
public final class Communicator: @unchecked Sendable, CustomStringConvertible {
    let comm: MPI_Comm
    let owned: Bool
    /// This process's rank, in 0..<size.
    public let rank: Int
    /// Number of ranks.
    public let size: Int
    /// A name for messages ("world", or how it was derived).
    public let name: String

    init(borrowing comm: MPI_Comm, name: String) throws(TesseraError) {
        self.comm = comm
        owned = false
        self.name = name
        var r: Int32 = 0, s: Int32 = 0
        try mpiCheck(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try mpiCheck(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r); size = Int(s)
    }

    init(owning comm: MPI_Comm, name: String) throws(TesseraError) {
        self.comm = comm
        owned = true
        self.name = name
        var r: Int32 = 0, s: Int32 = 0
        try mpiCheck(MPI_Comm_rank(comm, &r), "MPI_Comm_rank")
        try mpiCheck(MPI_Comm_size(comm, &s), "MPI_Comm_size")
        rank = Int(r); size = Int(s)
    }

    deinit {
        if owned && !MPI.isFinalized {
            var c: MPI_Comm? = comm
            _ = MPI_Comm_free(&c)
        }
    }

    /// The name, this rank and the size.
    public var description: String { "Communicator(\(name), rank \(rank) of \(size))" }

    /// The world communicator (initialises MPI with `.funneled` on first use).
    public static var world: Communicator { get throws(TesseraError) { try MPI.initialize() } }

    /// A new communicator with the same group (MPI_Comm_dup): its messages never match this one's.
    public func duplicate() throws(TesseraError) -> Communicator {
        var out: MPI_Comm?
        try mpiCheck(MPI_Comm_dup(comm, &out), "MPI_Comm_dup")
        guard let out else { throw .internalError("MPI_Comm_dup returned no communicator") }
        return try Communicator(owning: out, name: name + ".dup")
    }

    /// Splits the group (MPI_Comm_split, collective): ranks with the same `color` form a new
    /// communicator, ordered by `key` then old rank. A rank passing `color: nil` gets nil.
    /// Errors: `.invalidArgument` for a negative color.
    public func split(color: Int?, key: Int = 0) throws(TesseraError) -> Communicator? {
        if let color, color < 0 { throw .invalidArgument("Communicator.split: color must be >= 0 or nil (got \(color))") }
        let c = try color.map { (v) throws(TesseraError) in try mpiCount(v, "Communicator.split color") } ?? tsr_mpi_undefined()
        guard key >= Int(Int32.min), key <= Int(Int32.max) else { throw .outOfRange("Communicator.split: key \(key) does not fit an int") }
        var out: MPI_Comm?
        try mpiCheck(MPI_Comm_split(comm, c, Int32(key), &out), "MPI_Comm_split")
        guard let out, out != tsr_mpi_comm_null() else { return nil }
        return try Communicator(owning: out, name: "\(name).split(\(color ?? -1))")
    }

    /// Waits for every rank (MPI_Barrier).
    public func barrier() throws(TesseraError) {
        try mpiCheck(MPI_Barrier(comm), "MPI_Barrier")
    }

    func checkPeer(_ peer: Int, _ what: String) throws(TesseraError) {
        guard peer >= 0, peer < size else {
            throw .invalidArgument("\(what): rank \(peer) is outside 0..<\(size) of \(name)")
        }
    }
    func checkTag(_ tag: Int, _ what: String) throws(TesseraError) {
        guard tag >= 0, tag <= 32767 else { throw .invalidArgument("\(what): tag \(tag) outside 0...32767") }
    }

    // MARK: - blocking point-to-point

    /// Sends raw bytes to `destination` (MPI_Send of MPI_BYTE).
    public func send(bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int = 0) throws(TesseraError) {
        try checkPeer(destination, "Communicator.send"); try checkTag(tag, "Communicator.send")
        let n = try mpiCount(bytes.count, "Communicator.send")
        try mpiCheck(MPI_Send(bytes.baseAddress, n, tsr_mpi_byte(), Int32(destination), Int32(tag), comm), "MPI_Send")
    }

    /// Receives at most `buffer.count` bytes. `source` nil = any source, `tag` nil = any tag.
    /// Errors: `.invalidArgument` (MPI_ERR_TRUNCATE) if the message is longer than the buffer.
    @discardableResult
    public func receive(bytes buffer: UnsafeMutableRawBufferPointer, from source: Int?, tag: Int? = 0)
        throws(TesseraError) -> ReceiveStatus {
        if let source { try checkPeer(source, "Communicator.receive") }
        if let tag { try checkTag(tag, "Communicator.receive") }
        let n = try mpiCount(buffer.count, "Communicator.receive")
        var st = MPI_Status()
        try mpiCheck(MPI_Recv(buffer.baseAddress, n, tsr_mpi_byte(), Int32(source ?? Int(tsr_mpi_any_source())),
                              Int32(tag ?? Int(tsr_mpi_any_tag())), comm, &st), "MPI_Recv from \(source.map(String.init) ?? "any")")
        return status(st, tsr_mpi_byte())
    }

    /// Sends an array (MPI_Send of the element's MPI type).
    public func send<E: MPIElement>(_ values: [E], to destination: Int, tag: Int = 0) throws(TesseraError) {
        try checkPeer(destination, "Communicator.send"); try checkTag(tag, "Communicator.send")
        let n = try mpiCount(values.count, "Communicator.send")
        let rc = values.withUnsafeBufferPointer { MPI_Send($0.baseAddress, n, mpiType(E.self), Int32(destination), Int32(tag), comm) }
        try mpiCheck(rc, "MPI_Send to \(destination)")
    }

    /// Receives exactly `count` elements. Errors: `.invalidArgument` if the message holds a
    /// different number of elements (MPI's truncation error when longer, a count mismatch
    /// when shorter) — mismatched counts between ranks are errors, not silent short reads.
    public func receive<E: MPIElement>(_: E.Type, count: Int, from source: Int, tag: Int = 0) throws(TesseraError) -> [E] {
        try checkPeer(source, "Communicator.receive"); try checkTag(tag, "Communicator.receive")
        let n = try mpiCount(count, "Communicator.receive")
        var out = [E](unsafeUninitializedCapacity: count) { _, c in c = count }
        var st = MPI_Status()
        let rc = out.withUnsafeMutableBufferPointer { MPI_Recv($0.baseAddress, n, mpiType(E.self), Int32(source), Int32(tag), comm, &st) }
        try mpiCheck(rc, "MPI_Recv from \(source)")
        let got = status(st, mpiType(E.self)).bytes / MemoryLayout<E>.stride
        guard got == count else {
            throw .invalidArgument("Communicator.receive: rank \(source) sent \(got) elements, \(count) were expected (mismatched counts between ranks)")
        }
        return out
    }

    /// Sends `values` to `destination` and receives `count` elements from `source` in one
    /// deadlock-free step (MPI_Sendrecv).
    public func sendReceive<E: MPIElement>(_ values: [E], to destination: Int, receiving count: Int, from source: Int,
                                           tag: Int = 0) throws(TesseraError) -> [E] {
        try checkPeer(destination, "Communicator.sendReceive"); try checkPeer(source, "Communicator.sendReceive")
        try checkTag(tag, "Communicator.sendReceive")
        let ns = try mpiCount(values.count, "Communicator.sendReceive"), nr = try mpiCount(count, "Communicator.sendReceive")
        var out = [E](unsafeUninitializedCapacity: count) { _, c in c = count }
        var st = MPI_Status()
        let rc = values.withUnsafeBufferPointer { sb in
            out.withUnsafeMutableBufferPointer { rb in
                MPI_Sendrecv(sb.baseAddress, ns, mpiType(E.self), Int32(destination), Int32(tag),
                             rb.baseAddress, nr, mpiType(E.self), Int32(source), Int32(tag), comm, &st)
            }
        }
        try mpiCheck(rc, "MPI_Sendrecv")
        let got = status(st, mpiType(E.self)).bytes / MemoryLayout<E>.stride
        guard got == count else {
            throw .invalidArgument("Communicator.sendReceive: rank \(source) sent \(got) elements, \(count) were expected")
        }
        return out
    }

    /// Raw-byte MPI_Sendrecv (used by halo and ring exchanges).
    public func sendReceive(bytes send: UnsafeRawBufferPointer, to destination: Int,
                            into recv: UnsafeMutableRawBufferPointer, from source: Int, tag: Int = 0) throws(TesseraError) {
        let ns = try mpiCount(send.count, "Communicator.sendReceive"), nr = try mpiCount(recv.count, "Communicator.sendReceive")
        var st = MPI_Status()
        try mpiCheck(MPI_Sendrecv(send.baseAddress, ns, tsr_mpi_byte(), Int32(destination), Int32(tag),
                                  recv.baseAddress, nr, tsr_mpi_byte(), Int32(source), Int32(tag), comm, &st), "MPI_Sendrecv")
        let got = status(st, tsr_mpi_byte()).bytes
        guard got == recv.count else {
            throw .invalidArgument("Communicator.sendReceive: rank \(source) sent \(got) bytes, \(recv.count) were expected")
        }
    }

    func status(_ st: MPI_Status, _ type: MPI_Datatype) -> ReceiveStatus {
        var s = st
        var count: Int32 = 0
        _ = MPI_Get_count(&s, tsr_mpi_byte(), &count)
        return ReceiveStatus(source: Int(tsr_mpi_status_source(&s)), tag: Int(tsr_mpi_status_tag(&s)), bytes: Int(count))
    }

    // MARK: - nonblocking point-to-point

    /// Starts sending bytes (MPI_Isend). The bytes must stay valid and unchanged until the
    /// request completes.
    public func isend(bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int = 0) throws(TesseraError) -> Request {
        try checkPeer(destination, "Communicator.isend"); try checkTag(tag, "Communicator.isend")
        let n = try mpiCount(bytes.count, "Communicator.isend")
        var req: MPI_Request?
        try mpiCheck(MPI_Isend(bytes.baseAddress, n, tsr_mpi_byte(), Int32(destination), Int32(tag), comm, &req), "MPI_Isend")
        return Request(req, expectedBytes: nil, what: "isend to \(destination)")
    }

    /// Starts receiving exactly `buffer.count` bytes (MPI_Irecv). The buffer must stay valid
    /// until the request completes; `wait` fails if a different byte count arrived.
    public func irecv(bytes buffer: UnsafeMutableRawBufferPointer, from source: Int, tag: Int = 0) throws(TesseraError) -> Request {
        try checkPeer(source, "Communicator.irecv"); try checkTag(tag, "Communicator.irecv")
        let n = try mpiCount(buffer.count, "Communicator.irecv")
        var req: MPI_Request?
        try mpiCheck(MPI_Irecv(buffer.baseAddress, n, tsr_mpi_byte(), Int32(source), Int32(tag), comm, &req), "MPI_Irecv")
        return Request(req, expectedBytes: buffer.count, what: "irecv from \(source)")
    }

    /// Starts sending an array; the request keeps a copy alive until it completes.
    public func isend<E: MPIElement>(_ values: [E], to destination: Int, tag: Int = 0) throws(TesseraError) -> Request {
        let box = ByteBox(copying: values)
        let r = try isend(bytes: UnsafeRawBufferPointer(start: box.pointer, count: box.count), to: destination, tag: tag)
        r.keep = [box]
        return r
    }

    // MARK: - collectives

    func checkRoot(_ root: Int, _ what: String) throws(TesseraError) {
        guard root >= 0, root < size else { throw .invalidArgument("\(what): root \(root) is outside 0..<\(size)") }
    }

    /// MPI_Bcast: `root`'s values replace everyone's. Every rank passes an array of the same
    /// count (the count is checked against the root's: a mismatch is an error on every rank).
    public func broadcast<E: MPIElement>(_ values: inout [E], root: Int = 0) throws(TesseraError) {
        try checkRoot(root, "Communicator.broadcast")
        var n = Int64(values.count)
        try mpiCheck(MPI_Bcast(&n, 1, tsr_mpi_int64(), Int32(root), comm), "MPI_Bcast (count)")
        guard n == Int64(values.count) else {
            throw .invalidArgument("Communicator.broadcast: root \(root) sends \(n) elements, rank \(rank) expects \(values.count)")
        }
        let c = try mpiCount(values.count, "Communicator.broadcast")
        let rc = values.withUnsafeMutableBufferPointer { MPI_Bcast($0.baseAddress, c, mpiType(E.self), Int32(root), comm) }
        try mpiCheck(rc, "MPI_Bcast")
    }

    /// MPI_Bcast of raw bytes (every rank gives a buffer of the same size).
    public func broadcast(bytes: UnsafeMutableRawBufferPointer, root: Int = 0) throws(TesseraError) {
        try checkRoot(root, "Communicator.broadcast")
        let c = try mpiCount(bytes.count, "Communicator.broadcast")
        try mpiCheck(MPI_Bcast(bytes.baseAddress, c, tsr_mpi_byte(), Int32(root), comm), "MPI_Bcast")
    }

    /// Broadcasts an array whose length only the root knows.
    public func broadcast<E: MPIElement>(_ values: [E]?, root: Int = 0) throws(TesseraError) -> [E] {
        try checkRoot(root, "Communicator.broadcast")
        var n = Int64(values?.count ?? 0)
        try mpiCheck(MPI_Bcast(&n, 1, tsr_mpi_int64(), Int32(root), comm), "MPI_Bcast (count)")
        var out = rank == root ? (values ?? []) : [E](unsafeUninitializedCapacity: Int(n)) { _, c in c = Int(n) }
        let c = try mpiCount(out.count, "Communicator.broadcast")
        let rc = out.withUnsafeMutableBufferPointer { MPI_Bcast($0.baseAddress, c, mpiType(E.self), Int32(root), comm) }
        try mpiCheck(rc, "MPI_Bcast")
        return out
    }

    /// MPI_Allreduce: the element-wise reduction of every rank's array (same count on all ranks).
    /// The order of a floating-point sum is MPI's (fixed for a given rank count in OpenMPI's
    /// default algorithms, but not the single-process order); see `orderedSum` for bitwise
    /// single-process equality.
    public func allreduce<E: MPIElement>(_ values: [E], op: ReductionOp = .sum) throws(TesseraError) -> [E] {
        var out = values
        try allreduce(inPlace: &out, op: op)
        return out
    }

    /// In-place MPI_Allreduce.
    public func allreduce<E: MPIElement>(inPlace values: inout [E], op: ReductionOp = .sum) throws(TesseraError) {
        let c = try mpiCount(values.count, "Communicator.allreduce")
        let rc = values.withUnsafeMutableBufferPointer {
            MPI_Allreduce(tsr_mpi_in_place(), $0.baseAddress, c, mpiType(E.self), op.cValue, comm)
        }
        try mpiCheck(rc, "MPI_Allreduce")
    }

    /// Allreduce of one scalar.
    public func allreduce<E: MPIElement>(_ value: E, op: ReductionOp = .sum) throws(TesseraError) -> E {
        try allreduce([value], op: op)[0]
    }

    /// MPI_Allgather: every rank's `values` (all the same count), concatenated in rank order.
    public func allgather<E: MPIElement>(_ values: [E]) throws(TesseraError) -> [E] {
        let c = try mpiCount(values.count, "Communicator.allgather")
        let total = values.count * size
        var out = [E](unsafeUninitializedCapacity: total) { _, n in n = total }
        let rc = values.withUnsafeBufferPointer { sb in
            out.withUnsafeMutableBufferPointer { rb in
                MPI_Allgather(sb.baseAddress, c, mpiType(E.self), rb.baseAddress, c, mpiType(E.self), comm)
            }
        }
        try mpiCheck(rc, "MPI_Allgather")
        return out
    }

    /// MPI_Allgatherv: every rank's `values` (counts may differ), concatenated in rank order,
    /// with each rank's count.
    public func allgatherVariable<E: MPIElement>(_ values: [E]) throws(TesseraError) -> (values: [E], counts: [Int]) {
        let counts = try allgather([Int64(values.count)]).map(Int.init)
        var displs = [Int32](), cs = [Int32]()
        var off = 0
        for c in counts {
            displs.append(try mpiCount(off, "Communicator.allgatherVariable"))
            cs.append(try mpiCount(c, "Communicator.allgatherVariable"))
            off += c
        }
        let total = off
        _ = try mpiCount(total, "Communicator.allgatherVariable")
        var out = [E](unsafeUninitializedCapacity: total) { _, n in n = total }
        let mine = try mpiCount(values.count, "Communicator.allgatherVariable")
        let rc = values.withUnsafeBufferPointer { sb in
            out.withUnsafeMutableBufferPointer { rb in
                MPI_Allgatherv(sb.baseAddress, mine, mpiType(E.self), rb.baseAddress, cs, displs, mpiType(E.self), comm)
            }
        }
        try mpiCheck(rc, "MPI_Allgatherv")
        return (out, counts)
    }

    /// MPI_Reduce_scatter: reduces every rank's `values` (sum of `counts` elements, the same
    /// `counts` on all ranks) and gives rank r the `counts[r]` elements of its block.
    public func reduceScatter<E: MPIElement>(_ values: [E], counts: [Int], op: ReductionOp = .sum) throws(TesseraError) -> [E] {
        guard counts.count == size else {
            throw .invalidArgument("Communicator.reduceScatter: \(counts.count) counts for \(size) ranks")
        }
        guard counts.allSatisfy({ $0 >= 0 }), counts.reduce(0, +) == values.count else {
            throw .invalidArgument("Communicator.reduceScatter: counts \(counts) must be >= 0 and sum to the \(values.count) values given")
        }
        let cs = try counts.map { (c) throws(TesseraError) in try mpiCount(c, "Communicator.reduceScatter") }
        let mine = counts[rank]
        var out = [E](unsafeUninitializedCapacity: mine) { _, n in n = mine }
        let rc = values.withUnsafeBufferPointer { sb in
            out.withUnsafeMutableBufferPointer { rb in
                MPI_Reduce_scatter(sb.baseAddress, rb.baseAddress, cs, mpiType(E.self), op.cValue, comm)
            }
        }
        try mpiCheck(rc, "MPI_Reduce_scatter")
        return out
    }

    /// MPI_Gatherv to `root`: the root gets every rank's values in rank order, others get [].
    public func gather<E: MPIElement>(_ values: [E], root: Int = 0) throws(TesseraError) -> [E] {
        try checkRoot(root, "Communicator.gather")
        let (all, _) = try allgatherVariable(values)
        return rank == root ? all : []
    }

    /// The sum of every rank's `values` added in rank order (rank 0's first), the same bits as
    /// a single process adding the ranks' parts one after another: each rank gets all parts
    /// (MPI_Allgather) and adds them in a fixed order. Use for reductions that must equal a
    /// single-process run bitwise (costs size × count elements per rank).
    public func orderedSum(_ parts: [Double]) throws(TesseraError) -> [Double] {
        let all = try allgather(parts)
        var out = [Double](repeating: 0, count: parts.count)
        for r in 0..<size { for i in 0..<parts.count { out[i] += all[r * parts.count + i] } }
        return out
    }

    // MARK: - topologies

    /// A Cartesian communicator over these ranks (MPI_Cart_create). `dims` entries of 0 are
    /// filled by MPI_Dims_create. Errors: `.invalidArgument` if the product of `dims` is not
    /// the rank count (a rank count that does not fit the decomposition).
    public func cartesian(dims: [Int], periodic: [Bool], reorder: Bool = false) throws(TesseraError) -> CartesianCommunicator {
        guard !dims.isEmpty, dims.count == periodic.count else {
            throw .invalidArgument("Communicator.cartesian: \(dims.count) dims and \(periodic.count) periodic flags (need the same, >= 1)")
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw .invalidArgument("Communicator.cartesian: dims \(dims) must be >= 0") }
        var d = try dims.map { (v) throws(TesseraError) in try mpiCount(v, "Communicator.cartesian") }
        let fixed = dims.filter { $0 > 0 }.reduce(1, *)
        guard size % fixed == 0 else {
            throw .invalidArgument("Communicator.cartesian: \(size) ranks do not fit the decomposition \(dims) (product of fixed dims \(fixed))")
        }
        try mpiCheck(MPI_Dims_create(Int32(size), Int32(d.count), &d), "MPI_Dims_create")
        guard d.reduce(1, { $0 * Int($1) }) == size else {
            throw .invalidArgument("Communicator.cartesian: dims \(d) do not multiply to \(size) ranks")
        }
        var per = periodic.map { Int32($0 ? 1 : 0) }
        var out: MPI_Comm?
        try mpiCheck(MPI_Cart_create(comm, Int32(d.count), &d, &per, reorder ? 1 : 0, &out), "MPI_Cart_create")
        guard let out, out != tsr_mpi_comm_null() else { throw .internalError("MPI_Cart_create gave no communicator") }
        return try CartesianCommunicator(owning: out, dims: d.map(Int.init), periodic: periodic)
    }
}

/// A communicator whose ranks sit on a Cartesian grid (MPI_Cart_create).
public final class CartesianCommunicator: @unchecked Sendable {
    /// The communicator of the grid's ranks.
    public let communicator: Communicator
    /// Ranks per axis.
    public let dims: [Int]
    /// Whether each axis wraps around.
    public let periodic: [Bool]
    /// This rank's grid coordinates.
    public let coordinates: [Int]

    init(owning comm: MPI_Comm, dims: [Int], periodic: [Bool]) throws(TesseraError) {
        communicator = try Communicator(owning: comm, name: "cart\(dims)")
        self.dims = dims
        self.periodic = periodic
        var c = [Int32](repeating: 0, count: dims.count)
        try mpiCheck(MPI_Cart_coords(comm, Int32(communicator.rank), Int32(dims.count), &c), "MPI_Cart_coords")
        coordinates = c.map(Int.init)
    }

    /// This process's rank in `communicator`.
    public var rank: Int { communicator.rank }
    /// Number of ranks.
    public var size: Int { communicator.size }

    /// The ranks one step down and up along `axis` (MPI_Cart_shift); nil past a non-periodic edge.
    public func neighbours(axis: Int) throws(TesseraError) -> (low: Int?, high: Int?) {
        guard axis >= 0, axis < dims.count else { throw .invalidArgument("CartesianCommunicator: axis \(axis) outside 0..<\(dims.count)") }
        var lo: Int32 = 0, hi: Int32 = 0
        try mpiCheck(MPI_Cart_shift(communicator.comm, Int32(axis), 1, &lo, &hi), "MPI_Cart_shift")
        let null = tsr_mpi_proc_null()
        return (lo == null ? nil : Int(lo), hi == null ? nil : Int(hi))
    }

    /// The rank at grid coordinates `coords` (periodic axes wrap).
    public func rank(at coords: [Int]) throws(TesseraError) -> Int {
        var c = coords.map { Int32(truncatingIfNeeded: $0) }
        var r: Int32 = 0
        try mpiCheck(MPI_Cart_rank(communicator.comm, &c, &r), "MPI_Cart_rank")
        return Int(r)
    }
}

/// Bytes owned by a request until it completes.
final class ByteBox: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }
    convenience init<E>(copying values: [E]) {
        let n = values.count * MemoryLayout<E>.stride
        self.init(count: n)
        values.withUnsafeBytes { if n > 0 { pointer.copyMemory(from: $0.baseAddress!, byteCount: n) } }
    }
    var buffer: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: pointer, count: count) }
    deinit { pointer.deallocate() }
}

/// A nonblocking operation in flight (MPI_Request). Complete it with `wait` (or `Request.waitAll`),
/// or post it in a `RequestScope`. It holds the owners of the buffers it references (`keep`);
/// one dropped before completion is waited for in `deinit` for `RequestScope.cancelTimeout`
/// seconds, after which its buffers are kept for the rest of the process, never freed under MPI.
public final class Request: @unchecked Sendable {
    var request: MPI_Request?
    let expectedBytes: Int?
    let what: String
    /// What must outlive the transfer: the owners of the buffers it reads or writes.
    var keep: [AnyObject] = []
    /// Runs once after completion (unpacking a packed receive); may fail.
    var onComplete: (() throws(TesseraError) -> Void)?
    /// Whether the transfer has completed (after a successful `wait` or `test`).
    public private(set) var isComplete = false
    /// What a completed receive got; nil before completion and for sends.
    public private(set) var status: ReceiveStatus?

    init(_ r: MPI_Request?, expectedBytes: Int?, what: String) {
        request = r
        self.expectedBytes = expectedBytes
        self.what = what
    }

    deinit {
        // dropped before completion: wait a bounded time; a transfer still in flight then keeps
        // its buffers for the rest of the process (RequestScope's rule: memory MPI may still
        // touch is never freed)
        guard !isComplete, request != nil, request != tsr_mpi_request_null(), !MPI.isFinalized else { return }
        let end = MPI.wallTime() + RequestScope.cancelTimeout
        var flag: Int32 = 0
        while MPI_Test(&request, &flag, tsr_mpi_status_ignore()) == tsr_mpi_success(), flag == 0, MPI.wallTime() < end { sched_yield() }
        if flag == 0 { for owner in keep { abandonedRequests.keep(owner) } }
    }

    private func finish(_ st: MPI_Status) throws(TesseraError) {
        isComplete = true
        var s = st
        var count: Int32 = 0
        _ = MPI_Get_count(&s, tsr_mpi_byte(), &count)
        status = ReceiveStatus(source: Int(tsr_mpi_status_source(&s)), tag: Int(tsr_mpi_status_tag(&s)), bytes: Int(count))
        if let e = expectedBytes, Int(count) != e {
            throw .invalidArgument("Request(\(what)): \(count) bytes arrived, \(e) were expected (mismatched counts or datatypes between ranks)")
        }
        if let f = onComplete { onComplete = nil; try f() }
        keep = []
    }

    /// Completed by a cancel (or a completion that is not reported): nothing left to run.
    func markCompletedWithoutResult() { isComplete = true; onComplete = nil; keep = [] }

    /// Waits for completion (MPI_Wait). With a `timeout` (seconds) it polls MPI_Test and
    /// throws `.invalidState` when the time runs out (the request stays pending).
    public func wait(timeout: Double? = nil) throws(TesseraError) {
        if isComplete { return }
        var st = MPI_Status()
        if let timeout {
            let end = MPI.wallTime() + timeout
            var flag: Int32 = 0
            while flag == 0 {
                try mpiCheck(MPI_Test(&request, &flag, &st), "MPI_Test (\(what))")
                if flag == 0 {
                    guard MPI.wallTime() < end else { throw .invalidState("Request(\(what)): no completion after \(timeout) s") }
                    sched_yield()
                }
            }
        } else {
            try mpiCheck(MPI_Wait(&request, &st), "MPI_Wait (\(what))")
        }
        try finish(st)
    }

    /// True once complete (MPI_Test); runs the completion step then.
    public func test() throws(TesseraError) -> Bool {
        if isComplete { return true }
        var st = MPI_Status()
        var flag: Int32 = 0
        try mpiCheck(MPI_Test(&request, &flag, &st), "MPI_Test (\(what))")
        if flag != 0 { try finish(st) }
        return flag != 0
    }

    /// Waits for all (MPI_Waitall), then runs each completion step; the first error is thrown
    /// after all have completed.
    public static func waitAll(_ requests: [Request]) throws(TesseraError) {
        let pending = requests.filter { !$0.isComplete }
        if pending.isEmpty { return }
        var reqs = pending.map { $0.request }
        var sts = [MPI_Status](repeating: MPI_Status(), count: reqs.count)
        let rc = MPI_Waitall(Int32(reqs.count), &reqs, &sts)
        for (i, r) in pending.enumerated() { r.request = reqs[i] }
        if rc != tsr_mpi_success() {
            // per-request errors are in the statuses (MPI_ERR_IN_STATUS)
            for (i, r) in pending.enumerated() {
                let e = tsr_mpi_status_error(&sts[i])
                if e != tsr_mpi_success() { throw mpiError(e, "MPI_Waitall (\(r.what))") }
            }
            throw mpiError(rc, "MPI_Waitall")
        }
        var first: TesseraError?
        for (i, r) in pending.enumerated() {
            do { try r.finish(sts[i]) } catch { if first == nil { first = error } }
        }
        if let first { throw first }
    }
}
