// Moving buffers described by Tessera `Datatype`s: either packed by Tessera's kernels and
// sent as bytes, or described to MPI as a committed derived datatype (MPI packs, or sends
// straight from the strided memory). `tessera bench distributed` measures both.

import Foundation
internal import CMPI
import Tessera

/// How a datatype-described buffer travels.
public enum TransferMethod: String, Sendable, CaseIterable {
    /// Tessera packs (`Datatype.pack`, vectorised and threaded) into a contiguous buffer,
    /// MPI sends bytes, the receiver unpacks with Tessera.
    case packed
    /// The datatype is translated into a committed MPI derived datatype and MPI moves the
    /// strided memory itself. Types whose canonical form is not a strided block (indexed
    /// lists, structs) fall back to `.packed`; the message is the same bytes either way, so
    /// the two methods interoperate.
    case derived
}

/// A committed MPI derived datatype (freed with the object).
public final class MPIDatatype: @unchecked Sendable {
    let type: MPI_Datatype
    /// Bytes of data in one element.
    public let size: Int

    private init(_ t: MPI_Datatype) throws(TesseraError) {
        var tt: MPI_Datatype? = t
        try mpiCheck(MPI_Type_commit(&tt), "MPI_Type_commit")
        type = tt!
        var s: Int32 = 0
        _ = MPI_Type_size(type, &s)
        size = Int(s)
    }

    deinit {
        if !MPI.isFinalized { var t: MPI_Datatype? = type; _ = MPI_Type_free(&t) }
    }

    /// MPI_Type_create_subarray of doubles (row-major): OpenMPI's own description of a halo face.
    public static func subarray(sizes: [Int], subsizes: [Int], starts: [Int], elementBytes: Int = 8) throws(TesseraError) -> MPIDatatype {
        guard sizes.count == subsizes.count, sizes.count == starts.count, !sizes.isEmpty else {
            throw .invalidArgument("MPIDatatype.subarray: sizes, subsizes, starts have \(sizes.count), \(subsizes.count), \(starts.count) entries")
        }
        let elem: MPI_Datatype
        switch elementBytes {
        case 8: elem = tsr_mpi_double()
        case 4: elem = tsr_mpi_float()
        case 1: elem = tsr_mpi_byte()
        default: throw .invalidArgument("MPIDatatype.subarray: element of \(elementBytes) bytes (1, 4 or 8)")
        }
        var s = try sizes.map { (v) throws(TesseraError) in try mpiCount(v, "MPIDatatype.subarray") }
        var u = try subsizes.map { (v) throws(TesseraError) in try mpiCount(v, "MPIDatatype.subarray") }
        var o = try starts.map { (v) throws(TesseraError) in try mpiCount(v, "MPIDatatype.subarray") }
        var t: MPI_Datatype?
        try mpiCheck(MPI_Type_create_subarray(Int32(s.count), &s, &u, &o, tsr_mpi_order_c(), elem, &t), "MPI_Type_create_subarray")
        return try MPIDatatype(t!)
    }

    /// The MPI derived type with the same type map as `datatype` (committed first), built
    /// from its canonical strided form: a byte block, hvectors from the innermost stream out,
    /// the start offset, then the lower bound and extent. nil if the canonical form is not
    /// strided (segment lists, general trees) — send those with `.packed`.
    public static func from(_ datatype: Datatype) throws(TesseraError) -> MPIDatatype? {
        let l = try datatype.layout()
        var t: MPI_Datatype?
        switch l.kind {
        case .empty:
            try mpiCheck(MPI_Type_contiguous(0, tsr_mpi_byte(), &t), "MPI_Type_contiguous")
        case .strided:
            guard l.counts.count == l.strides.count, l.counts.count < 16 else { return nil }
            var cur: MPI_Datatype?
            try mpiCheck(MPI_Type_contiguous(try mpiCount(l.blockBytes, "MPIDatatype"), tsr_mpi_byte(), &cur), "MPI_Type_contiguous")
            var temps: [MPI_Datatype?] = [cur]
            defer { for var x in temps { _ = MPI_Type_free(&x) } }
            for (c, s) in zip(l.counts, l.strides).reversed() {
                var next: MPI_Datatype?
                try mpiCheck(MPI_Type_create_hvector(try mpiCount(c, "MPIDatatype"), 1, MPI_Aint(s), cur, &next), "MPI_Type_create_hvector")
                temps.append(next)
                cur = next
            }
            // place at `start`, then give it the Tessera type's bounds
            var bl: Int32 = 1
            var disp = MPI_Aint(l.start)
            var placed: MPI_Datatype?
            try mpiCheck(MPI_Type_create_hindexed(1, &bl, &disp, cur, &placed), "MPI_Type_create_hindexed")
            temps.append(placed)
            try mpiCheck(MPI_Type_create_resized(placed, MPI_Aint(datatype.lowerBound), MPI_Aint(datatype.extent), &t),
                         "MPI_Type_create_resized")
        default:
            return nil
        }
        return try MPIDatatype(t!)
    }
}

extension Communicator {
    /// Sends `count` elements of `datatype` laid over `source` (element 0 at its start).
    /// `.packed` packs with Tessera and sends bytes; `.derived` sends with the equivalent
    /// MPI derived type (or packs if there is none). Errors: the buffer is too small for the
    /// type (`.outOfRange`), MPI errors.
    public func send(_ source: UnsafeRawBufferPointer, count: Int = 1, datatype: Datatype, to destination: Int,
                     tag: Int = 0, method: TransferMethod = .packed, pool: ThreadPool? = nil) throws(TesseraError) {
        try checkPeer(destination, "Communicator.send"); try checkTag(tag, "Communicator.send")
        if method == .derived, let mt = try MPIDatatype.from(datatype) {
            try checkSpan(datatype, bytes: source.count, count: count, "send")
            let c = try mpiCount(count, "Communicator.send")
            try mpiCheck(MPI_Send(source.baseAddress, c, mt.type, Int32(destination), Int32(tag), comm), "MPI_Send (derived type)")
            return
        }
        let box = ByteBox(count: try datatype.packedSize(count: count))
        var pos = 0
        try datatype.pack(source, count: count, into: box.buffer, position: &pos, pool: pool)
        try send(bytes: UnsafeRawBufferPointer(box.buffer), to: destination, tag: tag)
    }

    /// Receives `count` elements of `datatype` into `destination`. The packed byte count must
    /// match exactly (mismatched counts or datatypes between ranks are errors).
    public func receive(into destination: UnsafeMutableRawBufferPointer, count: Int = 1, datatype: Datatype, from source: Int,
                        tag: Int = 0, method: TransferMethod = .packed, pool: ThreadPool? = nil) throws(TesseraError) {
        try checkPeer(source, "Communicator.receive"); try checkTag(tag, "Communicator.receive")
        let need = try datatype.packedSize(count: count)
        if method == .derived, let mt = try MPIDatatype.from(datatype) {
            try checkSpan(datatype, bytes: destination.count, count: count, "receive")
            let c = try mpiCount(count, "Communicator.receive")
            var st = MPI_Status()
            try mpiCheck(MPI_Recv(destination.baseAddress, c, mt.type, Int32(source), Int32(tag), comm, &st), "MPI_Recv (derived type)")
            let got = status(st, tsr_mpi_byte()).bytes
            guard got == need else {
                throw .invalidArgument("Communicator.receive: rank \(source) sent \(got) bytes, the datatype holds \(need) (mismatched counts or datatypes)")
            }
            return
        }
        let box = ByteBox(count: need)
        let st = try receive(bytes: box.buffer, from: source, tag: tag)
        guard st.bytes == need else {
            throw .invalidArgument("Communicator.receive: rank \(source) sent \(st.bytes) bytes, the datatype holds \(need) (mismatched counts or datatypes)")
        }
        var pos = 0
        try datatype.unpack(UnsafeRawBufferPointer(box.buffer), position: &pos, into: destination, count: count, pool: pool)
    }

    /// Nonblocking datatype send: packs now (with `.packed`), sends in the background. The
    /// source must stay unchanged until completion only with `.derived`.
    public func isend(_ source: UnsafeRawBufferPointer, count: Int = 1, datatype: Datatype, to destination: Int,
                      tag: Int = 0, method: TransferMethod = .packed, pool: ThreadPool? = nil) throws(TesseraError) -> Request {
        try checkPeer(destination, "Communicator.isend"); try checkTag(tag, "Communicator.isend")
        if method == .derived, let mt = try MPIDatatype.from(datatype) {
            try checkSpan(datatype, bytes: source.count, count: count, "isend")
            var req: MPI_Request?
            try mpiCheck(MPI_Isend(source.baseAddress, try mpiCount(count, "isend"), mt.type, Int32(destination), Int32(tag), comm, &req),
                         "MPI_Isend (derived type)")
            let r = Request(req, expectedBytes: nil, what: "isend to \(destination)")
            r.keep = [mt]
            return r
        }
        let box = ByteBox(count: try datatype.packedSize(count: count))
        var pos = 0
        try datatype.pack(source, count: count, into: box.buffer, position: &pos, pool: pool)
        let r = try isend(bytes: UnsafeRawBufferPointer(box.buffer), to: destination, tag: tag)
        r.keep = [box]
        return r
    }

    /// Nonblocking datatype receive; `wait` unpacks (with `.packed`). The destination must
    /// stay valid until the request completes.
    public func irecv(into destination: UnsafeMutableRawBufferPointer, count: Int = 1, datatype: Datatype, from source: Int,
                      tag: Int = 0, method: TransferMethod = .packed, pool: ThreadPool? = nil) throws(TesseraError) -> Request {
        try checkPeer(source, "Communicator.irecv"); try checkTag(tag, "Communicator.irecv")
        let need = try datatype.packedSize(count: count)
        if method == .derived, let mt = try MPIDatatype.from(datatype) {
            try checkSpan(datatype, bytes: destination.count, count: count, "irecv")
            var req: MPI_Request?
            try mpiCheck(MPI_Irecv(destination.baseAddress, try mpiCount(count, "irecv"), mt.type, Int32(source), Int32(tag), comm, &req),
                         "MPI_Irecv (derived type)")
            let r = Request(req, expectedBytes: need, what: "irecv from \(source)")
            r.keep = [mt]
            return r
        }
        let box = ByteBox(count: need)
        let r = try irecv(bytes: box.buffer, from: source, tag: tag)
        r.keep = [box]
        r.onComplete = { () throws(TesseraError) in
            var pos = 0
            try datatype.unpack(UnsafeRawBufferPointer(box.buffer), position: &pos, into: destination, count: count, pool: pool)
        }
        return r
    }

    /// Checks that `count` elements of `t` stay inside `bytes` (MPI itself would not).
    func checkSpan(_ t: Datatype, bytes: Int, count: Int, _ what: String) throws(TesseraError) {
        guard count >= 0 else { throw .invalidArgument("Communicator.\(what): count \(count) < 0") }
        if count == 0 || t.size == 0 { return }
        let span = (count - 1) * t.extent
        let lo = t.trueLowerBound + min(0, span), hi = t.trueLowerBound + t.trueExtent + max(0, span)
        guard lo >= 0, hi <= bytes else {
            throw .outOfRange("Communicator.\(what): \(count) element(s) of the datatype touch bytes \(lo)..<\(hi), outside the \(bytes)-byte buffer")
        }
    }
}
