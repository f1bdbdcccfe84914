import Foundation

/// A long-lived peer process that answers one JSON line per request line (the PDE and
/// diffusion benches alternate rounds with it: the peer stays warm, so each round times only
/// the work). Started with an explicit interpreter (the bench's pinned venv).
final class PeerLineProcess {
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffer = Data()
    /// The first line the peer printed (its "ready" object with versions).
    private(set) var hello: [String: Any] = [:]

    /// Starts `executable args…`, waits for its first JSON line; nil (with a note) on failure.
    init?(executable: String, args: [String], note: (String) -> Void) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.standardInput = input
        process.standardOutput = output
        do { try process.run() } catch { note("cannot start \(executable): \(error)"); return nil }
        guard let h = readLine() else { note("peer \(args.first ?? executable) exited before it was ready"); return nil }
        hello = h
    }

    /// Sends one line, returns the reply parsed as JSON (nil if the peer died).
    func request(_ line: String) -> [String: Any]? {
        guard process.isRunning else { return nil }
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        return readLine()
    }

    private func readLine() -> [String: Any]? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let reply = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                return (try? JSONSerialization.jsonObject(with: reply)) as? [String: Any]
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    /// Ends the peer (an empty line), waits for it.
    func close() {
        if process.isRunning { input.fileHandleForWriting.write(Data("\n".utf8)) }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// The repository root: the working directory or one of its parents holding `marker`, else the
/// checkout this binary was built from.
func benchRepositoryRoot(marker: String) -> String? {
    var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    for _ in 0..<6 {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent(marker).path) { return dir.path }
        dir.deleteLastPathComponent()
    }
    let src = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return FileManager.default.fileExists(atPath: src.appendingPathComponent(marker).path) ? src.path : nil
}

/// Runs a setup script that prints the path of a pinned venv's python (installing it on first use).
func benchPeerPython(setup script: String, note: (String) -> Void) -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["bash", script]
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { note("cannot run \(script): \(error)"); return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
        note("\(script) failed (status \(p.terminationStatus))"); return nil
    }
    return String(line)
}

/// The 1-minute load average now (recorded beside every peer comparison: the box is shared).
func benchLoadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
          let first = text.split(separator: " ").first, let v = Double(first) else { return .nan }
    return v
}

/// Alternated rounds against a peer: each round runs `ours` (which times `perRound` runs and returns
/// their median) and asks the peer for `perRound` runs ("K" → {"seconds": […]}, median taken), in
/// the order A B, B A, … Returns the per-round medians of both sides and the per-round ratios
/// (peer / ours), or nil if the peer never answered.
func alternateRounds(with peer: PeerLineProcess, rounds: Int, perRound: Int,
                     ours: () throws -> Double) rethrows -> (ours: TimingSummary, peer: TimingSummary, ratio: TimingSummary)? {
    var a: [Double] = [], b: [Double] = [], q: [Double] = []
    func runPeer() -> Double {
        guard let reply = peer.request("\(perRound)"), let ts = reply["seconds"] as? [Double], !ts.isEmpty else { return .nan }
        return summarize(ts).median
    }
    for r in 0..<rounds {
        let x: Double, y: Double
        if r % 2 == 0 { x = try ours(); y = runPeer() } else { y = runPeer(); x = try ours() }
        guard y.isFinite else { break }
        a.append(x); b.append(y); q.append(y / x)
    }
    return a.isEmpty ? nil : (summarize(a), summarize(b), summarize(q))
}
