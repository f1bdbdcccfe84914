import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed
import TesseraPDE

/// The MPI binding checked on the ranks: collectives, communicators, point-to-point, datatype
/// sends of every family (packed and derived, byte-identical on arrival) and the errors of
/// mismatched messages. One JSON line from rank 0: passed, the number of checks, the failed ones.
struct SelftestRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Self-check of the MPI binding (one JSON line).")

    func run() throws {
        MPIJob.run("selftest") { world in try selftest(world) }
    }

    private func selftest(_ world: Communicator) throws {
        let r = world.rank, p = world.size
        var checks: [String: Bool] = [:]
        // collectives
        let sum = try world.allreduce([Double(r + 1), 1], op: .sum)
        checks["allreduce"] = sum == [Double(p * (p + 1) / 2), Double(p)]
        checks["allreduce_max"] = try world.allreduce(Int64(r), op: .max) == Int64(p - 1)
        var b = r == 0 ? [3.5, -1, 7] : [0.0, 0, 0]
        try world.broadcast(&b, root: 0)
        checks["bcast"] = b == [3.5, -1, 7]
        checks["bcast_unknown_length"] = try world.broadcast(r == 0 ? [Int32(4), 5, 6, 7] : nil, root: 0) == [4, 5, 6, 7]
        checks["allgather"] = try world.allgather([Int32(r), Int32(10 * r)]) == (0..<p).flatMap { [Int32($0), Int32(10 * $0)] }
        let v = try world.allgatherVariable([Float](repeating: Float(r), count: r + 1))
        checks["allgatherv"] = v.counts == (0..<p).map { $0 + 1 } && v.values == (0..<p).flatMap { [Float](repeating: Float($0), count: $0 + 1) }
        let counts = (0..<p).map { $0 + 1 }
        let rs = try world.reduceScatter([Double](repeating: 1, count: counts.reduce(0, +)), counts: counts)
        checks["reduce_scatter"] = rs == [Double](repeating: Double(p), count: r + 1)
        try world.barrier()
        // communicators
        let dup = try world.duplicate()
        checks["dup"] = dup.rank == r && dup.size == p
        let half = try world.split(color: r % 2, key: -r)
        checks["split"] = half != nil && half!.size == (p + 1 - r % 2) / 2 && half!.rank == (half!.size - 1 - r / 2)
        let none = try world.split(color: r == 0 ? nil : 1)
        checks["split_undefined"] = (r == 0) == (none == nil)
        // point-to-point ring of arrays, blocking and nonblocking
        let next = (r + 1) % p, prev = (r + p - 1) % p
        let got = try world.sendReceive([Int64(r), Int64(r * r)], to: next, receiving: 2, from: prev, tag: 3)
        checks["sendrecv"] = got == [Int64(prev), Int64(prev * prev)]
        var inbox = [Double](repeating: 0, count: 5)
        let rq = try inbox.withUnsafeMutableBytes { try world.irecv(bytes: $0, from: prev, tag: 4) }
        let sq = try world.isend([Double](repeating: Double(r), count: 5), to: next, tag: 4)
        try Request.waitAll([rq, sq])
        checks["isend_irecv"] = inbox == [Double](repeating: Double(prev), count: 5)
        // datatypes of every family, packed and derived, byte-identical on arrival
        let n = 24
        let src = (0..<(n * n * 4)).map { Double($0) + Double(r) * 1e4 }
        let sizeD = 8
        let families: [(String, Datatype)] = [
            ("contiguous", try Datatype.contiguous(17, of: .double)),
            ("vector", try Datatype.vector(count: 9, blockLength: 3, stride: 7, of: .double)),
            ("hvector", try Datatype.hvector(count: 5, blockLength: 2, byteStride: 40 * sizeD, of: .double)),
            ("indexed", try Datatype.indexed(blockLengths: [3, 1, 4, 2], displacements: [0, 9, 20, 70], of: .double)),
            ("hindexed", try Datatype.hindexed(blockLengths: [2, 5], byteDisplacements: [16, 400], of: .double)),
            ("indexed_block", try Datatype.indexedBlock(blockLength: 2, displacements: [1, 5, 30, 31 + 16], of: .double)),
            ("struct", try Datatype.structure([.init(.int32, count: 2, at: 0), .init(.double, count: 1, at: 8), .init(.float, count: 3, at: 24)])),
            ("subarray", try Datatype.subarray(sizes: [n, n], subsizes: [5, 7], starts: [3, 11])),
            ("face3d", try Datatype.face(of: [4, n, n], axis: 2, start: n - 2)),
            ("resized", try Datatype.vector(count: 3, blockLength: 1, stride: 4, of: .double).resized(lowerBound: 0, extent: 13 * sizeD)),
        ]
        for (name, t) in families {
            let count = name == "resized" ? 4 : (name == "struct" ? 3 : 1)
            for method in TransferMethod.allCases {
                var dst = [Double](repeating: -1, count: src.count)
                try src.withUnsafeBytes { s in
                    try dst.withUnsafeMutableBytes { d in
                        let req = try world.irecv(into: d, count: count, datatype: t, from: prev, tag: 5, method: method)
                        try world.send(s, count: count, datatype: t, to: next, tag: 5, method: method)
                        try req.wait(timeout: 30)
                    }
                }
                // what prev sent, laid out here by the same type: compare via packing both
                let expect = (0..<src.count).map { Double($0) + Double(prev) * 1e4 }
                let a = try t.pack(expect, count: count), bb = try t.pack(dst, count: count)
                // bytes outside the type must be untouched
                var untouched = [Double](repeating: -1, count: src.count)
                try t.unpack(a, into: &untouched, count: count)
                checks["dt_\(name)_\(method.rawValue)"] = a == bb && untouched == dst
            }
        }
        // DistributedGrid halos (z-split 3-D grid, 40x40 planes): the packed exchange, whose
        // z-faces travel as their spans (HaloSpan), writes exactly what OpenMPI's subarray types
        // write: the face cells of the halo planes, and not the x-ghost cells between their rows
        let hg = try Grid(shape: [2 * p + 2, 40, 40], lengths: [1, 1, 1], boundaries: [.periodic, .dirichlet(0), .neumann])
        var halos: [HaloTransfer: [Double]] = [:]
        for t in HaloTransfer.allCases {
            let dg = try DistributedGrid(grid: hg, communicator: world, dims: [p, 1, 1], transfer: t)
            var v = (0..<dg.localCount).map { Double($0) + Double(r) * 1e6 }
            let before = v
            try dg.exchangeHalos(&v)
            halos[t] = v
            checks["halo_\(t.rawValue)_writes_halos"] = v != before
            if t == .packed {
                let spans = ProcessInfo.processInfo.environment["TESSERA_HALO_SPAN"] == "0" ? 0 : 2
                checks["halo_packed_span_faces"] = dg.spanFaceCount == spans && dg.haloFaceCount == 2
            }
        }
        checks["halo_packed_equals_derived"] = halos[.packed] == halos[.derived]
        // errors: a short message where a longer one was expected, a long one into a short buffer
        if p >= 2 {
            if r == 0 {
                try world.send([Double](repeating: 1, count: 3), to: 1, tag: 6)
                try world.send([Double](repeating: 1, count: 9), to: 1, tag: 7)
            } else if r == 1 {
                do { _ = try world.receive(Double.self, count: 4, from: 0, tag: 6); checks["err_count"] = false } catch {
                    checks["err_count"] = "\(error)".contains("expected")
                }
                do { _ = try world.receive(Double.self, count: 4, from: 0, tag: 7); checks["err_truncate"] = false } catch {
                    checks["err_truncate"] = "\(error)".lowercased().contains("truncat")
                    standardError("rank 1: truncation error as expected: \(error)")
                }
            }
            do { try world.send([1.0], to: p + 3); checks["err_rank"] = false } catch { checks["err_rank"] = true }
            do { _ = try world.cartesian(dims: [p + 1], periodic: [false]); checks["err_decomposition"] = false } catch {
                checks["err_decomposition"] = "\(error)".contains("do not fit")
            }
        }
        // every rank's verdicts: counts and the names of failed checks ("name@rank")
        let failedHere = checks.keys.sorted().filter { checks[$0] == false }.map { "\($0)@\(r)" }
        let total = try world.allreduce(Int64(checks.count), op: .sum)
        let failed = String(decoding: try world.allgatherVariable(Array((failedHere.joined(separator: " ") + " ").utf8)).values, as: UTF8.self)
            .split(separator: " ").joined(separator: " ")
        CheckLine.emit(world, ["check": "selftest", "passed": failed.isEmpty, "checks": Int(total), "failed": failed,
                     "thread_level": "\(MPI.providedThreadLevel)",
                     "mpi": MPI.libraryVersion.split(separator: ",").first.map(String.init) ?? ""])
    }
}
