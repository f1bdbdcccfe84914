import COpenBLAS
import Foundation
import Tessera
import TesseraModels

/// `tessera bench llm`: SmolLM2-135M-Instruct Q4_1 (or the GGUF in TESSERA_BENCH_MODEL, e.g.
/// Gemma 3 270M Q4_K_M) end to end on all cores — RSS growth over the first load,
/// load time, prefill tokens/s (128 and 512-token prompts) against the SGEMM-equivalent rate
/// of the same FLOPs measured in this run, decode tokens/s (128 tokens) against the floor set
/// by the bytes read per token at the read bandwidth measured in this run, a per-token time
/// breakdown, and plain vs speculative greedy decoding on a copy-heavy prompt.
/// When the llama.cpp peer is installed (bench/models/setup-llamacpp, or TESSERA_BENCH_LLAMACPP=1
/// to build it), prefill and decode are also compared with llama.cpp on the same file and on
/// the model requantized to Q4_0 (its best CPU format): medians of ≥ 5 alternated rounds (ours
/// and the peer never at once), each round's load average recorded, rounds taken while the box
/// was busy (load average above TESSERA_BENCH_MAX_LOAD, default 2.5, or the run's read probe
/// below 0.7 of its best) refused and retried (`BoxGuard`, `AlternatedRounds`).
func runModelsBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let path = try benchModelPath(out)
    let repeats = ctx.quick ? 3 : 7

    // ---- limits of this run
    let llc = max(Topology.current.l3Bytes, 8 << 20)
    let probe = try MachineProbe(count: min(max(2 * llc, 256 << 20), 1 << 30) / 8, pool: pool)
    var readBW = try probe.readBandwidth(pool: pool, passes: ctx.quick ? 3 : 7)

    let peer = LlamaCppPeer.start(modelPath: path, threads: threads, note: out.note)
    // llama.cpp on its own best format for this CPU: the model requantized to Q4_0 (cached)
    let peerQ4 = peer == nil ? nil : requantizedQ4_0(path, note: out.note).flatMap {
        LlamaCppPeer.start(modelPath: $0, threads: threads, note: out.note)
    }
    var peers: [(name: String, peer: LlamaCppPeer)] = []
    if let peer { peers.append((name: "same file", peer: peer)) }
    if let peerQ4 { peers.append((name: "Q4_0 requantized", peer: peerQ4)) }
    let box = BoxGuard(probe: probe, pool: pool, bandwidth: readBW)
    let rounds = max(5, repeats)

    // ---- load time, and the memory the model keeps (process RSS growth over the first load)
    let rssBefore = processRSSBytes()
    var model = try LlamaModel(path: path)
    let rssAfterLoad = processRSSBytes() - rssBefore
    let residentAtLoad = model.residentBytes
    var loads = [Double]()
    for _ in 0..<(ctx.quick ? 2 : 4) {
        let t0 = benchNow()
        model = try LlamaModel(path: path)
        loads.append(benchNow() - t0)
    }
    let load = summarize(loads)
    let label = "\(model.config.name) (\(model.config.architecture))"
    out.emit(BenchRecord(name: "llm load \(label) (mmap+validate+repack)", unit: "s", ours: load.median,
                         baselineName: peer != nil ? "llama.cpp load" : "target 1 s", baseline: peer?.loadSeconds ?? 1.0,
                         limitName: "target_s", limit: 1.0, fraction: load.median / 1.0, threads: threads,
                         extra: ["min": load.min, "max": load.max, "model_bytes": Double(model.file.fileSize),
                                 "rss_growth_first_load_bytes": Double(rssAfterLoad),
                                 "rss_over_file": Double(rssAfterLoad) / Double(model.file.fileSize),
                                 "resident_bytes": Double(residentAtLoad)],
                         notes: ["kernels": model.kernelDescription]))

    let c = model.config
    let gen = try Generator(model: model, contextLength: 1024)
    let session = gen.session
    let text = "The history of the city begins in the early middle ages, when a small settlement grew around the river crossing. Merchants and craftsmen built houses along the banks, and the town soon became a center of trade for the whole region. "
    var base = model.tokenizer.encode(text)
    while base.count < 512 { base += base }

    // TESSERA_BENCH_PREFILL_LOOP=N: only N prefills of 128 tokens, for a profiler (perf record)
    if let n = ProcessInfo.processInfo.environment["TESSERA_BENCH_PREFILL_LOOP"].flatMap(Int.init), n > 0 {
        // TESSERA_BENCH_PREFILL_ROWS=R: steps of R rows on a workspace of that size (default: the session's)
        let stepRows = ProcessInfo.processInfo.environment["TESSERA_BENCH_PREFILL_ROWS"].flatMap(Int.init)
        let ws = try stepRows.map { try ForwardWorkspace(model: model, rows: $0, logitRows: 1) }
        let toks = Array(base.prefix(128))
        var times = [Double]()
        for _ in 0..<n {
            let t0 = benchNow()
            session.reset()
            if let ws { _ = try model.forward(batch: [BatchEntry(session: session, tokens: toks)], workspace: ws) }
            else { try session.forward(toks, logits: .last) }
            times.append(benchNow() - t0)
        }
        let s = summarize(times)
        out.note("llm: prefill loop, \(n) × 128 tokens: median \(String(format: "%.4f", s.median)) s (\(String(format: "%.4f", s.min))–\(String(format: "%.4f", s.max))), \(String(format: "%.0f", 128 / s.median)) tok/s")
        return
    }

    // TESSERA_BENCH_BATCH_DECODE=S: S sessions decoding together (one batched forward per step,
    // as `tessera serve` runs them, without the server), per-step projections/attention/rest
    if let s = ProcessInfo.processInfo.environment["TESSERA_BENCH_BATCH_DECODE"].flatMap(Int.init), s > 0 {
        try batchDecodeLoop(model: model, streams: s, prompt: Array(base.prefix(16)), steps: 128, out: out)
        return
    }

    // ---- prefill vs SGEMM-equivalent (OpenBLAS f32, same projection shapes, same rows)
    let sgemm = SgemmEquivalent(config: c)
    // the machine's SGEMM rate (OpenBLAS, 1024^3 f32, all cores): the limit prefill is held to
    let sq = 1024
    var sa = [Float](repeating: 0.5, count: sq * sq), sb = sa, sc = sa
    let sqTime = measure(repeats: ctx.quick ? 3 : 5, warmup: 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(sq), Int32(sq), Int32(sq), 1, &sa, Int32(sq), &sb, Int32(sq), 0, &sc, Int32(sq))
    }
    let sgemmPeak = 2 * Double(sq * sq * sq) / sqTime.median
    out.note("llm: OpenBLAS SGEMM 1024^3 \(String(format: "%.1f", sgemmPeak / 1e9)) GFLOP/s, read bandwidth \(String(format: "%.1f", readBW / 1e9)) GB/s")
    for t in ctx.quick ? [128] : [128, 512] {
        let toks = Array(base.prefix(t))
        let flops = 2.0 * Double(t) * Double(c.projectionMACsPerToken - c.embeddingLength * c.vocabularySize)
            + 2.0 * Double(c.embeddingLength * c.vocabularySize)
        let ours = { () throws -> Void in session.reset(); try session.forward(toks, logits: .last) }
        let pair = try measurePairs(repeats: repeats, warmup: 1, ours: ours, baseline: { sgemm.run(rows: t) })
        let sameShapeRate = flops / pair.baseline.median
        let ourRate = flops / pair.ours.median
        out.emit(BenchRecord(name: "llm prefill \(t) tokens (hot)", unit: "s", ours: pair.ours.median,
                             baselineName: "openblas sgemm f32, same shapes and flops", baseline: pair.baseline.median,
                             limitName: "sgemm_1024_gflops", limit: sgemmPeak / 1e9, fraction: ourRate / sgemmPeak, threads: threads,
                             extra: ["tokens_per_s": Double(t) / pair.ours.median, "gflops": ourRate / 1e9,
                                     "same_shape_sgemm_gflops": sameShapeRate / 1e9,
                                     "min": pair.ours.min, "max": pair.ours.max]))
        for (which, peer) in peers {
            _ = try peer.prefill(toks)  // warm-up
            let r = try AlternatedRounds(wanted: rounds, guard: box,
                                         ours: { let t0 = benchNow(); try ours(); return benchNow() - t0 },
                                         peer: { try peer.prefill(toks) })
            out.emit(peerRecord("llm prefill \(t) tokens vs llama.cpp (\(which))", r, goal: 2.0, tokens: Double(t),
                                peer: peer, box: box, threads: threads))
        }
    }

    // ---- decode 128 tokens (greedy), weights streamed from DRAM every token
    let nDecode = ctx.quick ? 32 : 128
    let prompt = Array(base.prefix(16))
    var greedyOut = [Int]()
    var prof = ForwardProfile()
    // A/B in the same run: the same model loaded without q/k/v and gate/up fusion
    let unfused = try Generator(model: try LlamaModel(path: path, options: ModelOptions(fuseProjections: false)),
                                contextLength: 1024)
    var unfusedOut = [Int]()
    /// One timed decode of nDecode tokens; `record`: keep its profile and tokens, else (when
    /// `keepUnfused`) its tokens as the unfused variant's.
    func decodeOnce(_ session: LlamaSession, record: Bool, keepUnfused: Bool = true) throws -> Double {
        session.reset()
        var next = 0
        try session.forward(prompt, logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in next = Sampler.argmax(l) }
        let p0 = session.profile
        let t0 = benchNow()
        var toks = [next]
        for _ in 1..<nDecode {
            try session.forward([next], logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in next = Sampler.argmax(l) }
            toks.append(next)
        }
        let dt = benchNow() - t0
        if !record { if keepUnfused { unfusedOut = toks }; return dt }
        let p1 = session.profile
        prof = ForwardProfile()
        prof.projections = p1.projections - p0.projections
        prof.attention = p1.attention - p0.attention
        prof.rest = p1.rest - p0.rest
        greedyOut = toks
        return dt
    }
    var ours = [Double](), unfusedTimes = [Double]()
    readBW = max(readBW, try probe.readBandwidth(pool: pool, passes: 3))
    // A second, stricter limit: the same prefetching read over a buffer the size of what a
    // token streams, which fits the L3 here like the weights do ("warm" read bandwidth).
    let warmProbe = try MachineProbe(count: max(model.streamedBytesPerToken, 1 << 20) / 8, pool: pool)
    var warmBW = try warmProbe.readBandwidth(pool: pool, passes: 3)
    for i in 0..<(repeats + 1) {
        // alternate which variant goes first so a load burst does not always hit the same one
        var d = 0.0, u = 0.0
        if i % 2 == 0 {
            d = try decodeOnce(session, record: true); u = try decodeOnce(unfused.session, record: false)
        } else {
            u = try decodeOnce(unfused.session, record: false); d = try decodeOnce(session, record: true)
        }
        if i > 0 { ours.append(d); unfusedTimes.append(u) }
        if i % 2 == 1 { readBW = max(readBW, try probe.readBandwidth(pool: pool, passes: 2)) }
        else { warmBW = max(warmBW, try warmProbe.readBandwidth(pool: pool, passes: 3)) }
    }
    let dec = summarize(ours)
    let steps = Double(nDecode - 1)
    let perToken = dec.median / steps
    let avgCtx = Double(prompt.count + nDecode / 2)
    let kvBytes = 2.0 * Double(c.layers * c.kvHeads * c.headDim * 4) * avgCtx
    let bytesPerToken = Double(model.weightBytesPerToken) + kvBytes
    let floor = bytesPerToken / readBW
    let totalProf = max(prof.total, 1e-12)
    // honest label: the weights are streamed once per token; "cold" only when they exceed 4x the L3
    let temperature = bytesPerToken >= 4 * Double(llc) ? "cold" : "warm"
    out.emit(BenchRecord(name: "llm decode \(nDecode) tokens (\(temperature): \(Int(bytesPerToken) >> 20) MiB/token streamed, L3 \(llc >> 20) MiB)",
                         unit: "s/token", ours: perToken,
                         baselineName: "read-bandwidth floor", baseline: floor,
                         limitName: "read_bandwidth_floor_s", limit: floor, fraction: floor / perToken, threads: threads,
                         extra: ["tokens_per_s": 1 / perToken, "bytes_per_token": bytesPerToken, "gbs": bytesPerToken / perToken / 1e9,
                                 "read_gbs": readBW / 1e9, "floor_ratio": perToken / floor,
                                 "warm_read_gbs": warmBW / 1e9, "warm_floor_ratio": perToken * warmBW / bytesPerToken,
                                 "packed_bytes_per_token": Double(model.streamedBytesPerToken) + kvBytes,
                                 "min": dec.min / steps, "max": dec.max / steps,
                                 "projections_s": prof.projections / steps, "attention_s": prof.attention / steps,
                                 "rest_s": prof.rest / steps,
                                 "projections_frac": prof.projections / totalProf, "attention_frac": prof.attention / totalProf,
                                 "rest_frac": prof.rest / totalProf]))
    let unf = summarize(unfusedTimes)
    out.emit(BenchRecord(name: "llm decode \(nDecode) tokens: fused q/k/v + gate/up vs separate projections (interleaved)",
                         unit: "s/token", ours: perToken, baselineName: "unfused (TESSERA_LLM_FUSE=0)",
                         baseline: unf.median / steps,
                         limitName: "read_bandwidth_floor_s", limit: floor, fraction: floor / perToken, threads: threads,
                         extra: ["unfused_floor_ratio": unf.median / steps / floor, "floor_ratio": perToken / floor,
                                 "min": dec.min / steps, "unfused_min": unf.min / steps,
                                 "min_floor_ratio": dec.min / steps / floor, "unfused_min_floor_ratio": unf.min / steps / floor,
                                 "same_tokens": greedyOut == unfusedOut ? 1 : 0]))
    // the same decode against llama.cpp: alternated whole runs (n tokens each), busy rounds refused
    for (which, peer) in peers {
        let r = try AlternatedRounds(wanted: rounds, guard: box,
                                     ours: { try decodeOnce(session, record: false, keepUnfused: false) / steps },
                                     peer: { try peer.decode(prompt, n: nDecode).seconds / Double(nDecode) })
        var rec = peerRecord("llm decode \(nDecode) tokens vs llama.cpp (\(which))", r, goal: 1.5, tokens: 1,
                             peer: peer, box: box, threads: threads)
        rec.extra["floor_ratio"] = r.medians.ours / floor
        out.emit(rec)
        if which == "same file" {
            let same = (try? peer.decode(prompt, n: nDecode).out) == greedyOut
            out.note("llm: llama.cpp greedy decode \(same ? "matches" : "differs from") ours on this prompt")
        }
    }

    try runModelsSpeculativeCase(ctx, generator: gen, threads: threads)
    for (_, peer) in peers { peer.stop() }
}

/// A comparison with the llama.cpp peer from alternated rounds: times per token (or per
/// prompt), `speedup` = peer ÷ ours, `fraction` = speedup ÷ the goal, the box's state beside it.
private func peerRecord(_ name: String, _ r: AlternatedRounds, goal: Double, tokens: Double, peer: LlamaCppPeer,
                        box: BoxGuard, threads: Int) -> BenchRecord {
    let m = r.medians
    var extra = r.extra(scale: 1)
    extra["tokens_per_s"] = tokens / m.ours
    extra["baseline_tokens_per_s"] = tokens / m.peer
    extra["max_load_allowed"] = box.maxLoad
    extra["read_gbs_best"] = box.bestBandwidth / 1e9
    let speedup = m.peer / m.ours
    return BenchRecord(name: name + r.nameSuffix, unit: tokens == 1 ? "s/token" : "s", ours: m.ours,
                       baselineName: "llama.cpp \(peer.version)", baseline: m.peer, speedup: speedup,
                       limitName: "goal_speedup", limit: goal, fraction: speedup / goal, threads: threads,
                       extra: extra, notes: ["load_avg_rounds": r.loadsText, "rounds": "alternated, medians of clean rounds"])
}

/// `path` requantized to Q4_0 with Tessera's quantizer, cached beside it (nil, with a note, on
/// failure). llama.cpp's fastest CPU format is Q4_0 (its repacked AVX-512 kernels).
private func requantizedQ4_0(_ path: String, note: (String) -> Void) -> String? {
    let url = URL(fileURLWithPath: path)
    let dest = url.deletingLastPathComponent().appendingPathComponent(
        url.deletingPathExtension().lastPathComponent + ".tessera-Q4_0.gguf").path
    if FileManager.default.fileExists(atPath: dest) { return dest }
    note("llm: requantizing \(url.lastPathComponent) to Q4_0 for the llama.cpp peer ...")
    do {
        let file = try GGUFFile(path: path)
        try ModelQuantizer.quantize(file, to: GGMLType.q4_0).write(to: dest + ".part")
        try FileManager.default.moveItem(atPath: dest + ".part", toPath: dest)
        return dest
    } catch {
        note("llm: Q4_0 requantization failed (\(error)); no best-format peer")
        return nil
    }
}

/// The reference model's path (fetched with scripts/fetch-model when missing).
/// The process's resident set (`VmRSS` of /proc/self/status), bytes; 0 where unreadable.
private func processRSSBytes() -> Int {
    guard let fp = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(fp) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), fp) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmRSS:") {
            // "VmRSS:\t  123456 kB": tabs and spaces
            return (s.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0) * 1024
        }
    }
    return 0
}

private func benchModelPath(_ out: BenchOutput) throws -> String {
    let env = ProcessInfo.processInfo.environment
    if let p = env["TESSERA_BENCH_MODEL"] { return p }
    let dir = env["TESSERA_MODEL_DIR"] ?? (NSHomeDirectory() + "/.cache/tessera/models")
    let path = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    if FileManager.default.fileExists(atPath: path) { return path }
    out.note("llm: fetching the reference model with scripts/fetch-model ...")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "scripts/fetch-model")
    try p.run()
    p.waitUntilExit()
    guard FileManager.default.fileExists(atPath: path) else {
        throw TesseraError.io("llm bench: \(path) missing and scripts/fetch-model failed")
    }
    return path
}

/// OpenBLAS SGEMM over the model's projection shapes (f32 weights, random), `rows` activation
/// rows per layer and one row for the output head: the prefill FLOPs at SGEMM speed.
private final class SgemmEquivalent {
    let shapes: [(n: Int, k: Int, count: Int)]
    let weights: [[Float]]
    var x: [Float], y: [Float]
    let headN: Int, headK: Int
    let head: [Float]

    init(config c: LlamaConfig) {
        let d = c.embeddingLength, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim, f = c.feedForwardLength
        shapes = [(q, d, 1), (kv, d, 2), (d, q, 1), (f, d, 2), (d, f, 1)]
        // deterministic xorshift values: Float.random draws from getrandom per call, which took
        // tens of seconds for Gemma's 167M-element head
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func fill(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
                return Float(Double(seed >> 11) / Double(1 << 53) * 0.1 - 0.05)
            }
        }
        weights = shapes.map { s in fill(s.n * s.k) }
        x = [Float](repeating: 0.01, count: 512 * max(d, f, q))
        y = [Float](repeating: 0, count: 512 * max(d, f, q))
        headN = c.vocabularySize; headK = d
        head = fill(headN * headK)
        layers = c.layers
    }
    let layers: Int

    func run(rows m: Int) {
        x.withUnsafeMutableBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                for _ in 0..<layers {
                    for (i, s) in shapes.enumerated() {
                        for _ in 0..<s.count {
                            weights[i].withUnsafeBufferPointer { wb in
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(s.n), Int32(s.k), 1,
                                            xb.baseAddress, Int32(s.k), wb.baseAddress, Int32(s.k), 0, yb.baseAddress, Int32(s.n))
                            }
                        }
                    }
                }
                head.withUnsafeBufferPointer { wb in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 1, Int32(headN), Int32(headK), 1,
                                xb.baseAddress, Int32(headK), wb.baseAddress, Int32(headK), 0, yb.baseAddress, Int32(headN))
                }
            }
        }
    }
}

/// The llama.cpp peer (bench/models/llamacpp_peer.py) as a long-lived child process.
private final class LlamaCppPeer {
    let process: Process
    let input: FileHandle
    let output: FileHandle
    var buffer = Data()
    var loadSeconds = 0.0
    var version = "?"

    init(process: Process, input: FileHandle, output: FileHandle) {
        self.process = process
        self.input = input
        self.output = output
    }

    static func start(modelPath: String, threads: Int, note: (String) -> Void) -> LlamaCppPeer? {
        let env = ProcessInfo.processInfo.environment
        let venv = env["TESSERA_LLAMACPP_VENV"] ?? (NSHomeDirectory() + "/.cache/tessera/venv-llamacpp")
        var python = venv + "/bin/python"
        if !FileManager.default.isExecutableFile(atPath: python) {
            guard env["TESSERA_BENCH_LLAMACPP"] == "1" else {
                note("llm: llama.cpp peer not installed (run bench/models/setup-llamacpp, or set TESSERA_BENCH_LLAMACPP=1); comparing with machine limits only")
                return nil
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "bench/models/setup-llamacpp")
            let pipe = Pipe()
            p.standardOutput = pipe
            do { try p.run() } catch { return nil }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            python = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard p.terminationStatus == 0 else { note("llm: llama.cpp peer setup failed"); return nil }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["bench/models/llamacpp_peer.py", modelPath, String(threads)]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        do { try p.run() } catch { note("llm: cannot start the llama.cpp peer: \(error)"); return nil }
        let peer = LlamaCppPeer(process: p, input: inPipe.fileHandleForWriting, output: outPipe.fileHandleForReading)
        guard let hello = peer.readJSON(), hello["ready"] as? Bool == true else {
            note("llm: the llama.cpp peer did not start")
            p.terminate()
            return nil
        }
        peer.loadSeconds = hello["load_seconds"] as? Double ?? 0
        peer.version = hello["version"] as? String ?? "?"
        note("llm: llama.cpp peer \(peer.version) ready (\(threads) threads)")
        return peer
    }

    private func readJSON() -> [String: Any]? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                return (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
            }
            let chunk = output.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    private func call(_ cmd: [String: Any]) throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: cmd) + Data("\n".utf8)
        input.write(data)
        guard let r = readJSON(), r["error"] == nil else { throw TesseraError.io("llama.cpp peer failed on \(cmd["op"] ?? "?")") }
        return r
    }

    func prefill(_ tokens: [Int]) throws -> Double {
        try call(["op": "prefill", "tokens": tokens])["seconds"] as? Double ?? 0
    }

    func decode(_ tokens: [Int], n: Int) throws -> (seconds: Double, out: [Int]) {
        let r = try call(["op": "decode", "tokens": tokens, "n": n])
        return (r["seconds"] as? Double ?? 0, (r["out"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [])
    }

    func stop() {
        input.write(Data("{\"op\": \"quit\"}\n".utf8))
        process.waitUntilExit()
    }
}

/// `streams` sessions fed `prompt` (each its own prefill), then `steps` greedy decode steps
/// of all of them in one batched forward each (`LlamaModel.forwardStep`, the server's call),
/// three times; prints ms per step split into projections, attention and the rest, and the
/// same step's projections called back to back (`LlamaModel.projectionSeconds`): what the
/// forward's other work between the calls costs them.
private func batchDecodeLoop(model: LlamaModel, streams: Int, prompt: [Int], steps: Int, out: BenchOutput) throws {
    let sessions = try (0..<streams).map { _ in try model.makeSession(contextLength: 1024) }
    let ws = try ForwardWorkspace(model: model, rows: streams, logitRows: streams)
    let vsz = model.config.vocabularySize
    for round in 0..<3 {
        var next = [Int](repeating: 0, count: streams)
        for (i, s) in sessions.enumerated() {
            s.reset()
            try s.forward(prompt, logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in next[i] = Sampler.argmax(l) }
        }
        let p0 = sessions.map(\.profile)
        let t0 = benchNow()
        for _ in 0..<steps {
            let rows = try model.forwardStep(batch: sessions.enumerated().map { BatchEntry(session: $1, tokens: [next[$0]]) },
                                             workspace: ws)
            for i in 0..<streams {
                next[i] = Sampler.argmax(UnsafeBufferPointer(rebasing: rows[i][0..<vsz]))
            }
        }
        let wall = benchNow() - t0
        var proj = 0.0, att = 0.0, rest = 0.0
        for (i, s) in sessions.enumerated() {
            proj += s.profile.projections - p0[i].projections
            att += s.profile.attention - p0[i].attention
            rest += s.profile.rest - p0[i].rest
        }
        // the same projections back to back, on the model's plans and this step's activations
        var alone = 0.0
        for _ in 0..<steps { alone += try model.projectionSeconds(rows: streams, workspace: ws) }
        let ms = { (x: Double) in String(format: "%.2f", 1e3 * x / Double(steps)) }
        out.note("llm: batched decode, \(streams) stream(s), round \(round): \(ms(wall)) ms/step (\(String(format: "%.0f", Double(streams * steps) / wall)) tok/s); projections \(ms(proj)), attention \(ms(att)), rest \(ms(rest)); the same projections back to back \(ms(alone))")
    }
}
