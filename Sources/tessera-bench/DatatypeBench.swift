import Foundation
import Tessera

/// `tessera bench datatype`: first Tessera's pack vs OpenMPI's `MPI_Pack` on the TEMPI
/// families (records named `MPI_Pack: ...`, `speedup` = MPI_Pack time / ours on one thread,
/// `speedup_all_cores` on the default pool; dense cases carry the one-core floor measured in the
/// same rounds as `limit` with `fraction` = floor / ours, and `speedup_bound` = MPI_Pack / floor,
/// the most any one-core packer could reach in that run), then Tessera's pack (all cores) vs the naive
/// recursive type-map packer (`Datatype.packReference`) with the STREAM copy bandwidth of
/// this run as the limit (our rate counts the packed bytes read and written: 2 x packed / time).
func runDatatypeBench(_ ctx: BenchContext) throws {
    try runMPIPackComparison(ctx)
    let pool = ThreadPool.shared
    let probe = try MachineProbe(count: ctx.quick ? 4 << 20 : 16 << 20, pool: pool)
    let copy = try measure(repeats: ctx.quick ? 3 : 7, warmup: 1) { try probe.stream(.copy, pool: pool) }
    let copyGBs = probe.bytes(.copy) / copy.min / 1e9
    ctx.output.note("datatype: STREAM copy \(String(format: "%.1f", copyGBs)) GB/s on \(pool.threadCount) threads")

    func run(_ name: String, _ type: Datatype, count: Int, sourceBytes: Int, cold: Bool) throws {
        try type.commit()
        let packed = try type.packedSize(count: count)
        let src = UnsafeMutableRawBufferPointer.allocate(byteCount: sourceBytes, alignment: 64)
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: packed, alignment: 64)
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: packed, alignment: 64)
        defer { src.deallocate(); a.deallocate(); b.deallocate() }
        for i in 0..<sourceBytes { src[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
        let s = UnsafeRawBufferPointer(src)
        let reps = ctx.quick ? 3 : (cold ? 5 : 15)
        let t = try measurePairs(repeats: reps, warmup: 1, ours: {
            var p = 0
            try type.pack(s, count: count, into: a, position: &p, pool: pool)
        }, baseline: {
            var p = 0
            try type.packReference(s, count: count, into: b, position: &p)
        })
        let same = memcmp(a.baseAddress!, b.baseAddress!, packed) == 0
        let gbs = 2 * Double(packed) / t.ours.median / 1e9
        ctx.output.emit(BenchRecord(
            name: "\(name) \(cold ? "cold" : "hot")", unit: "s", ours: t.ours.median,
            baselineName: "naive recursive packer", baseline: t.baseline.median,
            limitName: "stream_copy_gbs", limit: copyGBs, fraction: gbs / copyGBs, threads: pool.threadCount,
            extra: ["gbs": gbs, "packed_bytes": Double(packed), "ours_min": t.ours.min, "ours_max": t.ours.max,
                    "error": same ? 0 : 1],
            notes: ["layout": type.description.components(separatedBy: " from ").first ?? ""]))
    }

    // 2-D vectors: B-byte blocks at stride 2B, 1 MiB packed (hot) and 64 MiB (cold)
    for (mib, cold) in [(1, false), (ctx.quick ? 16 : 64, true)] {
        for B in [1, 4, 8, 16, 64, 256, 1024] {
            let n = (mib << 20) / B
            let t = try Datatype.vector(count: n, blockLength: B, stride: 2 * B, of: .byte)
            try run("vector B=\(B) stride=\(2 * B) packed=\(mib)MiB", t, count: 1, sourceBytes: 2 * (mib << 20), cold: cold)
        }
    }
    // 3-D faces of an N^3 double grid, halo width 1 and 3
    let n = ctx.quick ? 128 : 256
    for h in [1, 3] {
        for axis in 0..<3 {
            let face = try Datatype.face(of: [n, n, n], axis: axis, start: h, width: h)
            // repeated packs of one face: the lines it touches (<= 12 MiB) stay in the 32 MiB L3
            try run("face axis=\(axis) halo=\(h) grid=\(n)^3 doubles", face, count: 1, sourceBytes: n * n * n * 8, cold: false)
        }
    }
    // 3-level nesting: hvector of vector of contiguous
    let c3 = try Datatype.contiguous(3, of: .float)
    let v = try Datatype.vector(count: 64, blockLength: 2, stride: 3, of: c3)
    let reps = ctx.quick ? 512 : 2048
    try run("nested contiguous/vector/hvector", try Datatype.hvector(count: reps, blockLength: 1, byteStride: 2368, of: v),
            count: 1, sourceBytes: reps * 2368, cold: false)
    // indexed: 1000 random blocks of 8..64 bytes
    var rng = SystemRandomNumberGenerator()
    var bl: [Int] = [], d: [Int] = [], at = 0
    for _ in 0..<1000 {
        let b = Int.random(in: 1...8, using: &rng), g = Int.random(in: 1...8, using: &rng)
        d.append(at + g); bl.append(b); at += g + b
    }
    let idx = try Datatype.indexed(blockLengths: bl, displacements: d, of: .double)
    let cnt = (1 << 20) / idx.size
    try run("indexed 1000 random blocks 8..64B", idx, count: cnt, sourceBytes: cnt * idx.extent + idx.trueLowerBound + 64, cold: false)
    // struct {int, double[3], char} resized to 40 bytes
    let rec = try Datatype.structure([.init(.int32, at: 0), .init(.double, count: 3, at: 8), .init(.primitive(.char), at: 32)])
        .resized(lowerBound: 0, extent: 40)
    for (count, cold) in [((1 << 20) / 29, false), (ctx.quick ? 1 << 18 : 1 << 20, true)] {
        try run("struct{int,double[3],char}/40B count=\(count)", rec, count: count, sourceBytes: count * 40, cold: cold)
    }
}

/// The C program that times Tessera against OpenMPI's MPI_Pack in one process (rounds of
/// ours / MPI_Pack / plain loop / ours on all cores, load average per case):
/// interpose/mpi/bench_pack.c, built by `make mpi` (it links libmpi, which this executable
/// does not). Looked up at $TESSERA_BENCH_PACK, then build/mpi/bench_pack under the working
/// directory and beside the package root of this executable.
private func packBenchPath() -> String? {
    let fm = FileManager.default
    var candidates: [String] = []
    if let p = ProcessInfo.processInfo.environment["TESSERA_BENCH_PACK"] { candidates.append(p) }
    candidates.append(fm.currentDirectoryPath + "/build/mpi/bench_pack")
    // .build/<config>/tessera-bench -> package root
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let root = exe.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent("build/mpi/bench_pack").path)
    return candidates.first { fm.isExecutableFile(atPath: $0) }
}

/// Runs bench_pack and re-emits its records, so the MPI_Pack comparison is part of this run.
private func runMPIPackComparison(_ ctx: BenchContext) throws {
    guard let exe = packBenchPath() else {
        ctx.output.note("datatype: OpenMPI MPI_Pack comparison skipped: build it with `make mpi` (needs mpicc), "
            + "or point TESSERA_BENCH_PACK at bench_pack")
        return
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = ctx.quick ? ["--quick"] : []
    var env = ProcessInfo.processInfo.environment
    env["TESSERA_NUM_THREADS"] = "\(ctx.threads)"
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw TesseraError.io("bench_pack (\(exe)) failed with status \(p.terminationStatus)")
    }
    let standard: Set<String> = ["case", "unit", "ours", "baseline_name", "baseline", "speedup", "limit_name", "limit",
                                 "fraction", "threads", "identical_bytes"]
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
        guard let j = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
              let name = j["case"] as? String else { continue }
        func num(_ k: String) -> Double? { (j[k] as? NSNumber)?.doubleValue }
        var extra: [String: Double] = [:]
        for (k, v) in j where !standard.contains(k) {
            if let n = v as? NSNumber { extra[k] = n.doubleValue }
        }
        extra["error"] = (j["identical_bytes"] as? Bool) == true ? 0 : 1
        ctx.output.emit(BenchRecord(
            name: "MPI_Pack: \(name)", unit: "s", ours: num("ours") ?? .nan,
            baselineName: j["baseline_name"] as? String ?? "openmpi_MPI_Pack", baseline: num("baseline") ?? .nan,
            speedup: num("speedup"), limitName: j["limit_name"] as? String, limit: num("limit"),
            fraction: num("fraction"), threads: Int(num("threads") ?? 1), extra: extra))
    }
}
