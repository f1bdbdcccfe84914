import Foundation

/// Streamed tokens written between forwards, not during them. On a machine whose cores all run
/// the forward (the pool's workers), a response writer woken by a token takes a core from a
/// worker in the middle of a parallel region, and the region waits for the preempted worker:
/// the forward pays for the writer's work and more. So after a step has handed its tokens to
/// the streams, the engine waits (at most `EngineOptions.writerPaceSeconds`) until the writers
/// that were keeping up have written them; the writers then run while the pool is idle. A
/// writer that falls behind (a slow client, a full socket) is not waited for until it has
/// caught up again, so no client can slow the others by more than one wait.
final class WriterPacing: @unchecked Sendable {
    // @unchecked: every `StreamPace` counter is guarded by `cond`.
    private let cond = NSCondition()
    private var engineWaiting = false

    /// Records that the engine handed `pace`'s stream a token; true when that stream's writer
    /// had written everything before it (then the engine waits for this one too).
    func handed(_ pace: StreamPace) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        let caughtUp = pace.written == pace.handed
        pace.handed += 1
        return caughtUp
    }

    /// Called by a stream's writer after it has written (or skipped) one token event.
    func wrote(_ pace: StreamPace) {
        cond.lock()
        pace.written += 1
        if engineWaiting { cond.broadcast() }
        cond.unlock()
    }

    /// Waits until each of `paces` has written every token handed to it, or `seconds` passed.
    func wait(for paces: [StreamPace], seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        cond.lock()
        engineWaiting = true
        while paces.contains(where: { $0.written < $0.handed }) {
            if !cond.wait(until: deadline) { break }
        }
        engineWaiting = false
        cond.unlock()
    }
}

/// One streamed response's count of tokens handed to it and written by its writer (guarded by
/// its engine's `WriterPacing`).
final class StreamPace: @unchecked Sendable {
    // @unchecked: the counters are only touched under `pacing`'s lock.
    let pacing: WriterPacing
    fileprivate var handed = 0
    fileprivate var written = 0

    init(_ pacing: WriterPacing) { self.pacing = pacing }

    /// The writer has written (or skipped) the next token event.
    func wrote() { pacing.wrote(self) }
}
