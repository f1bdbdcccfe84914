// A 2-D/3-D grid split over the ranks of a Cartesian communicator, with one-cell halos
// exchanged between neighbouring ranks as subarray datatypes.
//
// The split is TesseraPDE's TiledGrid split (axis a of n points over t ranks: part i is
// i·n/t ..< (i+1)·n/t) and ranks are numbered row-major over their grid coordinates like
// TiledGrid's tiles, so a run on P ranks with dims D matches a single-process TiledGrid with
// `tiles: D` point for point (and, for CG, reduction for reduction).
//
//   rank (cy, cx) local array, halos h:       exchange along x with the neighbours:
//        h h h h h h                            send first interior column  -> low neighbour
//        h * * * * h                            send last interior column   -> high neighbour
//        h * * * * h                            receive into halo columns 0 and lx+1
//        h h h h h h                          (faces are Tessera subarray datatypes: packed by
//                                              Tessera and sent as bytes, or OpenMPI's own
//                                              MPI_Type_create_subarray: `HaloTransfer`)
//
// Internally every grid is 3-D [nz, ny, nx]; a 2-D grid has nz = 1 and no z halo.

import Foundation
internal import CMPI
import Tessera
import TesseraPDE

/// How halo faces travel between ranks.
public enum HaloTransfer: String, Sendable, CaseIterable {
    /// Tessera packs each face (subarray datatype) into a contiguous buffer, MPI sends bytes.
    case packed
    /// OpenMPI's derived type (MPI_Type_create_subarray), sent straight from the grid.
    case derived
}

/// One face exchange with one neighbour.
struct HaloFace {
    var peer: Int
    var sendTag: Int32, recvTag: Int32
    var send: Datatype, recv: Datatype
    var sendMPI: MPIDatatype?, recvMPI: MPIDatatype?
    var sendBox: ByteBox, recvBox: ByteBox
    /// Set when the face travels as its contiguous span (see `HaloSpan`).
    var span: HaloSpan?
}

/// A packed face that is nearly contiguous (the rows of one z-plane: the span from its first
/// to its last cell holds the face plus the x-ghost cells between rows, < 1/16 more bytes)
/// travels as that span, one message straight from the sender's array into the receiver's:
/// no pack, no unpack, and MPI can move it with a single copy. The receiver's own bytes in the
/// span's gaps (its x-ghost cells of the halo plane, which no stencil reads) are saved before
/// the receive is posted and put back when it completes, so the exchange writes exactly the
/// face cells, like the packed one.
struct HaloSpan {
    /// Byte offsets of the span in the local array, sent from / received into; its length.
    var sendOffset: Int, recvOffset: Int, bytes: Int
    /// The receiver's gap bytes (nil: none): their layout, its offset, where they wait.
    var gap: Datatype?, gapOffset: Int, gapBox: ByteBox

    /// The span of a face of `sub` cells starting at `send`/`recv` in a local array of `local`
    /// doubles, or nil when the face is not a run of rows of one plane with small gaps.
    static func of(local: [Int], sub: [Int], send: [Int], recv: [Int]) throws(TesseraError) -> HaloSpan? {
        guard DistributedGrid.spanTransfers, sub[0] == 1, sub[1] >= 1, sub[2] >= 1 else { return nil }
        let cells = sub[1] * sub[2], spanCells = (sub[1] - 1) * local[2] + sub[2]
        guard spanCells - cells <= cells / 16, spanCells * 8 <= Int(Int32.max) else { return nil }
        func at(_ c: [Int]) -> Int { ((c[0] * local[1] + c[1]) * local[2] + c[2]) * 8 }
        let gapRows = sub[1] - 1, gapCells = local[2] - sub[2]
        let gap = gapRows > 0 && gapCells > 0
            ? try Datatype.vector(count: gapRows, blockLength: gapCells, stride: local[2], of: .double).commit() : nil
        return HaloSpan(sendOffset: at(send), recvOffset: at(recv), bytes: spanCells * 8, gap: gap,
                        gapOffset: at(recv) + sub[2] * 8, gapBox: ByteBox(count: gap == nil ? 0 : gapRows * gapCells * 8))
    }
}

/// A grid decomposed over a Cartesian communicator.
public final class DistributedGrid: @unchecked Sendable {
    /// The global grid.
    public let grid: Grid
    /// The ranks' Cartesian layout.
    public let cartesian: CartesianCommunicator
    /// How halos move (Tessera datatypes or manual packing).
    public let transfer: HaloTransfer
    /// The pool of this rank's local work.
    public let pool: ThreadPool
    /// First owned point and owned points per grid axis (C order).
    public let origin: [Int]
    /// Owned points per grid axis.
    public let size: [Int]
    let dims: [Int], halo: [Int], bcs: [Boundary], h: [Double]
    let origin3: [Int], size3: [Int], local: [Int]
    let faces: [HaloFace]
    /// (axis, high) of the domain-boundary faces of this rank, in TiledGrid's order.
    let boundaryFaces: [(axis: Int, high: Bool, boundary: Boundary)]
    /// Per internal axis: whether the low / high side is exchanged with a rank.
    let remoteLow: [Bool], remoteHigh: [Bool]
    /// The vector `timeHaloExchange` exchanges (kept between its calls).
    private var timingVector: AlignedDoubles?

    /// Splits `grid` over the communicator's ranks. `dims` gives ranks per grid axis (0 = let
    /// MPI choose); periodic axes wrap. Collective. Errors: a rank count that does not fit
    /// `dims`, more ranks along an axis than points, a 1-D grid.
    public init(grid: Grid, communicator: Communicator, dims requested: [Int]? = nil, transfer: HaloTransfer = .packed,
                pool: ThreadPool = .shared) throws(TesseraError) {
        guard grid.dimensions >= 2 else { throw .invalidArgument("DistributedGrid: grids are 2-D or 3-D (got \(grid.shape))") }
        let d = grid.dimensions
        let want = requested ?? [Int](repeating: 0, count: d)
        try communicator.agree("DistributedGrid", [Agreed("grid", grid.description),
                                                   Agreed("dims", "\(want)"), Agreed("transfer", "\(transfer)"),
                                                   Agreed("halo chunk bytes", "\(Self.pipelineChunkBytes)"),
                                                   Agreed("halo spans", "\(Self.spanTransfers)")])
        guard want.count == d else { throw .invalidArgument("DistributedGrid: dims \(want) need \(d) entries") }
        cartesian = try communicator.cartesian(dims: want, periodic: grid.boundaries.map { $0 == .periodic })
        for a in 0..<d where cartesian.dims[a] > grid.shape[a] {
            throw .invalidArgument("DistributedGrid: \(cartesian.dims[a]) ranks along axis \(a) but only \(grid.shape[a]) points (decomposition \(cartesian.dims) of \(grid.shape))")
        }
        self.grid = grid
        self.transfer = transfer
        self.pool = pool
        let c = cartesian.coordinates, t = cartesian.dims
        origin = (0..<d).map { c[$0] * grid.shape[$0] / t[$0] }
        size = (0..<d).map { (c[$0] + 1) * grid.shape[$0] / t[$0] - c[$0] * grid.shape[$0] / t[$0] }
        let halo = d == 2 ? [0, 1, 1] : [1, 1, 1]
        self.halo = halo
        dims = d == 2 ? [1] + grid.shape : grid.shape
        bcs = d == 2 ? [.periodic] + grid.boundaries : grid.boundaries
        h = d == 2 ? [1] + (0..<2).map { grid.spacing($0) } : (0..<3).map { grid.spacing($0) }
        origin3 = d == 2 ? [0] + origin : origin
        let size3 = d == 2 ? [1] + size : size
        self.size3 = size3
        let local = (0..<3).map { size3[$0] + 2 * halo[$0] }
        self.local = local
        var faces: [HaloFace] = []
        var bfaces: [(Int, Bool, Boundary)] = []
        var rl = [false, false, false], rh = [false, false, false]
        // A span of several rows sends the x-ghost cells between the rows of its edge plane;
        // when x is exchanged too, those cells receive x-faces during the exchange, and MPI
        // forbids writing a send buffer in flight: then such faces are packed.
        var xExchanged = false
        if halo[2] == 1 {
            let (lo, hi) = try cartesian.neighbours(axis: d == 2 ? 1 : 2)
            xExchanged = lo != nil || hi != nil
        }
        for a in 0..<3 where halo[a] == 1 {
            let gridAxis = d == 2 ? a - 1 : a
            let (lo, hi) = try cartesian.neighbours(axis: gridAxis)
            for high in [false, true] {
                guard let peer = high ? hi : lo else {
                    bfaces.append((a, high, bcs[a]))
                    continue
                }
                if high { rh[a] = true } else { rl[a] = true }
                var sub = size3, ss = halo, rs = halo
                sub[a] = 1
                ss[a] = high ? size3[a] + halo[a] - 1 : halo[a]      // my edge layer
                rs[a] = high ? size3[a] + halo[a] : 0                // my halo layer
                let send = try Datatype.subarray(sizes: local, subsizes: sub, starts: ss).commit()
                let recv = try Datatype.subarray(sizes: local, subsizes: sub, starts: rs).commit()
                let bytes = sub.reduce(1, *) * 8
                let span = transfer == .packed && !(xExchanged && sub[1] > 1) ? try HaloSpan.of(local: local, sub: sub, send: ss, recv: rs) : nil
                // a message to the high side carries tag 2a, to the low side 2a+1
                faces.append(HaloFace(peer: peer, sendTag: Int32(2 * a + (high ? 0 : 1)), recvTag: Int32(2 * a + (high ? 1 : 0)),
                                      send: send, recv: recv,
                                      sendMPI: transfer == .derived ? try MPIDatatype.subarray(sizes: local, subsizes: sub, starts: ss) : nil,
                                      recvMPI: transfer == .derived ? try MPIDatatype.subarray(sizes: local, subsizes: sub, starts: rs) : nil,
                                      sendBox: ByteBox(count: span == nil ? bytes : 0), recvBox: ByteBox(count: span == nil ? bytes : 0),
                                      span: span))
            }
        }
        self.faces = faces
        boundaryFaces = bfaces.map { (axis: $0.0, high: $0.1, boundary: $0.2) }
        remoteLow = rl; remoteHigh = rh
    }

    /// The communicator of the grid's ranks.
    public var communicator: Communicator { cartesian.communicator }
    /// Stored points of the local array (halos included).
    public var localCount: Int { local.reduce(1, *) }
    /// Bytes of face cells sent per halo exchange by this rank.
    public var haloBytesPerExchange: Int { faces.reduce(0) { $0 + $1.send.size } }
    /// Faces of this rank that travel as their contiguous span (`HaloSpan`), of `faces.count`.
    public var spanFaceCount: Int { faces.filter { $0.span != nil }.count }
    /// Faces this rank exchanges with other ranks (or itself, periodic) per halo exchange.
    public var haloFaceCount: Int { faces.count }

    @inline(__always) func index(_ z: Int, _ y: Int, _ x: Int) -> Int { (z * local[1] + y) * local[2] + x }

    /// A zeroed local array (halos included).
    func makeVector() throws(TesseraError) -> AlignedDoubles { try AlignedDoubles(count: localCount) }

    /// Copies this rank's part of a global field into the interior of `v`.
    func scatter(_ f: Field<Double>, into v: AlignedDoubles) throws(TesseraError) {
        guard f.grid.shape == grid.shape else {
            throw .invalidArgument("DistributedGrid: field shape \(f.grid.shape) != grid \(grid.shape)")
        }
        f.withUnsafeBufferPointer { g in
            for z in 0..<size3[0] { for y in 0..<size3[1] {
                let src = g.baseAddress! + ((origin3[0] + z) * dims[1] + origin3[1] + y) * dims[2] + origin3[2]
                (v.pointer + index(z + halo[0], y + 1, 1)).update(from: src, count: size3[2])
            } }
        }
    }

    /// The interior of `v`, row-major.
    func interior(_ v: AlignedDoubles) -> [Double] {
        var out = [Double]()
        out.reserveCapacity(size3.reduce(1, *))
        for z in 0..<size3[0] { for y in 0..<size3[1] {
            out.append(contentsOf: UnsafeBufferPointer(start: v.pointer + index(z + halo[0], y + 1, 1), count: size3[2]))
        } }
        return out
    }

    /// The global field from every rank's interior (on every rank; collective).
    func gather(_ v: AlignedDoubles) throws(TesseraError) -> Field<Double> {
        let mine = interior(v)
        let boxes = try communicator.allgather(origin3.map(Int64.init) + size3.map(Int64.init))
        let (all, counts) = try communicator.allgatherVariable(mine)
        var f = try Field<Double>(grid: grid)
        f.withUnsafeMutableBufferPointer { g in
            var off = 0
            for r in 0..<communicator.size {
                let o = (0..<3).map { Int(boxes[6 * r + $0]) }, s = (0..<3).map { Int(boxes[6 * r + 3 + $0]) }
                var k = off
                for z in 0..<s[0] { for y in 0..<s[1] {
                    let dst = ((o[0] + z) * dims[1] + o[1] + y) * dims[2] + o[2]
                    for x in 0..<s[2] { g[dst + x] = all[k]; k += 1 }
                } }
                off += counts[r]
            }
        }
        return f
    }

    // MARK: halo exchange

    /// Bytes per message of a pipelined packed face: a face travels as consecutive chunks of
    /// its packed stream, so packing chunk i+1 overlaps the transfer of chunk i (and the peer
    /// unpacks chunk i while chunk i+1 travels). Both sides derive the same chunking from the
    /// face size, and MPI's non-overtaking rule matches chunk i to the i-th posted receive.
    /// TESSERA_HALO_CHUNK_BYTES overrides it (0: one message per face, the unpipelined
    /// exchange); the ranks check at construction that they agree on it.
    static let pipelineChunkBytes: Int = {
        if let v = ProcessInfo.processInfo.environment["TESSERA_HALO_CHUNK_BYTES"], let n = Int(v), n >= 0 {
            return n == 0 ? Int.max : max(n, 4096)
        }
        return 64 << 10
    }()

    /// Whether nearly contiguous packed faces travel as their span (`HaloSpan`); the
    /// environment variable TESSERA_HALO_SPAN=0 turns it off (every packed face is then packed
    /// and pipelined); the ranks check at construction that they agree on it.
    static let spanTransfers: Bool = ProcessInfo.processInfo.environment["TESSERA_HALO_SPAN"] != "0"

    /// The chunk ranges of a packed face of `bytes` bytes.
    static func chunks(_ bytes: Int) -> [Range<Int>] {
        let c = pipelineChunkBytes
        if bytes <= c { return [0..<bytes] }
        return stride(from: 0, to: bytes, by: c).map { $0..<min($0 + c, bytes) }
    }

    /// Starts the exchange of `v`'s faces with the neighbouring ranks (packs now with
    /// `.packed`, chunk by chunk, each chunk sent as soon as it is packed; span faces are sent
    /// straight from `v`). Fill the boundary ghosts first (`fillBoundaries`): until
    /// `finishExchange`, `v` must not be written (a span's send reads its edge layer with the
    /// x-ghost cells between the rows), and the halos must not be read.
    func startExchange(_ v: AlignedDoubles) throws(TesseraError) -> [Request] {
        let comm = communicator.comm
        let raw = UnsafeMutableRawBufferPointer(start: v.pointer, count: v.count * 8)
        // every request keeps the vector and this grid (which owns the face buffers) alive; a
        // throw after some are posted cancels those (see RequestScope)
        let scope = RequestScope(keeping: [v, self])
        var receives: [Request] = []
        do {
            for f in faces {
                if let mt = f.recvMPI {
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Irecv(raw.baseAddress, 1, mt.type, Int32(f.peer), f.recvTag, comm, &rq), "MPI_Irecv (halo)")
                    scope.add(Request(rq, expectedBytes: nil, what: "halo from \(f.peer)"), keeping: mt)
                    continue
                }
                if let sp = f.span {
                    if let gap = sp.gap {
                        var p = 0
                        try gap.pack(UnsafeRawBufferPointer(rebasing: raw[sp.gapOffset...]), into: sp.gapBox.buffer, position: &p)
                    }
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Irecv(raw.baseAddress! + sp.recvOffset, Int32(sp.bytes), tsr_mpi_byte(), Int32(f.peer),
                                           f.recvTag, comm, &rq), "MPI_Irecv (halo)")
                    let r = Request(rq, expectedBytes: sp.bytes, what: "halo span from \(f.peer)")
                    r.onComplete = { () throws(TesseraError) in
                        guard let gap = sp.gap else { return }
                        var p = 0
                        try gap.unpack(UnsafeRawBufferPointer(sp.gapBox.buffer), position: &p,
                                       into: UnsafeMutableRawBufferPointer(rebasing: raw[sp.gapOffset...]))
                    }
                    receives.append(scope.add(r))
                    continue
                }
                for (i, range) in Self.chunks(f.recvBox.count).enumerated() {
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Irecv(f.recvBox.pointer + range.lowerBound, Int32(range.count), tsr_mpi_byte(), Int32(f.peer),
                                           f.recvTag, comm, &rq), "MPI_Irecv (halo)")
                    let r = Request(rq, expectedBytes: range.count, what: "halo chunk \(i) from \(f.peer)")
                    let face = f
                    r.onComplete = { () throws(TesseraError) in
                        try face.recv.unpack(UnsafeRawBufferPointer(rebasing: face.recvBox.buffer[range]), byteRange: range,
                                             into: raw, pool: nil)
                    }
                    receives.append(scope.add(r))
                }
            }
            var next = 0  // the first receive not yet seen complete (chunks arrive in order per face)
            for f in faces {
                if let mt = f.sendMPI {
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Isend(raw.baseAddress, 1, mt.type, Int32(f.peer), f.sendTag, comm, &rq), "MPI_Isend (halo)")
                    scope.add(Request(rq, expectedBytes: nil, what: "halo to \(f.peer)"), keeping: mt)
                    continue
                }
                if let sp = f.span {
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Isend(raw.baseAddress! + sp.sendOffset, Int32(sp.bytes), tsr_mpi_byte(), Int32(f.peer),
                                           f.sendTag, comm, &rq), "MPI_Isend (halo)")
                    scope.add(Request(rq, expectedBytes: nil, what: "halo span to \(f.peer)"))
                    continue
                }
                for (i, range) in Self.chunks(f.sendBox.count).enumerated() {
                    try f.send.pack(UnsafeRawBufferPointer(raw), byteRange: range,
                                    into: UnsafeMutableRawBufferPointer(rebasing: f.sendBox.buffer[range]), pool: nil)
                    var rq: MPI_Request?
                    try mpiCheck(MPI_Isend(f.sendBox.pointer + range.lowerBound, Int32(range.count), tsr_mpi_byte(), Int32(f.peer),
                                           f.sendTag, comm, &rq), "MPI_Isend (halo)")
                    scope.add(Request(rq, expectedBytes: nil, what: "halo chunk \(i) to \(f.peer)"))
                    // drive MPI's progress and unpack what has arrived while this side packs
                    while next < receives.count, try receives[next].test() { next += 1 }
                }
            }
        } catch {
            scope.cancelOutstanding()
            throw error
        }
        return scope.release()
    }

    /// Waits for the exchange, unpacking each packed chunk as it arrives (in posting order,
    /// which is arrival order per face), then the sends.
    func finishExchange(_ reqs: [Request]) throws(TesseraError) {
        var first: TesseraError?
        for r in reqs where r.onComplete != nil && !r.isComplete {
            do { try r.wait() } catch { if first == nil { first = error } }
        }
        do { try Request.waitAll(reqs) } catch { if first == nil { first = error } }
        if let first { throw first }
    }

    /// Fills the domain-boundary ghosts of `v` (Dirichlet value or 0, Neumann mirror), as TiledGrid.
    func fillBoundaries(_ v: AlignedDoubles, dirichletValues: Bool) {
        let p = v.pointer
        for bf in boundaryFaces {
            let a = bf.axis
            let ghost = bf.high ? size3[a] + halo[a] : 0
            let inner = bf.high ? size3[a] + halo[a] - 1 : halo[a]
            var lo = halo, hi = (0..<3).map { halo[$0] + size3[$0] }
            lo[a] = ghost; hi[a] = ghost + 1
            for z in lo[0]..<hi[0] { for y in lo[1]..<hi[1] { for x in lo[2]..<hi[2] {
                switch bf.boundary {
                case .dirichlet(let value): p[index(z, y, x)] = dirichletValues ? value : 0
                case .neumann:
                    var c = [z, y, x]; c[a] = inner
                    p[index(z, y, x)] = p[index(c[0], c[1], c[2])]
                case .periodic: break
                }
            } } }
        }
    }

    /// Exchanges and fills every halo of `v` (blocking).
    func exchangeHalos(_ v: AlignedDoubles, dirichletValues: Bool) throws(TesseraError) {
        fillBoundaries(v, dirichletValues: dirichletValues)
        let reqs = try startExchange(v)
        try finishExchange(reqs)
    }

    /// The shape [nz, ny, nx] of this rank's local arrays in C order, with one halo cell on
    /// each side of every axis (a 2-D grid has nz = 1 and no z halo).
    public var localShape: [Int] { local }

    /// Exchanges the halos of `values`, a local array of `localShape`: every face shared with
    /// a rank is received from it into the halo layer, and no other element changes (the
    /// domain-boundary ghosts are the caller's). Collective over the grid's ranks. Errors: a
    /// count other than `localCount`, MPI errors.
    public func exchangeHalos(_ values: inout [Double]) throws(TesseraError) {
        guard values.count == localCount else {
            throw .invalidArgument("DistributedGrid.exchangeHalos: \(values.count) values, the local array holds \(localCount)")
        }
        let v = try makeVector()
        values.withUnsafeBufferPointer { v.pointer.update(from: $0.baseAddress!, count: $0.count) }
        try finishExchange(try startExchange(v))
        values.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: v.pointer, count: $0.count) }
    }

    /// Measures `repeats` halo exchanges (start to finish, blocking, no compute) of a resident
    /// vector: seconds each. The vector is allocated, filled, its domain-boundary ghosts set and
    /// one exchange made, untimed, at the first call; later calls exchange it again, as a solver
    /// keeps its fields. (A fresh vector's pages are mapped at their first touch; timing that
    /// measured the page faults of the halo planes, about 1-2 ms at 256³, not the exchange.)
    public func timeHaloExchange(repeats: Int) throws(TesseraError) -> [Double] {
        let v: AlignedDoubles
        if let kept = timingVector { v = kept } else {
            v = try makeVector()
            v.pointer.update(repeating: 1, count: v.count)
            try exchangeHalos(v, dirichletValues: false)
            timingVector = v
        }
        var out: [Double] = []
        for _ in 0..<max(1, repeats) {
            try communicator.barrier()
            let t0 = MPI.wallTime()
            try finishExchange(try startExchange(v))
            out.append(MPI.wallTime() - t0)
        }
        return out
    }

    // MARK: regions

    /// Interior boxes [lo, hi) per internal axis: the inner box (needs no remote halo) and
    /// the shell around it (needs them), as disjoint boxes.
    func regions() -> (inner: [[Int]], shell: [[[Int]]]) {
        var lo = halo, hi = (0..<3).map { halo[$0] + size3[$0] }
        var shell: [[[Int]]] = []
        for a in 0..<3 {
            if remoteLow[a] && lo[a] < hi[a] {
                let bl = lo
                var bh = hi
                bh[a] = lo[a] + 1
                shell.append([bl, bh])
                lo[a] += 1
            }
            if remoteHigh[a] && lo[a] < hi[a] {
                var bl = lo
                let bh = hi
                bl[a] = hi[a] - 1
                shell.append([bl, bh])
                hi[a] -= 1
            }
        }
        return ([lo, hi], shell)
    }
}
