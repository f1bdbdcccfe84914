import Foundation

/// Where a U-Net forward spends its time: seconds and floating-point operations per op kind, summed
/// over patches (each patch's ops run on one worker). Attach one to `UNetModel.profile` to collect;
/// `wall` holds the denoiser-call wall times. Thread-safe.
public final class UNetProfile: @unchecked Sendable {
    /// The op kinds timed.
    public enum Kind: String, Sendable, CaseIterable {
        /// Convolutions, attention and group normalisation.
        case conv3x3 = "conv3x3", conv1x1 = "conv1x1", attention = "attention", groupNorm = "groupnorm"
        /// Patch exchanges and elementwise ops.
        case exchange = "exchange", elementwise = "elementwise"
    }
    private let lock = NSLock()
    private var secs: [Kind: Double] = [:]
    private var ops: [Kind: Double] = [:]
    /// Denoiser calls recorded.
    public private(set) var calls = 0
    /// An empty profile.
    public init() {}

    func add(_ k: Kind, seconds: Double, flops: Double) {
        lock.lock(); secs[k, default: 0] += seconds; ops[k, default: 0] += flops; lock.unlock()
    }
    func addCall() { lock.lock(); calls += 1; lock.unlock() }

    /// Seconds spent in ops of kind `k` (summed over workers).
    public func seconds(_ k: Kind) -> Double { lock.lock(); defer { lock.unlock() }; return secs[k, default: 0] }
    /// Floating-point operations of kind `k` (multiply-add = 2).
    public func flops(_ k: Kind) -> Double { lock.lock(); defer { lock.unlock() }; return ops[k, default: 0] }
    /// Sum over kinds.
    public var totalSeconds: Double { Kind.allCases.reduce(0) { $0 + seconds($1) } }
    /// Zeroes every counter.
    public func reset() { lock.lock(); secs = [:]; ops = [:]; calls = 0; lock.unlock() }
}

@inline(__always) func profileNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
