import COpenBLAS
import Foundation
import Tessera

/// `tessera bench randproj`: random projections and FastRP.
///
/// - dense X (n × D f32) → d with s = sqrt(D): vs OpenBLAS SGEMM with a materialised Gaussian
///   D × d matrix (in process, interleaved) and vs scikit-learn's SparseRandomProjection
///   (Python peer, interleaved over a line protocol);
/// - CSR X → d: vs scikit-learn on a CSR of the same shape and density;
/// - FastRP on a stochastic-block-model graph: vs a SciPy implementation of the reference
///   formulas and the `fastrp` package (Rust), on the same edge list; micro-F1 beside it;
/// - the CSR × dense product: effective bytes/s against the read bandwidth measured here.
func runRandProjBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let repeats = ctx.quick ? 3 : 5
    let peer = RPPeer.start(threads: threads, note: out.note)
    defer { peer?.close() }

    // --- limit: read bandwidth (memory-bound cases are compared to it)
    let probe = try MachineProbe(count: (1 << 30) / 8, pool: pool)
    let readBW = try probe.readBandwidth(pool: pool, passes: 5)
    out.note("read bandwidth (limit): \(String(format: "%.1f", readBW / 1e9)) GB/s on \(threads) threads")

    // --- dense transform
    let (n, D, d) = ctx.quick ? (6000, 6000, 256) : (20000, 10000, 256)
    out.note("dense: X \(n) x \(D) f32 (\((n * D * 4) >> 20) MiB) -> \(d)")
    var x = try Matrix<Float>(rows: n, cols: D)
    x.withUnsafeMutableBufferPointer { p in
        var s: UInt64 = 12345
        for i in 0..<p.count {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            p[i] = Float(Int64(bitPattern: s >> 11) % 2_000_000) * 1e-6 - 1
        }
    }
    let rp = try RandomProjection(inputDimension: D, outputDimension: d)
    let rpLazy = try RandomProjection(inputDimension: D, outputDimension: d)
    try rp.materialize(pool: pool)
    var y = try rp.transform(x, pool: pool)
    // quality: squared-norm distortion of 200 rows
    var distortion = 0.0
    for i in 0..<200 {
        let xn = x.row(i).reduce(0.0) { $0 + Double($1) * Double($1) }
        let yn = y.row(i).reduce(0.0) { $0 + Double($1) * Double($1) }
        distortion += abs(yn / xn - 1) / 200
    }
    // baseline: materialised Gaussian R (D x d) and SGEMM
    let gauss = try RandomProjection(inputDimension: D, outputDimension: d, distribution: .gaussian)
    try gauss.materialize(pool: pool)
    var G = [Float](repeating: 0, count: D * d)
    for j in 0..<D { for k in 0..<d { G[j * d + k] = Float(try gauss.entry(row: j, column: k)) } }
    var yb = [Float](repeating: 0, count: n * d)
    openblas_set_num_threads(Int32(threads))
    let sgemm = {
        x.withUnsafeBufferPointer { xp in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(d), Int32(D), 1, xp.baseAddress,
                        Int32(x.rowStride), G, Int32(d), 0, &yb, Int32(d))
        }
    }
    let bytesX = Double(n * D * 4)
    for (label, plan) in [("R materialised", rp), ("R generated per call", rpLazy)] {
        let (ours, base) = try measurePairs(repeats: repeats, warmup: 1,
            ours: { y = try plan.transform(x, pool: pool) }, baseline: sgemm)
        out.emit(BenchRecord(
            name: "dense \(n)x\(D) f32 -> \(d) s=sqrt(D) \(label) cold", unit: "s", ours: ours.median,
            baselineName: "openblas sgemm, materialised gaussian", baseline: base.median,
            limitName: "read_gbs", limit: readBW / 1e9, fraction: bytesX / ours.median / readBW, threads: threads,
            extra: ["gbs": bytesX / ours.median / 1e9, "sq_norm_distortion": distortion,
                    "ours_min": ours.min, "ours_max": ours.max, "baseline_min": base.min, "baseline_max": base.max]))
    }
    if let peer, peer.call("dense \(n) \(D) \(d) 42").hasPrefix("ok") {
        let (ours, base) = try peer.interleave(repeats: repeats, command: "run_dense") { y = try rp.transform(x, pool: pool) }
        out.emit(BenchRecord(
            name: "dense \(n)x\(D) f32 -> \(d) s=sqrt(D) cold", unit: "s", ours: ours.median,
            baselineName: "sklearn SparseRandomProjection.transform", baseline: base.median,
            limitName: "read_gbs", limit: readBW / 1e9, fraction: bytesX / ours.median / readBW, threads: threads,
            extra: ["gbs": bytesX / ours.median / 1e9, "sq_norm_distortion": distortion,
                    "ours_min": ours.min, "ours_max": ours.max, "baseline_min": base.min, "baseline_max": base.max],
            notes: ["baseline_threads": "scipy sparse product (single-threaded)"]))
    }
    x = try Matrix<Float>(rows: 0, cols: D)
    yb = []

    // --- CSR transform (never densified)
    let (cn, cD, dens) = ctx.quick ? (20000, 20000, 0.002) : (100_000, 100_000, 0.001)
    var csr: CSRMatrix<Float>
    do {
        // 32-bit offsets and columns, as the peer's SciPy matrix holds them.
        var ip: [Int32] = [0], ix: [Int32] = [], v: [Float] = []
        var s: UInt64 = 99
        let perRow = Int(Double(cD) * dens)
        ix.reserveCapacity(cn * perRow); v.reserveCapacity(cn * perRow)
        for _ in 0..<cn {
            var cols = Set<Int32>()
            while cols.count < perRow {
                s = s &* 6364136223846793005 &+ 1442695040888963407
                cols.insert(Int32((s >> 20) % UInt64(cD)))
            }
            for c in cols.sorted() {
                s = s &* 6364136223846793005 &+ 1442695040888963407
                ix.append(c); v.append(Float(Int64(bitPattern: s >> 11) % 1000) * 1e-3)
            }
            ip.append(Int32(ix.count))
        }
        csr = try CSRMatrix(rows: cn, cols: cD, indptr: ip, indices: ix, values: v)
    }
    let rpc = try RandomProjection(inputDimension: cD, outputDimension: d)
    try rpc.materialize(pool: pool)
    var yc = try rpc.transform(csr, pool: pool)
    if let peer, peer.call("csr \(cn) \(cD) \(dens) \(d) 42").hasPrefix("ok") {
        let (ours, base) = try peer.interleave(repeats: repeats, command: "run_csr") { yc = try rpc.transform(csr, pool: pool) }
        out.emit(BenchRecord(
            name: "csr \(cn)x\(cD) nnz=\(csr.nonzeroCount) f32 -> \(d) s=sqrt(D)", unit: "s", ours: ours.median,
            baselineName: "sklearn SparseRandomProjection.transform (csr)", baseline: base.median, threads: threads,
            extra: ["ours_min": ours.min, "ours_max": ours.max, "baseline_min": base.min, "baseline_max": base.max,
                    "nnz_per_s": Double(csr.nonzeroCount) / ours.median]))
    } else {
        let t = try measure(repeats: repeats, warmup: 1) { yc = try rpc.transform(csr, pool: pool) }
        out.emit(BenchRecord(name: "csr \(cn)x\(cD) nnz=\(csr.nonzeroCount) f32 -> \(d) s=sqrt(D)", unit: "s",
                             ours: t.median, baselineName: "none (python peer unavailable)", baseline: .nan,
                             threads: threads))
    }
    _ = yc
    csr = try CSRMatrix(rows: 0, cols: 1, indptr: [Int32(0)], indices: [Int32](), values: [])

    // --- FastRP on a stochastic block model
    let (gn, blocks, degIn, degOut) = ctx.quick ? (100_000, 100, 16.0, 4.0) : (1_000_000, 100, 16.0, 4.0)
    let (src, dst) = rpSBMEdges(n: gn, blocks: blocks, inDegree: degIn, outDegree: degOut, seed: 7)
    let g = try Graph(sources: src, targets: dst, options: .init(nodeCount: gn))
    let undirectedEdges = g.entryCount / 2
    out.note("FastRP graph: SBM \(gn) nodes, \(blocks) blocks, \(undirectedEdges) undirected edges")
    var params = FastRP.Parameters()
    params.dimension = 128
    var emb = try FastRP.embed(graph: g, parameters: params, pool: pool)
    let f1 = rpMicroF1(emb, blocks: blocks, sample: 20000)
    let edgePath = NSTemporaryDirectory() + "tessera_rp_edges_\(getpid()).npy"
    defer { try? FileManager.default.removeItem(atPath: edgePath) }
    var flat = [Int64](); flat.reserveCapacity(2 * src.count)
    for e in 0..<src.count { flat.append(Int64(src[e])); flat.append(Int64(dst[e])) }
    try NPYArray(shape: [src.count, 2], elements: flat).write(to: edgePath)
    flat = []
    let weightsArg = params.weights.map { String($0) }.joined(separator: ",")
    let fastrpName = "fastrp sbm n=\(gn) m=\(undirectedEdges) d=128 q=4"
    if let peer, peer.call("graph \(edgePath) \(gn)").hasPrefix("ok") {
        let (ours, base) = try peer.interleave(repeats: ctx.quick ? 3 : 3, command: "run_scipy_fastrp 128 \(params.beta) \(weightsArg)") {
            emb = try FastRP.embed(graph: g, parameters: params, pool: pool)
        }
        out.emit(BenchRecord(
            name: fastrpName, unit: "s", ours: ours.median, baselineName: "scipy (reference formulas)",
            baseline: base.median, threads: threads,
            extra: ["edges_per_s": Double(undirectedEdges) / ours.median, "micro_f1": f1,
                    "ours_min": ours.min, "ours_max": ours.max, "baseline_min": base.min, "baseline_max": base.max],
            notes: ["baseline_threads": "scipy sparse products (single-threaded)"]))
        let rust = peer.call("run_rust_fastrp 128 \(weightsArg)")
        if Double(rust) != nil {
            let (ours2, base2) = try peer.interleave(repeats: 3, command: "run_rust_fastrp 128 \(weightsArg)") {
                emb = try FastRP.embed(graph: g, parameters: params, pool: pool)
            }
            out.emit(BenchRecord(
                name: fastrpName, unit: "s", ours: ours2.median, baselineName: "fastrp (pypi, rust)",
                baseline: base2.median, threads: threads,
                extra: ["edges_per_s": Double(undirectedEdges) / ours2.median, "micro_f1": f1,
                        "ours_min": ours2.min, "ours_max": ours2.max, "baseline_min": base2.min, "baseline_max": base2.max],
                notes: ["baseline_config": "undirected=False, weights=[0]+alpha, RAYON_NUM_THREADS=\(threads)"]))
        } else {
            out.note("fastrp (rust) peer: \(rust)")
        }
        // --- SpMM: one product of the transition matrix with an n x 128 matrix
        var xs = try Matrix<Float>(rows: gn, cols: 128)
        xs.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = Float(i % 97) * 0.01 } }
        var ys = try Matrix<Float>(rows: gn, cols: 128)
        try g.multiply(xs, into: &ys, pool: pool)
        let (ours3, base3) = try peer.interleave(repeats: repeats, command: "run_scipy_spmm 128") {
            try g.multiply(xs, into: &ys, pool: pool)
        }
        // bytes: column indices, row offsets, one gathered row of X per entry, one row of Y per node
        let bytes = Double(g.entryCount) * (4 + 128 * 4) + Double(gn) * (8 + 4 + 128 * 4)
        out.emit(BenchRecord(
            name: "spmm transition n=\(gn) nnz=\(g.entryCount) x 128 f32 cold", unit: "s", ours: ours3.median,
            baselineName: "scipy csr @ dense", baseline: base3.median, limitName: "read_gbs", limit: readBW / 1e9,
            fraction: bytes / ours3.median / readBW, threads: threads,
            extra: ["gbs": bytes / ours3.median / 1e9, "ours_min": ours3.min, "ours_max": ours3.max,
                    "baseline_min": base3.min, "baseline_max": base3.max]))
    } else {
        let t = try measure(repeats: 3, warmup: 0) { emb = try FastRP.embed(graph: g, parameters: params, pool: pool) }
        out.emit(BenchRecord(name: fastrpName, unit: "s", ours: t.median, baselineName: "none (python peer unavailable)",
                             baseline: .nan, threads: threads,
                             extra: ["edges_per_s": Double(undirectedEdges) / t.median, "micro_f1": f1]))
    }
}

/// Edges of a stochastic block model: node i in block i % blocks, about `inDegree` neighbours
/// in its block and `outDegree` outside (each undirected edge drawn once).
func rpSBMEdges(n: Int, blocks: Int, inDegree: Double, outDegree: Double, seed: UInt64) -> ([Int], [Int]) {
    var s = seed
    let mIn = Int(Double(n) * inDegree / 2), mOut = Int(Double(n) * outDegree / 2), per = n / blocks
    var src = [Int](repeating: 0, count: mIn + mOut), dst = src
    for e in 0..<(mIn + mOut) {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        let u = Int(s >> 20) % n
        var b = u % blocks
        if e >= mIn {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            b = (b + 1 + Int(s >> 20) % (blocks - 1)) % blocks
        }
        s = s &* 6364136223846793005 &+ 1442695040888963407
        src[e] = u
        dst[e] = (Int(s >> 20) % per) * blocks + b
    }
    return (src, dst)
}

/// Nearest-centroid (cosine) micro-F1 on a sample: centroids from nodes with even i / blocks,
/// scored on up to `sample` nodes with odd i / blocks.
func rpMicroF1(_ e: Matrix<Float>, blocks: Int, sample: Int) -> Double {
    let d = e.cols
    var cent = [Double](repeating: 0, count: blocks * d)
    for i in 0..<e.rows where (i / blocks) % 2 == 0 {
        let r = e.row(i)
        let nn = max(r.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-30)
        for k in 0..<d { cent[(i % blocks) * d + k] += Double(r[k]) / nn }
    }
    var cn = [Double](repeating: 0, count: blocks)
    for b in 0..<blocks { cn[b] = max((0..<d).reduce(0.0) { $0 + cent[b * d + $1] * cent[b * d + $1] }.squareRoot(), 1e-30) }
    var right = 0, total = 0
    var i = 0
    let step = max(1, e.rows / max(sample, 1))
    while i < e.rows {
        if (i / blocks) % 2 == 1 {
            let r = e.row(i)
            var best = 0, bs = -Double.infinity
            for b in 0..<blocks {
                var dot = 0.0
                for k in 0..<d { dot += Double(r[k]) * cent[b * d + k] }
                if dot / cn[b] > bs { bs = dot / cn[b]; best = b }
            }
            if best == i % blocks { right += 1 }
            total += 1
        }
        i += step
    }
    return total > 0 ? Double(right) / Double(total) : .nan
}

/// The Python peer (bench/randproj/peer.py), one command per line.
final class RPPeer {
    private let proc: Process
    private let input: FileHandle
    private let output: FileHandle
    private var buffer = Data()

    private init(proc: Process, input: FileHandle, output: FileHandle) {
        self.proc = proc
        self.input = input
        self.output = output
    }

    /// Starts the peer (installing its packages on first use); nil if Python or the script is missing.
    static func start(threads: Int, note: (String) -> Void) -> RPPeer? {
        let root = ProcessInfo.processInfo.environment["TESSERA_ROOT"] ?? FileManager.default.currentDirectoryPath
        let script = root + "/bench/randproj/peer.py", setup = root + "/bench/randproj/setup.sh"
        guard FileManager.default.fileExists(atPath: script) else {
            note("randproj: \(script) not found (run from the repository root or set TESSERA_ROOT); peers skipped")
            return nil
        }
        var python = "/usr/bin/python3"
        let sp = Process()
        sp.executableURL = URL(fileURLWithPath: "/bin/bash")
        sp.arguments = [setup]
        let pout = Pipe()
        sp.standardOutput = pout
        if (try? sp.run()) != nil {
            sp.waitUntilExit()
            let s = String(decoding: pout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if sp.terminationStatus == 0, let last = s.split(separator: "\n").last { python = String(last) }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script]
        var env = ProcessInfo.processInfo.environment
        env["RAYON_NUM_THREADS"] = String(threads)
        env["OMP_NUM_THREADS"] = String(threads)
        env["OPENBLAS_NUM_THREADS"] = String(threads)
        p.environment = env
        let i = Pipe(), o = Pipe()
        p.standardInput = i
        p.standardOutput = o
        do { try p.run() } catch {
            note("randproj: cannot start \(python): \(error); peers skipped")
            return nil
        }
        note("randproj: python peer \(python)")
        return RPPeer(proc: p, input: i.fileHandleForWriting, output: o.fileHandleForReading)
    }

    /// Sends one command and returns the reply line.
    func call(_ line: String) -> String {
        input.write(Data((line + "\n").utf8))
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let reply = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return reply
            }
            let chunk = output.availableData
            if chunk.isEmpty { return "unavailable peer exited" }
            buffer.append(chunk)
        }
    }

    /// Interleaves `ours` with the peer's timed `command` (A B A B ..., alternating which goes first).
    func interleave(repeats: Int, command: String, ours: () throws -> Void) throws -> (TimingSummary, TimingSummary) {
        var a: [Double] = [], b: [Double] = []
        for i in 0..<repeats {
            if i % 2 == 0 {
                let t = benchNow(); try ours(); a.append(benchNow() - t)
                b.append(Double(call(command)) ?? .nan)
            } else {
                b.append(Double(call(command)) ?? .nan)
                let t = benchNow(); try ours(); a.append(benchNow() - t)
            }
        }
        return (summarize(a), summarize(b.filter { !$0.isNaN }))
    }

    func close() {
        _ = call("quit")
        proc.waitUntilExit()
    }
}
