// tessera-mpi: the distributed uses of Tessera, started under mpirun:
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 tessera-mpi <command> [--option value ...]
//
// commands: selftest | attention | kmeans | heat | poisson | bench-halo | bench-heat |
//           bench-attention | bench-kmeans
// Rank 0 prints one JSON object per line on stdout (the MPI tests, the demo and
// `tessera bench distributed` read them); notes go to stderr. Each check computes the
// single-process result in the same run and reports the difference. Started without
// mpirun, it runs on one rank and says so.

import Foundation
import Tessera
import TesseraCluster
import TesseraDiffusion
import TesseraDistributed
import TesseraPDE

// MARK: - arguments and output

// `tessera <command> --distributed ...` execs this binary with its own argv: tessera's command
// words map onto the commands here (pde heat|poisson, cluster --method kmeans|clara [file.csv],
// attention [ring], diffuse).
let (command, args, positional): (String, [String], [String]) = {
    var a = Array(CommandLine.arguments.dropFirst()).filter { $0 != "--distributed" }
    guard let first = a.first else { return ("help", [], []) }
    func value(_ key: String) -> String? {
        guard let i = a.firstIndex(of: "--" + key), i + 1 < a.count else { return nil }
        return a[i + 1]
    }
    var cmd = first
    switch first {
    case "pde":
        a.removeFirst()
        cmd = a.first ?? "pde"
        if ["heat", "poisson"].contains(cmd) { break }
        cmd = "pde " + cmd
    case "cluster":
        switch value("method") ?? "kmeans" {
        case "kmeans": cmd = "kmeans"
        case "clara", "fastclara": cmd = "clara"
        case let m: cmd = "cluster --method \(m)"
        }
    case "attention":
        if a.count > 1 && a[1] == "ring" { a.remove(at: 1) }
    default: break
    }
    // positional words after the command (a CSV file for cluster)
    var pos: [String] = []
    var i = 1
    while i < a.count {
        if a[i].hasPrefix("--") { i += (i + 1 < a.count && !a[i + 1].hasPrefix("--")) ? 2 : 1 } else { pos.append(a[i]); i += 1 }
    }
    return (cmd, a, pos)
}()
nonisolated(unsafe) let options: [String: String] = {
    var options: [String: String] = [:]
    var i = 1
    while i < args.count {
        let a = args[i]
        if a.hasPrefix("--") {
            let key = String(a.dropFirst(2))
            if i + 1 < args.count, !args[i + 1].hasPrefix("--") { options[key] = args[i + 1]; i += 2 } else { options[key] = "1"; i += 1 }
        } else { i += 1 }
    }
    return options
}()
func opt(_ k: String, _ d: Int) -> Int { options[k].flatMap(Int.init) ?? d }
func opt(_ k: String, _ d: Double) -> Double { options[k].flatMap(Double.init) ?? d }
func opt(_ k: String, _ d: String) -> String { options[k] ?? d }
func flag(_ k: String) -> Bool { options[k] != nil }
func dims(_ k: String) -> [Int]? { options[k].map { $0.split(separator: ",").compactMap { Int($0) } } }

func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// One JSON line (keys sorted) from rank 0.
func emit(_ comm: Communicator, _ fields: [String: Any]) {
    guard comm.rank == 0 else { return }
    var f = fields
    f["ranks"] = comm.size
    for (k, v) in f { if let d = v as? Double, !d.isFinite { f[k] = "\(d)" } }
    let data = try! JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
    fflush(nil)
}

/// Deterministic uniform numbers in [0, 1) (splitmix64).
struct Rand {
    var s: UInt64
    mutating func next() -> Double {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double { maxAbsDiff(a.map(Double.init), b.map(Double.init)) }

/// FNV-1a of the bytes: a fingerprint that the tests compare between runs.
func fingerprint<T>(_ v: [T]) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    v.withUnsafeBytes { for b in $0 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
    return String(format: "%016llx", h)
}

/// Median, min, max of samples.
func stats(_ s: [Double]) -> (median: Double, min: Double, max: Double) {
    let t = s.sorted()
    return (t[t.count / 2], t.first!, t.last!)
}

// MARK: - commands

/// The MPI binding: collectives, point-to-point, datatype sends of every family, errors.
func selftest(_ world: Communicator) throws {
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
                note("rank 1: truncation error as expected: \(error)")
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
    emit(world, ["check": "selftest", "passed": failed.isEmpty, "checks": Int(total), "failed": failed,
                 "thread_level": "\(MPI.providedThreadLevel)",
                 "mpi": MPI.libraryVersion.split(separator: ",").first.map(String.init) ?? ""])
}

/// Ring attention vs single-process attention (full, and per-block merged: bitwise).
func attentionCheck(_ world: Communicator) throws {
    let b = opt("batch", 1), h = opt("heads", 2), hkv = opt("kv-heads", h), s = opt("seq", 96), d = opt("dim", 32)
    let causal = flag("causal")
    var rng = Rand(s: 7)
    func tensor(_ shape: [Int]) throws -> Tensor<Float> {
        try Tensor(shape: shape, elements: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() * 2 - 1) })
    }
    let q = try tensor([b, h, s, d]), k = try tensor([b, hkv, s, d]), v = try tensor([b, hkv, s, d])
    let layout = SequenceLayout(rawValue: opt("layout", "contiguous")) ?? .contiguous
    func mine(_ t: Tensor<Float>) throws -> Tensor<Float> { try RingAttention.local(t, ranks: world.size, rank: world.rank, layout: layout) }
    let ring = RingAttention(communicator: world, causal: causal, layout: layout)
    let t0 = MPI.wallTime()
    let local = try ring.forward(query: try mine(q), key: try mine(k), value: try mine(v))
    let seconds = MPI.wallTime() - t0
    let ref = try ring.reference(query: q, key: k, value: v, ranks: world.size, rank: world.rank)
    let bitwise = try world.allreduce(local.output.toArray() == ref.output.toArray() && local.lse.toArray() == ref.lse.toArray() ? 0 : 1, op: .max) == 0
    let full = try ring.allgatherSequence(local.output)
    let fullLSE = try ring.allgatherSequence(local.lse)
    let single = try Attention(mask: causal ? .causal : .none).forward(query: q, key: k, value: v)
    emit(world, ["check": "attention", "shape": "\(b)x\(h)x\(s)x\(d)", "causal": causal, "layout": layout.rawValue,
                 "max_diff_vs_single": maxAbsDiff(full.toArray(), single.output.toArray()),
                 "lse_max_diff_vs_single": maxAbsDiff(fullLSE.toArray(), single.lse.toArray()),
                 "bitwise_vs_blockwise_single": bitwise, "fingerprint": fingerprint(full.toArray()), "seconds": seconds])
}

/// Well-separated blobs: every rank generates the same data and keeps its rows.
func blobs(n: Int, d: Int, k: Int) -> [Double] {
    var rng = Rand(s: 11)
    let centres = (0..<(k * d)).map { _ in rng.next() * 20 }
    var x = [Double](repeating: 0, count: n * d)
    for i in 0..<n { let c = i % k; for t in 0..<d { x[i * d + t] = centres[c * d + t] + rng.next() - 0.5 } }
    return x
}

/// The points of the cluster commands: a CSV file (the positional argument, read by every
/// rank) or well-separated blobs (--n, --d, --k).
func dataset() throws -> (all: [Double], n: Int, d: Int) {
    if let path = positional.first {
        let m = try ClusterCSV.read(path: path).matrix
        return (m.toArray(), m.rows, m.cols)
    }
    let n = opt("n", 20000), d = opt("d", 8)
    return (blobs(n: n, d: d, k: opt("k", 6)), n, d)
}

/// Distributed k-means vs TesseraCluster's KMeans.fit with the same initial centres.
func kmeansCheck(_ world: Communicator) throws {
    let (all, n, d) = try dataset()
    let k = opt("k", 6)
    let reduction = KMeansReduction(rawValue: opt("reduction", "ordered")) ?? .ordered
    let part = DistributedKMeans.partition(rows: n, ranks: world.size)[world.rank]
    let local = try Matrix(rows: part.count, cols: d, elements: Array(all[(part.lowerBound * d)..<(part.upperBound * d)]))
    guard k >= 1, k <= n else { throw TesseraError.invalidArgument("kmeans: k = \(k) must be in 1...\(n) (the number of points)") }
    // initial centres: rows c·n/k + c (the same on every rank; one per blob of the synthetic data)
    let initial = (0..<k).map { c -> [Double] in let i = min(n - 1, c * n / k + c); return Array(all[(i * d)..<((i + 1) * d)]) }
    let t0 = MPI.wallTime()
    let r = try DistributedKMeans.fit(local, k: k, communicator: world, initialization: .centers(initial),
                                      reduction: reduction, maxIterations: opt("max-iterations", 100))
    let seconds = MPI.wallTime() - t0
    let labels = try world.allgatherVariable(r.labels).values
    if world.rank == 0 {
        let x = try Matrix(rows: n, cols: d, elements: all)
        let single = try KMeans.fit(x, k: k, options: KMeansOptions(initialization: .centers(initial), maxIterations: opt("max-iterations", 100)))
        emit(world, ["check": "kmeans", "reduction": reduction.rawValue, "shape": "\(n)x\(d) k=\(k)",
                     "centers_bitwise": r.centers.toArray() == single.centers.toArray(),
                     "centers_max_diff": maxAbsDiff(r.centers.toArray(), single.centers.toArray()),
                     "labels_equal": labels == single.labels, "inertia": r.inertia,
                     "inertia_rel_diff": abs(r.inertia - single.inertia) / single.inertia,
                     "iterations": r.iterations, "single_iterations": single.iterations,
                     "fingerprint": fingerprint(r.centers.toArray()), "seconds": seconds])
    }
    if let out = options["labels"], world.rank == 0 { try ClusterCSV.writeLabels(labels, path: out) }
}

/// Distributed CLARA (samples on ranks) vs SampledKMedoids.clara with the same seed.
func claraCheck(_ world: Communicator) throws {
    let (all, n, d) = try dataset()
    let k = opt("k", 6)
    let x = try Matrix(rows: n, cols: d, elements: all)
    let metric: DistanceMetric
    switch opt("metric", "euclidean") {
    case "sqeuclidean": metric = .squaredEuclidean
    case "manhattan": metric = .manhattan
    case "cosine": metric = .cosine
    default: metric = .euclidean
    }
    let source = try DataDissimilarity(x, metric: metric)
    let pool = ThreadPool.shared
    let o = SampledKMedoids.CLARAOptions(samples: opt("samples", 8), sampleSize: options["sample-size"].flatMap(Int.init),
                                         fast: opt("method", "clara") != "clara" || flag("fast"),
                                         seed: UInt64(opt("seed", 0)), pool: pool)
    try world.barrier()
    let t0 = MPI.wallTime()
    let r = try DistributedCLARA.fit(source, k: k, options: o, communicator: world)
    let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
    if world.rank == 0 {
        var fields: [String: Any] = ["check": "clara", "shape": "\(n)x\(d) k=\(k)", "samples": o.samples, "fast": o.fast,
                                     "loss": r.loss, "medoids": r.medoids, "fingerprint": fingerprint(r.labels), "seconds": seconds]
        if !flag("no-reference") {
            let t1 = MPI.wallTime()
            let single = try SampledKMedoids.clara(source, k: k, options: o)
            fields["single_seconds"] = MPI.wallTime() - t1
            fields["medoids_equal"] = single.medoids == r.medoids
            fields["labels_equal"] = single.labels == r.labels
            fields["loss_bitwise"] = single.loss == r.loss
        }
        emit(world, fields)
        if let out = options["labels"] { try ClusterCSV.writeLabels(r.labels, medoids: r.medoids, path: out) }
    }
}

/// MPIPatchExchange (patch p on rank p) driven as the patch executor drives an exchange —
/// halo rows to the neighbour above/below (PCPP), statistics and K/V to all (DistriFusion),
/// fresh reads in the synchronous warm-up calls, one-call-stale reads after — checked byte for
/// byte against the expected contents, and its byte count against SharedMemoryExchange driven
/// the same way for all patches in one process. Rank 0 lags (--lag ms per call) so the others
/// run a call ahead in the stale phase.
func patchExchangeCheck(_ world: Communicator) throws {
    let calls = opt("calls", 8), warmup = opt("warmup", 2), width = opt("width", 256), lag = opt("lag", 2)
    let P = world.size, p = world.rank
    let ex = try MPIPatchExchange(communicator: world)
    ex.timeout = opt("timeout", 60.0)
    func payload(_ call: Int, _ key: Int, _ patch: Int) -> [Float] {
        let n = key == 24 ? (patch + 1) * width : (key == 16 ? 16 : width)
        return (0..<n).map { Float(call * 1_000_000 + key * 10_000 + patch * 100) + Float($0) * 0.25 }
    }
    let plan: [(key: Int, peers: PatchPeers)] = [(8, .above), (9, .below), (16, .all), (24, .all)]
    // who reads what: key 8 (sent up) from p+1, key 9 (sent down) from p-1, the rest from all
    func sources(_ key: Int, _ me: Int) -> [Int] {
        switch key {
        case 8: return me + 1 < P ? [me + 1] : []
        case 9: return me > 0 ? [me - 1] : []
        default: return (0..<P).filter { $0 != me }
        }
    }
    var bad = 0, reads = 0, mine = 0
    // two sampling runs: the second starts a new epoch (a fast rank's first messages of run 2
    // may arrive while a slow one still finishes run 1)
    for _ in 0..<opt("runs", 2) {
        ex.reset()
        for c in 0..<calls {
            let fresh = c < warmup
            if !fresh && p == 0 && lag > 0 { usleep(UInt32(lag * 1000)) }
            for (key, peers) in plan { payload(c, key, p).withUnsafeBytes { ex.publish(key: key, from: p, to: peers, bytes: $0) } }
            for (key, _) in plan {
                for q in sources(key, p) {
                    let want = fresh ? payload(c, key, q) : (c > 0 ? payload(c - 1, key, q) : nil)
                    let got = ex.contribution(key: key, of: q, fresh: fresh)
                    reads += 1
                    if let want {
                        let ok = got.map { g in g.count == want.count * 4 && want.withUnsafeBytes { w in memcmp(w.baseAddress!, g.baseAddress!, g.count) == 0 } } ?? false
                        if !ok { bad += 1; note("rank \(p) call \(c): key \(key) of patch \(q) wrong (\(got?.count ?? -1) bytes)") }
                    }
                }
            }
            ex.finishCall()
        }
        mine += ex.takeBytesSent()
    }
    ex.drain()
    let total = try world.allreduce(Int64(mine), op: .sum)
    let badAll = try world.allreduce(Int64(bad), op: .sum)
    let readsAll = try world.allreduce(Int64(reads), op: .sum)
    // the same traffic through the in-process exchange
    let shm = SharedMemoryExchange(patches: P)
    for c in 0..<calls {
        for q in 0..<P { for (key, peers) in plan { payload(c, key, q).withUnsafeBytes { shm.publish(key: key, from: q, to: peers, bytes: $0) } } }
        shm.finishCall()
    }
    let shmBytes = shm.takeBytesSent() * opt("runs", 2)
    emit(world, ["check": "patch-exchange", "calls": calls, "reads": Int(readsAll), "wrong": Int(badAll),
                 "bytes": Int(total), "shared_memory_bytes": shmBytes, "passed": badAll == 0 && Int(total) == shmBytes,
                 "wait_seconds_rank0": ex.waitSeconds])
}

/// `tessera diffuse --distributed`: a U-Net's row patches on ranks (patch p on rank p) under a
/// patch mode (sync | distrifusion | pcpp[:portion]), halos / GroupNorm statistics / K-V moving
/// through MPIPatchExchange (nonblocking sends, overlapped with compute), each denoiser call's
/// output all-gathered, against the single-process patch-parallel result of the same mode (all
/// patches in one process) computed on rank 0.
func diffuseCheck(_ world: Communicator) throws {
    let P = world.size, size = opt("size", 32), calls = opt("calls", 5)
    let mode = try PatchMode(parsing: opt("mode", "distrifusion"), warmup: opt("warmup", 1))
    let cfg = opt("random-unet", "small") == "medium"
        ? UNetConfig.small(channels: [32, 64], attentionLevels: [1], layersPerBlock: 1, groups: 8, headDim: 16)
        : UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, groups: 4, headDim: 8)
    let model = try UNetModel(config: cfg, seed: UInt64(opt("seed", 4)))
    let x = try Latent.gaussian(channels: cfg.inChannels, height: size, width: size, seed: 5)
    let timesteps = (0..<calls).map { 900 - 100 * $0 }
    let exchange = try MPIPatchExchange(communicator: world)
    let pool = try ThreadPool(threads: opt("threads", 1))
    let d = try PatchParallelDenoiser(base: model, patches: P, mode: mode, pool: pool, exchange: { _ in exchange })
    d.localPatch = world.rank
    d.beginSampling()
    try world.barrier()
    let t0 = MPI.wallTime()
    var outs: [Latent] = []
    for t in timesteps { outs.append(try d.predict(x, timestep: t, classLabel: nil)) }
    let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
    let bytes = try world.allreduce(Int64(d.callBytes.reduce(0) { $0 + $1.bytes }), op: .sum)
    exchange.drain()
    // every rank returns the full output: all ranks must agree
    let mine = outs.flatMap(\.data)
    let fp = Array(fingerprint(mine).utf8)
    let rootFP: [UInt8] = try world.broadcast(world.rank == 0 ? fp : nil, root: 0)
    let agree = try world.allreduce(rootFP == fp ? 0 : 1, op: .max) == 0
    if world.rank == 0 {
        let all = try PatchParallelDenoiser(base: model, patches: P, mode: mode, pool: pool)
        all.beginSampling()
        let t1 = MPI.wallTime()
        var ref: [Latent] = []
        for t in timesteps { ref.append(try all.predict(x, timestep: t, classLabel: nil)) }
        let singleSeconds = MPI.wallTime() - t1
        let refData = ref.flatMap(\.data)
        var rel = 0.0
        for c in 0..<calls { rel = max(rel, try DiffusionMetrics.relativeError(outs[c], ref[c])) }
        let refBytes = all.callBytes.reduce(0) { $0 + $1.bytes }
        emit(world, ["check": "diffuse", "mode": mode.description, "size": size, "calls": calls, "patches": P,
                     "bitwise_vs_single": mine == refData, "max_rel_error_vs_single": rel, "ranks_agree": agree,
                     "bytes": Int(bytes), "single_process_bytes": refBytes, "seconds": seconds,
                     "single_process_seconds": singleSeconds, "wait_seconds_rank0": exchange.waitSeconds,
                     "fingerprint": fingerprint(mine)])
    }
}

func boundary(_ s: String) -> Boundary {
    switch s {
    case "periodic": return .periodic
    case "neumann": return .neumann
    default: return .dirichlet(Double(s.split(separator: ":").last.flatMap { Double($0) } ?? 0))
    }
}

func fdGrid() throws -> Grid {
    let n = opt("n", 64), dim = opt("dims-grid", 2)
    let bc = opt("bc", "dirichlet:0").split(separator: ",").map { boundary(String($0)) }
    let bcs = (0..<dim).map { bc[min($0, bc.count - 1)] }
    return try Grid(shape: [Int](repeating: n, count: dim), lengths: [Double](repeating: 1, count: dim), boundaries: bcs)
}

/// Distributed explicit heat vs FDHeat on one process (bitwise).
func heatCheck(_ world: Communicator) throws {
    let grid = try fdGrid()
    let steps = opt("steps", 20), nu = opt("nu", 1.0)
    let dt = options["dt"].flatMap(Double.init) ?? 0.9 * FDHeat.explicitLimit(grid: grid, diffusivity: nu)
    let u0 = try Field<Double>(grid: grid) { x in x.reduce(1.0) { $0 * sin(3.1 * $1 + 0.2) } + 0.3 * x[0] }
    let transfer = HaloTransfer(rawValue: opt("transfer", "packed")) ?? .packed
    let dg = try DistributedGrid(grid: grid, communicator: world, dims: dims("dims"), transfer: transfer, pool: ThreadPool.shared)
    let heat = try DistributedHeat(initial: u0, diffusivity: nu, dt: dt, on: dg)
    let t0 = MPI.wallTime()
    try heat.advance(steps: steps, overlap: !flag("no-overlap"))
    let seconds = MPI.wallTime() - t0
    let sol = try heat.solution()
    if world.rank == 0 {
        let ref = try FDHeat(initial: u0, diffusivity: nu, dt: dt)
        let t1 = MPI.wallTime()
        try ref.advance(steps: steps)
        let singleSeconds = MPI.wallTime() - t1
        let rs = try ref.solution().toArray()
        emit(world, ["check": "heat", "grid": grid.description, "decomposition": "\(dg.cartesian.dims)",
                     "transfer": transfer.rawValue, "steps": steps, "bitwise_vs_single": sol.toArray() == rs,
                     "max_diff_vs_single": maxAbsDiff(sol.toArray(), rs), "fingerprint": fingerprint(sol.toArray()),
                     "seconds": seconds, "single_seconds": singleSeconds])
    }
}

/// Distributed CG Poisson vs FDPoisson(tiles: the same split) on one process (bitwise).
func poissonCheck(_ world: Communicator) throws {
    let grid = try fdGrid()
    let f = try Field<Double>(grid: grid) { x in x.reduce(1.0) { $0 * cos(2.3 * $1 + 0.1) } }
    let dg = try DistributedGrid(grid: grid, communicator: world, dims: dims("dims"),
                                 transfer: HaloTransfer(rawValue: opt("transfer", "packed")) ?? .packed)
    let solver = try DistributedPoisson(on: dg)
    let t0 = MPI.wallTime()
    let (sol, rep) = try solver.solve(f, tolerance: opt("tol", 1e-10))
    let seconds = MPI.wallTime() - t0
    if world.rank == 0 {
        let tiles = dg.cartesian.dims
        let ref = try FDPoisson(grid: grid, tiles: tiles).solve(f, tolerance: opt("tol", 1e-10))
        let one = try FDPoisson(grid: grid, tiles: [Int](repeating: 1, count: grid.dimensions)).solve(f, tolerance: opt("tol", 1e-10))
        let scale = one.solution.maxAbs
        emit(world, ["check": "poisson", "grid": grid.description, "decomposition": "\(tiles)",
                     "iterations": rep.iterations, "single_iterations": ref.report.iterations,
                     "residual": rep.relativeResidual, "converged": rep.converged,
                     "bitwise_vs_single_same_tiles": sol.toArray() == ref.solution.toArray(),
                     "rel_diff_vs_single_one_tile": maxAbsDiff(sol.toArray(), one.solution.toArray()) / scale,
                     "fingerprint": fingerprint(sol.toArray()), "seconds": seconds])
    }
}

// MARK: - bench workers (run by `tessera bench distributed`)

/// Halo exchange of an n³ double grid split along `--axis` (0 = z: contiguous faces, 2 = x:
/// strided faces, one double per row): Tessera packing + byte send vs OpenMPI's derived-type
/// send, interleaved. Periodic along the split axis only, so each rank exchanges its two
/// faces with the other rank(s).
func benchHalo(_ world: Communicator) throws {
    let n = opt("n", 256), reps = opt("repeats", 10), axis = opt("axis", 0)
    var bcs = [Boundary](repeating: .dirichlet(0), count: 3)
    bcs[axis] = .periodic
    var split = [1, 1, 1]
    split[axis] = world.size
    let grid = try Grid(shape: [n, n, n], lengths: [1, 1, 1], boundaries: bcs)
    let one = try ThreadPool(threads: opt("threads", 1))
    let packed = try DistributedGrid(grid: grid, communicator: world, dims: split, transfer: .packed, pool: one)
    let derived = try DistributedGrid(grid: grid, communicator: world, dims: split, transfer: .derived, pool: one)
    _ = try packed.timeHaloExchange(repeats: 2); _ = try derived.timeHaloExchange(repeats: 2)
    var a: [Double] = [], b: [Double] = []
    for _ in 0..<reps {
        a.append(contentsOf: try packed.timeHaloExchange(repeats: 1))
        b.append(contentsOf: try derived.timeHaloExchange(repeats: 1))
    }
    // the slowest rank decides a step
    a = try world.allreduce(a, op: .max); b = try world.allreduce(b, op: .max)
    let (sa, sb) = (stats(a), stats(b))
    let bytes = Double(packed.haloBytesPerExchange)
    emit(world, ["case": "halo", "n": n, "axis": axis, "ours": sa.median, "ours_min": sa.min,
                 "ours_max": sa.max, "baseline": sb.median, "baseline_min": sb.min, "baseline_max": sb.max,
                 "bytes_per_rank": bytes, "gbs": 2 * bytes / sa.median / 1e9])
}

/// Explicit heat steps at n² on this many ranks (threads per rank from --threads): seconds
/// per step, and the halo/compute split.
func benchHeat(_ world: Communicator) throws {
    let n = opt("n", 2048), steps = opt("steps", 20), dim = opt("dims-grid", 2)
    let grid = try Grid(shape: [Int](repeating: n, count: dim), lengths: [Double](repeating: 1, count: dim),
                        boundaries: [Boundary](repeating: .dirichlet(0), count: dim))
    let pool = try ThreadPool(threads: opt("threads", 1))
    let dt = 0.5 * FDHeat.explicitLimit(grid: grid, diffusivity: 1)
    let u0 = try Field<Double>(grid: grid) { x in x.reduce(1.0) { $0 * sin(3.1 * $1) } }
    let dg = try DistributedGrid(grid: grid, communicator: world, dims: dims("dims"), transfer: .packed, pool: pool)
    let heat = try DistributedHeat(initial: u0, diffusivity: 1, dt: dt, on: dg)
    try heat.advance(steps: 2)
    var samples: [Double] = []
    for _ in 0..<opt("repeats", 3) {
        try world.barrier()
        let t0 = MPI.wallTime()
        try heat.advance(steps: steps)
        samples.append(try world.allreduce((MPI.wallTime() - t0) / Double(steps), op: .max))
    }
    let s = stats(samples)
    let wait = try world.allreduce(heat.exchangeWaitSeconds, op: .max) / Double(steps * (opt("repeats", 3)) + 2)
    emit(world, ["case": "heat", "n": n, "dims": "\(dg.cartesian.dims)", "step_seconds": s.median, "step_min": s.min,
                 "step_max": s.max, "wait_seconds_per_step": wait, "cells": Double(grid.count),
                 "halo_bytes_per_rank": Double(dg.haloBytesPerExchange)])
}

/// Ring attention time on P ranks (the bench runs the single-process attention itself).
func benchAttention(_ world: Communicator) throws {
    let h = opt("heads", 4), s = opt("seq", 2048), d = opt("dim", 64), causal = flag("causal")
    var rng = Rand(s: 3)
    func tensor(_ shape: [Int]) throws -> Tensor<Float> {
        try Tensor(shape: shape, elements: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() * 2 - 1) })
    }
    let q = try tensor([1, h, s, d]), k = try tensor([1, h, s, d]), v = try tensor([1, h, s, d])
    let pool = try ThreadPool(threads: opt("threads", 1))
    // causal: contiguous blocks and the zig-zag layout interleaved in the same run
    let layouts: [SequenceLayout] = causal ? [.contiguous, .zigzag] : [.contiguous]
    var inputs: [(Tensor<Float>, Tensor<Float>, Tensor<Float>)] = []
    for l in layouts {
        func mine(_ t: Tensor<Float>) throws -> Tensor<Float> { try RingAttention.local(t, ranks: world.size, rank: world.rank, layout: l) }
        inputs.append((try mine(q), try mine(k), try mine(v)))
        _ = try RingAttention(communicator: world, causal: causal, layout: l, pool: pool).forward(query: inputs.last!.0, key: inputs.last!.1, value: inputs.last!.2)
    }
    var samples = [[Double]](repeating: [], count: layouts.count), busy = [[Double]](repeating: [], count: layouts.count)
    for _ in 0..<opt("repeats", 5) {
        for (i, l) in layouts.enumerated() {
            try world.barrier()
            let t0 = MPI.wallTime()
            _ = try RingAttention(communicator: world, causal: causal, layout: l, pool: pool).forward(query: inputs[i].0, key: inputs[i].1, value: inputs[i].2)
            let mineT = MPI.wallTime() - t0
            samples[i].append(try world.allreduce(mineT, op: .max))
            busy[i].append(try world.allreduce(mineT, op: .min))
        }
    }
    for (i, l) in layouts.enumerated() {
        let st = stats(samples[i])
        emit(world, ["case": "ring attention", "seq": s, "heads": h, "dim": d, "causal": causal, "layout": l.rawValue,
                     "seconds": st.median, "min": st.min, "max": st.max, "fastest_rank_seconds": stats(busy[i]).median])
    }
}

/// Distributed k-means time (fixed iterations) on P ranks.
func benchKMeans(_ world: Communicator) throws {
    let n = opt("n", 200_000), d = opt("d", 16), k = opt("k", 16), iters = opt("iterations", 10)
    let all = blobs(n: n, d: d, k: k)
    let part = DistributedKMeans.partition(rows: n, ranks: world.size)[world.rank]
    let local = try Matrix(rows: part.count, cols: d, elements: Array(all[(part.lowerBound * d)..<(part.upperBound * d)]))
    let initial = (0..<k).map { c in Array(all[((c * 7) * d)..<((c * 7 + 1) * d)]) }
    let pool = try ThreadPool(threads: opt("threads", 1))
    var samples: [Double] = []
    for _ in 0..<opt("repeats", 3) {
        try world.barrier()
        let t0 = MPI.wallTime()
        _ = try DistributedKMeans.fit(local, k: k, communicator: world, initialization: .centers(initial),
                                      maxIterations: iters, tolerance: 0, pool: pool)
        samples.append(try world.allreduce(MPI.wallTime() - t0, op: .max))
    }
    let st = stats(samples)
    emit(world, ["case": "kmeans", "n": n, "d": d, "k": k, "iterations": iters, "seconds": st.median, "min": st.min, "max": st.max])
}

// MARK: - main

let commands: [String: (Communicator) throws -> Void] = [
    "selftest": selftest, "attention": attentionCheck, "kmeans": kmeansCheck, "clara": claraCheck, "patch-exchange": patchExchangeCheck, "diffuse": diffuseCheck, "heat": heatCheck, "poisson": poissonCheck,
    "bench-halo": benchHalo, "bench-heat": benchHeat, "bench-attention": benchAttention, "bench-kmeans": benchKMeans,
]

guard let run = commands[command] else {
    if command != "help" { note("tessera-mpi: no distributed version of `\(command)`") }
    note("usage: mpirun -np N tessera-mpi <\(commands.keys.sorted().joined(separator: "|"))> [--option value ...]")
    note("   or: mpirun -np N tessera <pde heat|pde poisson|cluster --method kmeans|clara|attention|diffuse> --distributed [--option value ...]")
    exit(command == "help" ? 0 : 2)
}
// Ranks on one machine share its cores: unless told otherwise, give each rank's pool its share
// (spinning pools of oversubscribed ranks would fight for the cores).
if ProcessInfo.processInfo.environment["TESSERA_NUM_THREADS"] == nil,
   let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init), local > 1 {
    setenv("TESSERA_NUM_THREADS", "\(max(1, ProcessInfo.processInfo.activeProcessorCount / local))", 1)
}
do {
    // the patch exchange is entered from pool threads (under its own lock)
    let world = try MPI.initialize(threadLevel: ["patch-exchange", "diffuse"].contains(command) ? .serialized : .funneled)
    if !MPI.launchedByMPIRun && world.rank == 0 {
        note("tessera-mpi: not started by mpirun; running on one rank (use mpirun -np N for more)")
    }
    // ranks started with different options or input files would each run valid work whose
    // results do not fit together: refuse on every rank before any of it
    let inputs = positional.map { path in
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Agreed("input file", digestOf: Array($0)) } ?? Agreed("input file", "missing: \(path)")
    }
    let line = ([command] + options.keys.sorted().map { "--\($0) \(options[$0]!)" } + positional).joined(separator: " ")
    if ProcessInfo.processInfo.environment["TESSERA_MPI_SKIP_ARGUMENT_CHECK"] == nil {   // tests of the library's own checks
        try world.agree("tessera-mpi", [Agreed("the command line", line)] + inputs)
    }
    if let step = options["inject-fault-step"].flatMap(Int.init),
       options["inject-fault-rank"].flatMap(Int.init).map({ $0 == world.rank }) ?? true {
        // tests: a throw between posting the ring's transfers and waiting for them
        RingAttention.injectedFault = { (s: Int) throws(TesseraError) in
            if s == step { throw .invalidState("injected fault at ring step \(s) on rank \(world.rank)") }
        }
    }
    try run(world)
    try MPI.finalize()
} catch {
    note("tessera-mpi \(command): error: \(error)")
    // one failing rank must not leave the others waiting in a collective
    if MPI.isInitialized && !MPI.isFinalized { MPI.abort(code: 1) }
    exit(1)
}
