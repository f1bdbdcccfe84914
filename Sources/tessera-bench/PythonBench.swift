import Foundation

/// `tessera bench python`: the Python package (python/) against its baselines — the direct C call
/// (Python-call overhead), the `kmedoids` package, scikit-learn's SparseRandomProjection and the
/// `fastrp` package. The cases run in python/bench/bench_python.py with build/python-venv (made by
/// `make python`; the `fastrp` peer is installed into it on first use); each case alternates ours
/// and its baseline round by round, and its JSON line becomes one record here.
func runPythonBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let env = ProcessInfo.processInfo.environment
    let root = env["TESSERA_ROOT"] ?? FileManager.default.currentDirectoryPath
    let script = root + "/python/bench/bench_python.py"
    let python = env["TESSERA_PYTHON"] ?? root + "/build/python-venv/bin/python"
    guard FileManager.default.fileExists(atPath: script), FileManager.default.isExecutableFile(atPath: python) else {
        out.note("python: \(script) or \(python) missing: run `make python` at the repository root (or set TESSERA_ROOT / TESSERA_PYTHON)")
        return
    }
    if !pythonRun(python, ["-c", "import fastrp"], out) {
        out.note("python: installing the fastrp peer (pip install fastrp) into \(python)")
        _ = pythonRun(python, ["-m", "pip", "install", "-q", "--disable-pip-version-check", "fastrp"], out)
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script] + (ctx.quick ? ["--quick"] : [])
    var penv = env
    penv["TESSERA_NUM_THREADS"] = String(ctx.threads)
    penv["RAYON_NUM_THREADS"] = String(ctx.threads)
    penv["OMP_NUM_THREADS"] = String(ctx.threads)
    penv["OPENBLAS_NUM_THREADS"] = String(ctx.threads)
    p.environment = penv
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    for line in text.split(separator: "\n") {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let name = obj["case"] as? String else { continue }
        guard let ours = obj["ours"] as? Double, let base = obj["baseline"] as? Double else {
            out.note("python: \(name): \(obj["unavailable"] as? String ?? String(line))")
            continue
        }
        var r = BenchRecord(name: "python " + name, unit: obj["unit"] as? String ?? "s", ours: ours,
                            baselineName: obj["baseline_name"] as? String ?? "?", baseline: base,
                            threads: obj["threads"] as? Int ?? ctx.threads)
        for (k, v) in obj where !["case", "unit", "ours", "baseline", "baseline_name", "threads", "speedup"].contains(k) {
            if let d = v as? Double { r.extra[k] = d } else if let s = v as? String { r.notes[k] = s }
        }
        out.emit(r)
    }
    if p.terminationStatus != 0 { out.note("python: bench_python.py exited with status \(p.terminationStatus)") }
}

/// Runs `python args` quietly; true on exit status 0.
private func pythonRun(_ python: String, _ args: [String], _ out: BenchOutput) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}
