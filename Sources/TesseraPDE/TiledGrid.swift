// Domain decomposition of a 2-D or 3-D grid into tiles with one-cell halos, and the halo
// exchange between them.
//
// Internally every grid is 3-D, [nz, ny, nx] (a 2-D grid has nz = 1 and no z halo). Each tile
// owns a box of interior points and stores it with a halo layer on every face:
//
//        x →                              tile local array (2-D): (ly+2) × (lx+2)
//   y  +-------+-------+                    h h h h h h
//   ↓  | t0    | t1    |                    h * * * * h     * interior (owned)
//      +-------+-------+                    h * * * * h     h halo: a copy of the neighbour's
//      | t2    | t3    |                    h h h h h h       edge layer, or the boundary ghost
//      +-------+-------+
//
// A face is described as a subarray: in the sending tile, its last (or first) interior layer
// along the axis; in the receiving tile, its halo layer. These are exactly Tessera subarray
// datatypes (`Datatype.subarray`, over include/tessera/datatype.h), committed once; an exchange packs the sender's face
// and unpacks it into the receiver's halo — the same description TesseraDistributed sends over
// MPI between machines. `HaloMethod.loop` copies the same faces with plain loops (the
// reference the datatype path is tested against).
//
// Domain-boundary faces get ghosts from the boundary condition: periodic wraps to the tile on
// the other side, Dirichlet puts the boundary value (or 0 for the homogeneous operator),
// Neumann mirrors the first interior layer.

import Foundation

/// How halo faces are copied between tiles.
public enum HaloMethod: String, Sendable, CaseIterable {
    /// Tessera subarray datatypes: pack the sender's face, unpack into the receiver's halo.
    case datatype
    /// Direct strided loops (reference).
    case loop
}

/// A subarray of a tile's local array: the C-order triple MPI_Type_create_subarray takes.
struct SubarrayFace: Equatable {
    var sizes: [Int]     // local array dims [LZ, LY, LX]
    var subsizes: [Int]
    var starts: [Int]
    var count: Int { subsizes.reduce(1, *) }
}

/// One tile of the decomposition.
struct Tile {
    var origin: [Int]    // first interior point in global coordinates [z, y, x]
    var size: [Int]      // interior points [lz, ly, lx]
    var local: [Int]     // stored dims with halos [LZ, LY, LX]
    var count: Int { local.reduce(1, *) }
    @inline(__always) func index(_ z: Int, _ y: Int, _ x: Int) -> Int { (z * local[1] + y) * local[2] + x }
}

/// A face as a committed Tessera subarray datatype (the `Datatype` façade of the Tessera
/// module, over include/tessera/datatype.h).
final class FaceDatatype: @unchecked Sendable {
    let type: Datatype
    init(_ f: SubarrayFace) throws(TesseraError) {
        type = try Datatype.subarray(sizes: f.sizes, subsizes: f.subsizes, starts: f.starts, of: .double).commit()
    }
}

/// A face transfer: copy `send` of tile `from` into `recv` of tile `to`.
struct FaceLink {
    var to: Int, from: Int
    var send: SubarrayFace, recv: SubarrayFace
    var sendType: FaceDatatype?, recvType: FaceDatatype?
}

/// A boundary face of a tile: its halo layer gets a ghost from the boundary condition.
struct BoundaryFace {
    var tile: Int
    var axis: Int        // 0 z, 1 y, 2 x
    var high: Bool
    var boundary: Boundary
}

/// The decomposition of a grid into tiles over a thread pool.
public final class TiledGrid: @unchecked Sendable {
    /// The whole grid.
    public let grid: Grid
    /// Tiles per axis, C order of the grid (2 or 3 entries).
    public let tileCounts: [Int]
    /// How halos are exchanged between tiles.
    public let haloMethod: HaloMethod
    /// The pool the tiles run on.
    public let pool: ThreadPool
    let dims: [Int]          // [nz, ny, nx]
    let halo: [Int]          // [hz, 1, 1]
    let bcs: [Boundary]      // per internal axis
    let h: [Double]          // spacing per internal axis
    let tiles: [Tile]
    let links: [[FaceLink]]  // incoming faces per tile
    let boundaryFaces: [[BoundaryFace]]
    let buffers: [AlignedDoubles]  // per tile, pack space for its largest incoming face

    /// Splits a 2-D/3-D grid into tiles. `tiles` gives the tile count per axis (C order);
    /// nil chooses about one tile per pool worker, cut along the slowest axes first.
    /// Errors: `.invalidArgument` for a 1-D grid, tile counts that do not match the axes or
    /// exceed the points per axis.
    public init(grid: Grid, tiles: [Int]? = nil, halo method: HaloMethod = .datatype,
                pool: ThreadPool = .shared) throws(TesseraError) {
        guard grid.dimensions >= 2 else { throw .invalidArgument("TiledGrid: finite-difference grids are 2-D or 3-D (got \(grid.shape))") }
        self.grid = grid
        self.haloMethod = method
        self.pool = pool
        let d = grid.dimensions
        let counts = tiles ?? TiledGrid.defaultTiles(grid.shape, pool.threadCount)
        guard counts.count == d, zip(counts, grid.shape).allSatisfy({ $0 >= 1 && $0 <= $1 }) else {
            throw .invalidArgument("TiledGrid: tile counts \(counts) must have \(d) entries in 1...points per axis \(grid.shape)")
        }
        tileCounts = counts
        let halo = d == 2 ? [0, 1, 1] : [1, 1, 1]
        let bcs: [Boundary] = d == 2 ? [.periodic] + grid.boundaries : grid.boundaries
        dims = d == 2 ? [1] + grid.shape : grid.shape
        self.halo = halo
        self.bcs = bcs
        h = d == 2 ? [1] + (0..<2).map { grid.spacing($0) } : (0..<3).map { grid.spacing($0) }
        let tc = d == 2 ? [1] + counts : counts
        // split each axis into near-equal parts
        func parts(_ n: Int, _ t: Int) -> [(Int, Int)] { (0..<t).map { i in (i * n / t, (i + 1) * n / t - i * n / t) } }
        let pz = parts(dims[0], tc[0]), py = parts(dims[1], tc[1]), px = parts(dims[2], tc[2])
        var ts: [Tile] = []
        for a in pz { for b in py { for c in px {
            let size = [a.1, b.1, c.1]
            ts.append(Tile(origin: [a.0, b.0, c.0], size: size, local: (0..<3).map { size[$0] + 2 * halo[$0] }))
        } } }
        self.tiles = ts
        func tileAt(_ p: [Int]) -> Int { (p[0] * tc[1] + p[1]) * tc[2] + p[2] }
        var links: [[FaceLink]] = Array(repeating: [], count: ts.count)
        var bfaces: [[BoundaryFace]] = Array(repeating: [], count: ts.count)
        var maxFace = [Int](repeating: 1, count: ts.count)
        for ti in 0..<ts.count {
            let me = ts[ti]
            let pos = [ti / (tc[1] * tc[2]), (ti / tc[2]) % tc[1], ti % tc[2]]
            for a in 0..<3 where halo[a] == 1 {
                for high in [false, true] {
                    var np = pos
                    np[a] += high ? 1 : -1
                    let outside = np[a] < 0 || np[a] >= tc[a]
                    if outside && bcs[a] != .periodic {
                        bfaces[ti].append(BoundaryFace(tile: ti, axis: a, high: high, boundary: bcs[a]))
                        continue
                    }
                    np[a] = (np[a] + tc[a]) % tc[a]
                    let ni = tileAt(np), nb = ts[ni]
                    var sub = me.size, rs = halo, ss = halo
                    sub[a] = 1
                    rs[a] = high ? me.size[a] + halo[a] : 0           // my halo layer
                    ss[a] = high ? halo[a] : nb.size[a] + halo[a] - 1  // neighbour's edge layer
                    var link = FaceLink(to: ti, from: ni,
                                        send: SubarrayFace(sizes: nb.local, subsizes: sub, starts: ss),
                                        recv: SubarrayFace(sizes: me.local, subsizes: sub, starts: rs))
                    if method == .datatype {
                        link.sendType = try FaceDatatype(link.send)
                        link.recvType = try FaceDatatype(link.recv)
                    }
                    maxFace[ti] = Swift.max(maxFace[ti], link.send.count)
                    links[ti].append(link)
                }
            }
        }
        self.links = links
        self.boundaryFaces = bfaces
        buffers = try maxFace.map { (n) throws(TesseraError) -> AlignedDoubles in try AlignedDoubles(count: n) }
    }

    static func defaultTiles(_ shape: [Int], _ workers: Int) -> [Int] {
        var t = [Int](repeating: 1, count: shape.count)
        var left = Swift.max(1, workers)
        // factor the worker count, giving each prime to the axis with the most points per tile
        var p = 2
        while left > 1 {
            while left % p == 0 {
                let a = (0..<shape.count).max { shape[$0] / t[$0] < shape[$1] / t[$1] }!
                if shape[a] / t[a] >= p { t[a] *= p }
                left /= p
            }
            p += 1
        }
        return t
    }

    /// Number of tiles.
    public var tileCount: Int { tiles.count }

    // MARK: vectors on the tiles

    /// One array per tile (halos included), zeroed.
    func makeVector() throws(TesseraError) -> [AlignedDoubles] {
        try tiles.map { (t) throws(TesseraError) -> AlignedDoubles in try AlignedDoubles(count: t.count) }
    }

    /// Runs body(tile index) for all tiles on the pool.
    func forTiles(_ body: (Int) -> Void) {
        let n = tiles.count, w = pool.threadCount
        pool.parallelFor(0..<n, schedule: n % w == 0 ? .static : .dynamic(chunk: 1)) { r, _ in for t in r { body(t) } }
    }

    /// Per-tile partial sums reduced in tile order (deterministic for a given tiling).
    func sumOverTiles(_ body: (Int) -> Double) -> Double {
        var parts = [Double](repeating: 0, count: tiles.count)
        parts.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            forTiles { t in base[t] = body(t) }
        }
        return parts.reduce(0, +)
    }

    /// Copies a global field into the tiles' interiors.
    func scatter(_ f: Field<Double>, into v: [AlignedDoubles]) {
        f.withUnsafeBufferPointer { g in
            let gp = g.baseAddress!
            forTiles { ti in
                let t = tiles[ti], dst = v[ti].pointer
                for z in 0..<t.size[0] { for y in 0..<t.size[1] {
                    let src = gp + ((t.origin[0] + z) * dims[1] + t.origin[1] + y) * dims[2] + t.origin[2]
                    (dst + t.index(z + halo[0], y + 1, 1)).update(from: src, count: t.size[2])
                } }
            }
        }
    }

    /// Gathers the tiles' interiors into a global field.
    func gather(_ v: [AlignedDoubles]) throws(TesseraError) -> Field<Double> {
        var f = try Field<Double>(grid: grid)
        f.withUnsafeMutableBufferPointer { g in
            let gp = g.baseAddress!
            forTiles { ti in
                let t = tiles[ti], src = v[ti].pointer
                for z in 0..<t.size[0] { for y in 0..<t.size[1] {
                    let dst = gp + ((t.origin[0] + z) * dims[1] + t.origin[1] + y) * dims[2] + t.origin[2]
                    dst.update(from: src + t.index(z + halo[0], y + 1, 1), count: t.size[2])
                } }
            }
        }
        return f
    }

    /// Fills every halo of `v`: faces shared with another tile (or wrapped periodically) are
    /// copied from the neighbour; domain-boundary faces get ghosts from the boundary condition
    /// (Dirichlet: the boundary value if `dirichletValues`, else 0; Neumann: mirror).
    func exchangeHalos(_ v: [AlignedDoubles], dirichletValues: Bool) {
        forTiles { ti in
            for link in links[ti] {
                let src = v[link.from].pointer, dst = v[ti].pointer
                switch haloMethod {
                case .datatype:
                    // pack the neighbour's face into this tile's buffer, unpack into the halo
                    let buf = UnsafeMutableRawBufferPointer(start: buffers[ti].pointer, count: link.send.count * 8)
                    let from = UnsafeRawBufferPointer(start: src, count: tiles[link.from].count * 8)
                    let into = UnsafeMutableRawBufferPointer(start: dst, count: tiles[ti].count * 8)
                    var pos = 0
                    do {
                        try link.sendType!.type.pack(from, into: buf, position: &pos)
                        pos = 0
                        try link.recvType!.type.unpack(UnsafeRawBufferPointer(buf), position: &pos, into: into)
                    } catch {
                        // the faces were validated when the decomposition was built
                        preconditionFailure("TiledGrid halo exchange: \(error)")
                    }
                case .loop:
                    copyFace(from: src, link.send, to: dst, link.recv)
                }
            }
            for bf in boundaryFaces[ti] { fillBoundary(v[ti].pointer, tiles[ti], bf, dirichletValues) }
        }
    }

    private func copyFace(from src: UnsafeMutablePointer<Double>, _ s: SubarrayFace,
                          to dst: UnsafeMutablePointer<Double>, _ r: SubarrayFace) {
        let n = s.subsizes
        for z in 0..<n[0] { for y in 0..<n[1] {
            let so = ((s.starts[0] + z) * s.sizes[1] + s.starts[1] + y) * s.sizes[2] + s.starts[2]
            let ro = ((r.starts[0] + z) * r.sizes[1] + r.starts[1] + y) * r.sizes[2] + r.starts[2]
            (dst + ro).update(from: src + so, count: n[2])
        } }
    }

    private func fillBoundary(_ p: UnsafeMutablePointer<Double>, _ t: Tile, _ bf: BoundaryFace, _ values: Bool) {
        let a = bf.axis
        let ghost = bf.high ? t.size[a] + halo[a] : 0
        let inner = bf.high ? t.size[a] + halo[a] - 1 : halo[a]
        var lo = halo, hi = (0..<3).map { halo[$0] + t.size[$0] }
        lo[a] = ghost; hi[a] = ghost + 1
        for z in lo[0]..<hi[0] { for y in lo[1]..<hi[1] { for x in lo[2]..<hi[2] {
            let g = t.index(z, y, x)
            switch bf.boundary {
            case .dirichlet(let value): p[g] = values ? value : 0
            case .neumann:
                var c = [z, y, x]; c[a] = inner
                p[g] = p[t.index(c[0], c[1], c[2])]
            case .periodic: break
            }
        } } }
    }
}
