extension DiffusionSampler {
    /// One sample of shape `channels × height × width`, without blocking the caller's thread.
    ///
    /// The same computation as the synchronous ``sample(_:height:width:options:progress:)``
    /// (the same bits). The denoiser is handed over to the sampling thread (`sending`): do not
    /// use it elsewhere until this returns. `progress` gets one report per sampling step
    /// ("sampling steps", total `options.steps`); cancellation is checked after every step and
    /// throws `CancellationError`.
    public func sample(_ denoiser: sending any Denoiser, height: Int, width: Int, options: SamplerOptions,
                       progress: ProgressHandler? = nil) async throws -> Latent {
        let counter = ProgressCounter(progress, total: options.steps, what: "sampling steps")
        return try await runCancellable(name: "DiffusionSampler.sample") { flag in
            let x = try self.sample(denoiser, height: height, width: width, options: options) { step, _ in
                counter.report(step)
                return !flag.isCancelled
            }
            guard let x else { throw CancellationError() }
            counter.finish()
            return x
        }
    }

    /// `count` samples with seeds `options.seed + i`, without blocking the caller's thread.
    ///
    /// The same samples as the synchronous ``samples(_:count:height:width:options:progress:)``.
    /// `progress` counts the steps of all samples ("sampling steps", total `count · options.steps`);
    /// cancellation is checked after every step and throws `CancellationError`.
    public func samples(_ denoiser: sending any Denoiser, count: Int, height: Int, width: Int, options: SamplerOptions,
                        progress: ProgressHandler? = nil) async throws -> [Latent] {
        guard count >= 1 else { throw TesseraError.invalidArgument("sample count must be positive (got \(count))") }
        let perSample = max(0, options.steps)
        let counter = ProgressCounter(progress, total: count * perSample, what: "sampling steps")
        return try await runCancellable(name: "DiffusionSampler.samples") { flag in
            var out: [Latent] = []
            for k in 0..<count {
                var o = options
                o.seed = options.seed &+ UInt64(k)
                let x = try self.sample(denoiser, height: height, width: width, options: o) { step, _ in
                    counter.report(k * perSample + step)
                    return !flag.isCancelled
                }
                guard let x else { throw CancellationError() }
                out.append(x)
            }
            counter.finish()
            return out
        }
    }
}
