// Test support shared by the Swift test targets (one copy, not one per target).
import Foundation
import Synchronization
import Testing
import Tessera


/// Collects progress reports (called on the work thread) and cancels a task once a report
/// reaches `cancelAt`.
public final class ProgressProbe: Sendable {
    public let reports = Mutex<[ProgressReport]>([])
    public let task = Mutex<Task<Void, Never>?>(nil)
    public let cancelAt: Int?
    public init(cancelAt: Int? = nil) { self.cancelAt = cancelAt }

    public var handler: ProgressHandler {
        { r in
            self.reports.withLock { $0.append(r) }
            if let c = self.cancelAt, r.completed >= c { self.task.withLock { $0?.cancel() } }
        }
    }
    public var all: [ProgressReport] { reports.withLock { $0 } }
    public var done: Int { all.map(\.completed).max() ?? 0 }

    /// Monotone, one total, and (for a finished call) ending at the total.
    public func checkMonotone(finished: Bool) {
        let r = all
        #expect(!r.isEmpty)
        for (a, b) in zip(r, r.dropFirst()) {
            #expect(a.completed <= b.completed)
            #expect(a.total == b.total)
        }
        if finished, let last = r.last { #expect(last.completed == last.total) }
    }

    /// Runs `body` in a task that this probe cancels once progress reaches `cancelAt`; returns
    /// the error it threw (nil if it finished).
    public func runCancelled(_ body: @escaping @Sendable () async throws -> Void) async -> (any Error)? {
        let error = Mutex<(any Error)?>(nil)
        let t = Task {
            do { try await body() } catch let e { error.withLock { $0 = e } }
        }
        task.withLock { $0 = t }
        if let c = cancelAt, all.contains(where: { $0.completed >= c }) { t.cancel() }
        await t.value
        return error.withLock { $0 }
    }
}

/// Calls the synchronous API from an async test (where the `async` overloads are preferred).
public func blocking<T>(_ body: () throws -> T) rethrows -> T { try body() }

/// The files of fuzz/corpus/<name>/ (the corpora of the fuzzers; `make test` replays them).
public func fuzzCorpus(_ name: String, file: String = #filePath) throws -> [(name: String, bytes: [UInt8])] {
    let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.appendingPathComponent("fuzz/corpus/\(name)")
    let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    return try names.map { ($0, [UInt8](try Data(contentsOf: dir.appendingPathComponent($0)))) }
}

/// A two-part fuzz input (fuzz/swift FuzzSupport's `splitInput`): a 2-byte little-endian length,
/// that many bytes, and the rest.
public func splitFuzzInput(_ data: [UInt8]) -> (first: [UInt8], rest: [UInt8]) {
    guard data.count >= 2 else { return ([], data) }
    let n = min(Int(data[0]) | Int(data[1]) << 8, data.count - 2)
    return (Array(data[2..<(2 + n)]), Array(data[(2 + n)...]))
}

/// A failure of the test machinery (a missing executable, a run that did not finish).
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An executable built beside the test bundle (or the path in the environment `variable`).
public func builtExecutable(_ name: String, override variable: String? = nil) throws -> String {
    if let variable, let p = ProcessInfo.processInfo.environment[variable], !p.isEmpty {
        guard FileManager.default.isExecutableFile(atPath: p) else { throw TestSupportError("\(variable)=\(p) is not an executable") }
        return p
    }
    var dirs: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    for b in Bundle.allBundles { dirs.append(b.bundleURL.deletingLastPathComponent()) }
    for d in dirs {
        let c = d.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: c) { return c }
    }
    throw TestSupportError("\(name) is not built beside the tests (looked in \(Set(dirs.map(\.path)).sorted())); run `swift build` first")
}

/// What a finished process printed, and its exit status.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable arguments` with `environment` added (TESSERA_NUM_THREADS=1 unless given),
/// stdin empty, stdout and stderr read while it runs (pipes: stderr is not a terminal); a run
/// past `timeout` seconds is terminated, then killed, and reported as an error (a hang).
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeout: Double = 120) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["TESSERA_NUM_THREADS"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    nonisolated(unsafe) var outData = Data(), errData = Data()
    let g = DispatchGroup()
    g.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
    g.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        p.terminate()
        usleep(500_000)
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        g.wait()
        throw TestSupportError("\(URL(fileURLWithPath: executable).lastPathComponent) \(arguments) did not finish in \(timeout) s (hang)")
    }
    g.wait()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Deterministic test RNG (splitmix64): for a seed, the same sequence in every test target.
public struct SplitMix64 {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in 0..<n (n > 0; modulo bias is immaterial for tests).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
