import Foundation

/// `tessera bench serve`: `tessera serve` against llama.cpp's `llama-server` — aggregate generated
/// tokens/s at 1, 4, 16 and 32 concurrent streams, time to first token p50/p99, and one stream
/// through the server against `tessera generate` — on SmolLM2-135M and Gemma 3 270M. The client
/// is bench/serve/bench_serve.py (build/python-venv, made by `make python-venv`); the peer is
/// built by bench/serve/setup-llama-server (pinned; skipped with a note when it cannot be built).
/// Ours and the peer alternate round by round; each JSON line of the driver becomes one record.
func runServeBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let env = ProcessInfo.processInfo.environment
    let root = env["TESSERA_ROOT"] ?? FileManager.default.currentDirectoryPath
    let script = root + "/bench/serve/bench_serve.py"
    let python = env["TESSERA_PYTHON"] ?? root + "/build/python-venv/bin/python"
    let fm = FileManager.default
    guard fm.fileExists(atPath: script), fm.isExecutableFile(atPath: python) else {
        out.note("serve: \(script) or \(python) missing: run `make python-venv` at the repository root (or set TESSERA_ROOT / TESSERA_PYTHON)")
        return
    }
    let tessera = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("tessera").path
    guard fm.isExecutableFile(atPath: tessera) else {
        out.note("serve: \(tessera) missing: build the tessera product beside tessera-bench")
        return
    }
    var models: [String] = []
    for name in ["smollm2", "gemma3-270m"] {
        if let path = serveBenchCapture(root + "/scripts/fetch-model", [name]), fm.fileExists(atPath: path) {
            models.append(path)
        } else {
            out.note("serve: model \(name) unavailable (scripts/fetch-model \(name)); skipped")
        }
    }
    guard !models.isEmpty else { return }
    var args = [script, "--tessera", tessera, "--threads", String(ctx.threads)] + models.flatMap { ["--model", $0] }
    if ctx.quick { args.append("--quick") }
    if let peer = serveBenchCapture(root + "/bench/serve/setup-llama-server", []), fm.isExecutableFile(atPath: peer) {
        args += ["--llama-server", peer]
    } else {
        out.note("serve: llama-server could not be built (bench/serve/setup-llama-server); comparing with ours at 1 stream only")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    for line in text.split(separator: "\n") {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let name = obj["case"] as? String, let ours = obj["ours"] as? Double,
              let base = obj["baseline"] as? Double else { continue }
        var r = BenchRecord(name: name, unit: obj["unit"] as? String ?? "tok/s", ours: ours,
                            baselineName: obj["baseline_name"] as? String ?? "?", baseline: base,
                            speedup: obj["speedup"] as? Double, threads: obj["threads"] as? Int ?? ctx.threads)
        for (k, v) in obj where !["case", "unit", "ours", "baseline", "baseline_name", "threads", "speedup"].contains(k) {
            if let d = v as? Double { r.extra[k] = d } else if let s = v as? String { r.notes[k] = s }
        }
        out.emit(r)
    }
    if p.terminationStatus != 0 { out.note("serve: bench_serve.py exited with status \(p.terminationStatus)") }
}

/// The last line a helper script prints on stdout (its result path), or nil when it fails.
private func serveBenchCapture(_ exe: String, _ args: [String]) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    guard (try? p.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) }
}
