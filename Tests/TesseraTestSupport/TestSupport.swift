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
