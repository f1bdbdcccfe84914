import ArgumentParser
import Foundation
import Tessera
import TesseraDistributed
import TesseraPDE

/// Worker of `tessera bench distributed`: halo exchange of an n³ double grid split along
/// --axis (0 = z: row faces of one plane, which travel as their contiguous span; 2 = x: strided
/// faces, one double per row, packed): `DistributedGrid`'s `.packed` transfer vs OpenMPI's
/// derived-type send, interleaved, each on a resident vector with the exchange timed alone.
/// Periodic along the split axis only, so each rank exchanges its two faces with the other
/// rank(s). One JSON line from rank 0 (`span_faces` of `faces`; TESSERA_HALO_SPAN=0 packs all).
struct BenchHaloRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-halo", abstract: "Bench worker: halo exchange, packed vs MPI derived types.")

    @Option(parsing: .unconditional, help: "Grid points per axis.") var n = 256
    @Option(parsing: .unconditional, help: "Timed exchanges of each kind.") var repeats = 10
    @Option(parsing: .unconditional, help: "Split axis (0: z, 2: x).") var axis = 0
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard n >= 4, repeats >= 1, (0...2).contains(axis), threads >= 1 else { throw ValidationError("need --n >= 4, --repeats >= 1, --axis 0...2, --threads >= 1") }
    }

    func run() throws {
        MPIJob.run("bench-halo") { world in
            var bcs = [Boundary](repeating: .dirichlet(0), count: 3)
            bcs[axis] = .periodic
            var split = [1, 1, 1]
            split[axis] = world.size
            let grid = try Grid(shape: [n, n, n], lengths: [1, 1, 1], boundaries: bcs)
            let one = try ThreadPool(threads: threads)
            let packed = try DistributedGrid(grid: grid, communicator: world, dims: split, transfer: .packed, pool: one)
            let derived = try DistributedGrid(grid: grid, communicator: world, dims: split, transfer: .derived, pool: one)
            _ = try packed.timeHaloExchange(repeats: 2); _ = try derived.timeHaloExchange(repeats: 2)
            var a: [Double] = [], b: [Double] = []
            for _ in 0..<repeats {
                a.append(contentsOf: try packed.timeHaloExchange(repeats: 1))
                b.append(contentsOf: try derived.timeHaloExchange(repeats: 1))
            }
            // the slowest rank decides a step
            a = try world.allreduce(a, op: .max); b = try world.allreduce(b, op: .max)
            let (sa, sb) = (stats(a), stats(b))
            let bytes = Double(packed.haloBytesPerExchange)
            CheckLine.emit(world, ["case": "halo", "n": n, "axis": axis, "ours": sa.median, "ours_min": sa.min,
                                   "ours_max": sa.max, "baseline": sb.median, "baseline_min": sb.min, "baseline_max": sb.max,
                                   "bytes_per_rank": bytes, "gbs": 2 * bytes / sa.median / 1e9,
                                   "span_faces": packed.spanFaceCount, "faces": packed.haloFaceCount])
        }
    }
}
