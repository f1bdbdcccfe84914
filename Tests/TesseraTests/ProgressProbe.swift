import Synchronization
import Testing
@testable import Tessera

/// Collects progress reports (called on the work thread) and cancels a task once a report
/// reaches `cancelAt`.
final class ProgressProbe: Sendable {
    let reports = Mutex<[ProgressReport]>([])
    let task = Mutex<Task<Void, Never>?>(nil)
    let cancelAt: Int?
    init(cancelAt: Int? = nil) { self.cancelAt = cancelAt }

    var handler: ProgressHandler {
        { r in
            self.reports.withLock { $0.append(r) }
            if let c = self.cancelAt, r.completed >= c { self.task.withLock { $0?.cancel() } }
        }
    }
    var all: [ProgressReport] { reports.withLock { $0 } }
    var done: Int { all.map(\.completed).max() ?? 0 }

    /// Monotone, one total, and (for a finished call) ending at the total.
    func checkMonotone(finished: Bool) {
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
    func runCancelled(_ body: @escaping @Sendable () async throws -> Void) async -> (any Error)? {
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
func blocking<T>(_ body: () throws -> T) rethrows -> T { try body() }
