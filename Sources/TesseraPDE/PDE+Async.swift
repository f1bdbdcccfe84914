// `async` variants of the PDE runs: the same steps as the synchronous calls (the same bits),
// run on a thread of their own, with progress reports and task cancellation checked between
// steps. Cancellation throws `CancellationError` and leaves the solver at the last completed
// step (its `time` says where), so a later call continues from there.

/// Progress through a time interval in thousandths (steps of adaptive solvers are not known
/// in advance).
private func permille(from t0: Double, to t1: Double, at t: Double) -> Int {
    t1 > t0 ? Int(((t - t0) / (t1 - t0) * 1000).rounded(.down)) : 1000
}

/// Steps of at most `dt` from `time` to `t`, as the solvers take them.
private func stepCount(from time: Double, to t: Double, dt: Double) -> Int {
    guard dt > 0, dt.isFinite, t.isFinite, t > time else { return 0 }
    let q = (t - time) / dt
    return q < Double(Int.max / 2) ? Int(q.rounded(.up)) : Int.max / 2
}

/// The async loop of a fixed-step solver: `advance` runs its synchronous loop with `step`
/// called after every step (false: stop); one progress report per step ("<what> steps"),
/// `CancellationError` when the task was cancelled before the end.
private func advanceCountingSteps(_ what: String, total: Int, progress: ProgressHandler?,
                                  _ advance: sending @escaping (_ step: @escaping () -> Bool) throws -> Bool) async throws {
    let counter = ProgressCounter(progress, total: total, what: "\(what) steps")
    try await runCancellable(name: "\(what).advance") { flag in
        var steps = 0
        let finished = try advance {
            steps += 1
            counter.report(steps)
            return !flag.isCancelled
        }
        if !finished { throw CancellationError() }
        counter.finish()
    }
}

extension NavierStokes2D {
    /// Steps until `time ≥ t` without blocking the caller's thread (the same steps as the
    /// synchronous `advance(to:progress:)`, the same bits).
    ///
    /// `progress` reports the simulated time in thousandths of the interval ("NavierStokes2D
    /// time (‰)", total 1000) after each step. Cancellation is checked after every step: the
    /// solver keeps the steps already taken and this throws `CancellationError`.
    public func advance(to t: Double, progress: ProgressHandler? = nil) async throws {
        let t0 = time
        let counter = ProgressCounter(progress, total: 1000, what: "NavierStokes2D time (‰)")
        try await runCancellable(name: "NavierStokes2D.advance") { flag in
            let finished = try self.advance(to: t) {
                counter.report(permille(from: t0, to: t, at: self.time))
                return !flag.isCancelled
            }
            if !finished { throw CancellationError() }
            counter.finish()
        }
    }
}

extension Burgers1D {
    /// Advances to time t with steps of at most dt, without blocking the caller's thread.
    ///
    /// The same steps as ``advance(to:dt:)``. `progress` gets one report per step ("Burgers1D
    /// steps", total ⌈(t − time)/dt⌉); cancellation is checked after every step and throws
    /// `CancellationError`, leaving the solver at the last step taken.
    public func advance(to t: Double, dt: Double, progress: ProgressHandler? = nil) async throws {
        try await advanceCountingSteps("Burgers1D", total: stepCount(from: time, to: t, dt: dt), progress: progress) { step in
            try self.advance(to: t, dt: dt, control: step)
        }
    }
}

extension AdvectionDiffusion {
    /// Advances to time t with steps of at most dt, without blocking the caller's thread.
    ///
    /// The same steps as ``advance(to:dt:)``. `progress` gets one report per step
    /// ("AdvectionDiffusion steps", total ⌈(t − time)/dt⌉); cancellation is checked after
    /// every step and throws `CancellationError`, leaving the solver at the last step taken.
    public func advance(to t: Double, dt: Double, progress: ProgressHandler? = nil) async throws {
        try await advanceCountingSteps("AdvectionDiffusion", total: stepCount(from: time, to: t, dt: dt), progress: progress) { step in
            try self.advance(to: t, dt: dt, control: step)
        }
    }
}

extension FDHeat {
    /// Takes `steps` steps without blocking the caller's thread.
    ///
    /// The same steps as ``advance(steps:tolerance:)`` (the same bits), taken in up to 100
    /// chunks; `progress` gets one report per chunk ("FDHeat steps", total `steps`) and
    /// cancellation is checked between chunks (`CancellationError`; the solver keeps the steps
    /// taken). The finiteness check runs after every chunk, so a blow-up is reported earlier.
    public func advance(steps: Int, tolerance: Double = 1e-12, progress: ProgressHandler? = nil) async throws {
        guard steps >= 0 else { throw TesseraError.invalidArgument("FDHeat: steps \(steps) must be ≥ 0") }
        let counter = ProgressCounter(progress, total: steps, what: "FDHeat steps")
        let chunk = max(1, (steps + 99) / 100)
        try await runCancellable(name: "FDHeat.advance") { flag in
            var done = 0
            while done < steps {
                let n = min(chunk, steps - done)
                try self.advance(steps: n, tolerance: tolerance)
                done += n
                counter.report(done)
                if done < steps && flag.isCancelled { throw CancellationError() }
            }
            counter.finish()
        }
    }
}
