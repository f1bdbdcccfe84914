// FFTW real-to-complex transforms: planned once per (shape, threads, effort), cached for the
// process, executed many times on new arrays (fftw_execute_dft_r2c/c2r, which are
// thread-safe). Planning goes through one lock because FFTW's planner is not thread-safe.
// Each transform is split into as many parallel jobs as the Tessera pool says an external
// library should use from the calling thread (ThreadPool.externalThreads: the pool's thread
// count outside a region, 1 inside a worker), and FFTW runs those jobs ON THE POOL's pinned
// workers (fftw_threads_set_callback → ThreadPool.parallelFor) instead of spawning its own
// threads, so FFTW never competes with pool workers for the same cores.
//
// Layout: a real array of shape [n0, …, n_{d−1}] (C order) transforms to a complex array of
// shape [n0, …, n_{d−1}/2 + 1] (interleaved re, im doubles). The forward transform is
// unnormalised; `inverse` divides by the number of points, so inverse(forward(u)) = u.

import Foundation
internal import CFFTW

/// How hard FFTW searches for a fast plan (FFTW_ESTIMATE / MEASURE / PATIENT).
public enum FFTEffort: String, Sendable, CaseIterable {
    /// FFTW_ESTIMATE (no trial runs), FFTW_MEASURE, FFTW_PATIENT (slowest planning).
    case estimate, measure, patient
    var flags: UInt32 {
        switch self {
        case .estimate: return UInt32(FFTW_ESTIMATE)
        case .measure: return UInt32(FFTW_MEASURE)
        case .patient: return UInt32(FFTW_PATIENT)
        }
    }
}

/// A 64-byte aligned buffer of doubles (from fftw_malloc, so FFTW sees its usual alignment).
public final class AlignedDoubles: @unchecked Sendable {
    /// Start of the buffer, 64-byte aligned; owned by this object (freed with it).
    public let pointer: UnsafeMutablePointer<Double>
    /// Doubles in the buffer (>= 0).
    public let count: Int

    /// A zeroed buffer of `count` doubles. Errors: `.invalidArgument` for a negative count,
    /// `.outOfMemory` when the allocation fails.
    public init(count: Int) throws(TesseraError) {
        guard count >= 0 else { throw .invalidArgument("AlignedDoubles: negative count \(count)") }
        let (bytes, o) = Swift.max(count, 1).multipliedReportingOverflow(by: 8)
        guard !o, let raw = fftw_malloc(bytes) else { throw .outOfMemory("cannot allocate \(count) doubles") }
        pointer = raw.bindMemory(to: Double.self, capacity: Swift.max(count, 1))
        pointer.initialize(repeating: 0, count: Swift.max(count, 1))
        self.count = count
    }

    deinit { fftw_free(pointer) }

    /// Sets every element to 0.
    public func zero() { pointer.update(repeating: 0, count: count) }
    /// Copies the first min(`count`, `other.count`) elements of `other`.
    public func copy(from other: AlignedDoubles) { pointer.update(from: other.pointer, count: Swift.min(count, other.count)) }
    /// The elements as a buffer pointer, valid while this object lives.
    public var buffer: UnsafeMutableBufferPointer<Double> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

/// A cached pair of FFTW plans (r2c forward, c2r backward) for one real shape.
public final class RealFFT: @unchecked Sendable {
    /// The real array shape (C order).
    public let shape: [Int]
    /// The complex (half-spectrum) shape: the last axis is n/2 + 1.
    public let complexShape: [Int]
    /// Parallel jobs a transform is split into (run on the pool's workers).
    public let threads: Int
    /// The planning effort the plans were made with.
    public let effort: FFTEffort
    /// Seconds spent planning this shape (0 when it came from the cache or from wisdom fast).
    public let planSeconds: Double
    let forwardPlan: OpaquePointer
    let backwardPlan: OpaquePointer

    /// Doubles in a real array of `shape`.
    public var realCount: Int { shape.reduce(1, *) }
    /// Complex numbers in a half-spectrum of `complexShape` (twice as many doubles).
    public var complexCount: Int { complexShape.reduce(1, *) }

    nonisolated(unsafe) private static var cache: [String: RealFFT] = [:]
    static let lock = NSLock()
    nonisolated(unsafe) private static var threadsReady = false

    private init(shape: [Int], threads: Int, effort: FFTEffort) throws(TesseraError) {
        self.shape = shape
        var cs = shape
        cs[cs.count - 1] = shape[shape.count - 1] / 2 + 1
        self.complexShape = cs
        self.threads = threads
        self.effort = effort
        let nr = shape.reduce(1, *), nc = cs.reduce(1, *)
        let a = try AlignedDoubles(count: nr), b = try AlignedDoubles(count: 2 * nc)
        var n32 = shape.map { Int32($0) }
        fftw_plan_with_nthreads(Int32(threads))
        let t0 = Date()
        let cplx = UnsafeMutablePointer<fftw_complex>(OpaquePointer(b.pointer))
        let f = fftw_plan_dft_r2c(Int32(shape.count), &n32, a.pointer, cplx, effort.flags)
        let g = fftw_plan_dft_c2r(Int32(shape.count), &n32, cplx, a.pointer, effort.flags)
        planSeconds = Date().timeIntervalSince(t0)
        guard let f, let g else {
            if let f { fftw_destroy_plan(f) }
            if let g { fftw_destroy_plan(g) }
            throw .unsupported("FFTW cannot plan a real transform of shape \(shape)")
        }
        forwardPlan = f
        backwardPlan = g
    }

    deinit {
        RealFFT.lock.lock()
        fftw_destroy_plan(forwardPlan)
        fftw_destroy_plan(backwardPlan)
        RealFFT.lock.unlock()
    }

    /// The plans for `shape` (cached). `threads` nil = the pool's external-library thread count.
    /// Errors: `.invalidArgument` for an empty/non-positive shape or more than 3 axes,
    /// `.unsupported` if FFTW cannot plan it.
    public static func plan(shape: [Int], threads: Int? = nil, effort: FFTEffort = .measure) throws(TesseraError) -> RealFFT {
        guard (1...3).contains(shape.count), shape.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else {
            throw .invalidArgument("RealFFT: shape \(shape) must have 1-3 positive sizes")
        }
        let nt = Swift.max(1, threads ?? ThreadPool.shared.externalThreads)
        let key = "\(shape)/\(nt)/\(effort.rawValue)"
        return try withPlanner { () throws(TesseraError) -> RealFFT in
            if let p = cache[key] { return p }
            let p = try RealFFT(shape: shape, threads: nt, effort: effort)
            cache[key] = p
            return p
        }
    }

    /// Runs `body` holding the planner lock (FFTW's planner is not thread-safe), with FFTW's
    /// threads set up to run on the Tessera pool.
    static func withPlanner<T>(_ body: () throws(TesseraError) -> T) throws(TesseraError) -> T {
        lock.lock()
        defer { lock.unlock() }
        if !threadsReady {
            _ = fftw_init_threads()
            // TESSERA_FFTW_THREADS=fftw keeps FFTW's own threads (for comparison)
            if ProcessInfo.processInfo.environment["TESSERA_FFTW_THREADS"] != "fftw" {
                fftw_threads_set_callback(fftwParallelLoop, nil)
            }
            threadsReady = true
        }
        return try body()
    }

    /// Drops every cached plan (they are freed when no solver holds them any more).
    public static func clearCache() {
        lock.lock(); cache.removeAll(); lock.unlock()
    }

    /// Forward r2c: `real` (realCount doubles, preserved) → `spectrum` (2·complexCount doubles).
    public func forward(_ real: UnsafeMutablePointer<Double>, _ spectrum: UnsafeMutablePointer<Double>) {
        fftw_execute_dft_r2c(forwardPlan, real, UnsafeMutablePointer<fftw_complex>(OpaquePointer(spectrum)))
    }

    /// Backward c2r, normalised: `spectrum` (destroyed) → `real`.
    public func inverse(_ spectrum: UnsafeMutablePointer<Double>, _ real: UnsafeMutablePointer<Double>) {
        fftw_execute_dft_c2r(backwardPlan, UnsafeMutablePointer<fftw_complex>(OpaquePointer(spectrum)), real)
        let s = 1 / Double(realCount)
        for i in 0..<realCount { real[i] *= s }
    }

    /// Backward c2r without the 1/N scaling (callers fold it into their own pass).
    public func inverseUnscaled(_ spectrum: UnsafeMutablePointer<Double>, _ real: UnsafeMutablePointer<Double>) {
        fftw_execute_dft_c2r(backwardPlan, UnsafeMutablePointer<fftw_complex>(OpaquePointer(spectrum)), real)
    }
}

/// FFTW's parallel loop, run on the default Tessera pool: work(jobdata + i·elsize) for each
/// job i, one job per grab (inline when called from inside a worker).
private let fftwParallelLoop: @convention(c) (
    (@convention(c) (UnsafeMutablePointer<CChar>?) -> UnsafeMutableRawPointer?)?,
    UnsafeMutablePointer<CChar>?, Int, Int32, UnsafeMutableRawPointer?) -> Void = { work, jobdata, elsize, njobs, _ in
    guard let work, let jobdata, njobs > 0 else { return }
    ThreadPool.shared.parallelFor(0..<Int(njobs), schedule: .dynamic(chunk: 1)) { jobs, _ in
        for i in jobs { _ = work(jobdata + i * elsize) }
    }
}

/// FFTW wisdom: the plans FFTW has measured, saved so later runs plan instantly.
public enum FFTWisdom {
    /// Writes the accumulated wisdom to a file. Errors: `.io`.
    public static func save(to path: String) throws(TesseraError) {
        let ok = path.withCString { fftw_export_wisdom_to_filename($0) }
        guard ok != 0 else { throw .io("FFTW could not write wisdom to '\(path)'") }
    }

    /// Adds wisdom from a file. Errors: `.io` if unreadable or not FFTW wisdom.
    public static func load(from path: String) throws(TesseraError) {
        let ok = path.withCString { fftw_import_wisdom_from_filename($0) }
        guard ok != 0 else { throw .io("FFTW could not read wisdom from '\(path)'") }
    }

    /// Forgets all wisdom (and the plan cache, whose plans were made from it).
    public static func forget() {
        RealFFT.clearCache()
        fftw_forget_wisdom()
    }
}
