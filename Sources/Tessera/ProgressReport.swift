import Foundation
import Synchronization

/// How far a long computation has got: `completed` of `total` units of `what`.
///
/// The `async` variants of Tessera's long calls (cluster fits, PDE runs, diffusion sampling,
/// FastRP, model loading) take an optional `progress` closure and call it with one report
/// after each unit of work. Reports of one call are monotone (`completed` never decreases,
/// `total` never changes) and the last report of a call that finishes has
/// `completed == total`. For iterative methods that may stop early (k-means, k-medoids,
/// Gaussian mixtures) `total` is the iteration limit, and the last report jumps to `total`
/// when the method converges before it.
///
/// The name avoids Foundation's `Progress` (a reference type for UI bindings), which
/// programs importing both modules would otherwise have to qualify.
///
/// ```swift
/// let result = try await KMeans.fit(data, k: 8) { report in
///     print("\(report.what): \(report.completed)/\(report.total)")
/// }
/// ```
public struct ProgressReport: Sendable, Hashable, CustomStringConvertible {
    /// Units done so far, in `0...total`.
    public var completed: Int
    /// Units in all.
    public var total: Int
    /// What is counted, e.g. "k-means iterations" or "sampling steps".
    public var what: String

    /// A report of `completed` of `total` units of `what`.
    public init(completed: Int, total: Int, what: String) {
        self.completed = completed
        self.total = total
        self.what = what
    }

    /// `completed / total` in [0, 1] (1 when `total` is 0).
    public var fractionCompleted: Double {
        total > 0 ? min(1, max(0, Double(completed) / Double(total))) : 1
    }

    /// "what: completed/total".
    public var description: String { "\(what): \(completed)/\(total)" }
}

/// The type of the progress closures taken by the `async` variants of long calls. It is
/// called on the thread that runs the work, so it should return quickly (hand the report to
/// an actor or an `AsyncStream` continuation for UI work).
public typealias ProgressHandler = @Sendable (ProgressReport) -> Void

/// A flag the work thread polls between units of work; set when the awaiting task is cancelled.
package final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    package init() {}
    /// Whether the task that awaits the work was cancelled.
    package var isCancelled: Bool { flag.load(ordering: .relaxed) }
    package func cancel() { flag.store(true, ordering: .relaxed) }
}

/// Reports `completed` of `total` to a progress handler, keeping the reports monotone.
package final class ProgressCounter: @unchecked Sendable {
    let handler: ProgressHandler?
    let total: Int
    let what: String
    private var last = -1
    package init(_ handler: ProgressHandler?, total: Int, what: String) {
        self.handler = handler
        self.total = max(0, total)
        self.what = what
    }
    /// Reports `completed` (clamped to `0...total`) unless it is below the last report.
    package func report(_ completed: Int) {
        let c = min(total, max(0, completed))
        guard c > last else { return }
        last = c
        handler?(ProgressReport(completed: c, total: total, what: what))
    }
    /// The final report: `completed == total`.
    package func finish() { report(total) }
}

/// Runs `work` on a thread of its own (not on Swift's cooperative pool, which long blocking
/// work would starve; the kernels inside use Tessera's pinned `ThreadPool` as usual) and
/// returns its result.
///
/// Cancelling the awaiting task sets the flag that `work` receives; `work` polls it between
/// units of work and, when it stopped early, throws `CancellationError` (a cancellation that
/// arrives after the last unit leaves the finished result). If the task is already cancelled
/// when this is called, nothing runs. Errors thrown by `work` are rethrown unchanged.
package func runCancellable<T: Sendable>(
    name: String,
    _ work: sending @escaping (CancellationFlag) throws -> T
) async throws -> T {
    try Task.checkCancellation()
    let flag = CancellationFlag()
    let box = WorkBox(work)
    let result: Result<T, any Error> = await withTaskCancellationHandler {
        await withCheckedContinuation { (cont: CheckedContinuation<Result<T, any Error>, Never>) in
            let thread = Thread {
                let r: Result<T, any Error>
                do { r = .success(try box.take()(flag)) } catch { r = .failure(error) }
                cont.resume(returning: r)
            }
            thread.name = "tessera: \(name)"
            // the main thread's default: deep recursion in user closures stays safe
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: {
        flag.cancel()
    }
    return try result.get()
}

/// Carries the (non-Sendable) work closure to its thread exactly once.
private final class WorkBox<T>: @unchecked Sendable {
    private var work: ((CancellationFlag) throws -> T)?
    init(_ work: @escaping (CancellationFlag) throws -> T) { self.work = work }
    func take() -> (CancellationFlag) throws -> T {
        defer { work = nil }
        return work!
    }
}
