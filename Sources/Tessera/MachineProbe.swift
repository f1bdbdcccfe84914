internal import CTessera
import Foundation

/// Machine-limit probes (`include/tessera/probe.h`): STREAM loops, empty fork-join regions,
/// vector-unit peaks, and the same loops under OpenMP for comparison. Benchmarks use these
/// to report the fraction of the machine limit they reach, measured in the same run.
public final class MachineProbe: @unchecked Sendable {
    /// The STREAM-style bandwidth kernels the probe times.
    public enum StreamKernel: Int, Sendable, CaseIterable {
        /// `c = a`; `a = b + s·c`; a sum over `a` (read only).
        case copy = 0, triad = 1, read = 2
        /// Bytes moved per element (STREAM counting).
        public var bytesPerElement: Int { Int(tsr_stream_bytes_per_element(tsr_stream_kernel(UInt32(rawValue)))) }
        /// The kernel's name: "copy", "triad" or "read".
        public var name: String { ["copy", "triad", "read"][rawValue] }
    }

    /// Elements per array.
    public let count: Int
    private let a: UnsafeMutablePointer<Double>
    private let b: UnsafeMutablePointer<Double>
    private let c: UnsafeMutablePointer<Double>

    /// Allocates three arrays of `count` doubles (choose >= 4x the last-level cache in total
    /// to measure DRAM) and first-touches them on `pool` with the static schedule.
    public init(count: Int, pool: ThreadPool = .shared) throws(TesseraError) {
        guard count > 0 else { throw .invalidArgument("MachineProbe: count must be > 0") }
        let bytes = count.multipliedReportingOverflow(by: 8)
        guard !bytes.overflow else { throw .outOfRange("MachineProbe: \(count) doubles overflow") }
        guard let pa = tsr_malloc(bytes.partialValue), let pb = tsr_malloc(bytes.partialValue),
              let pc = tsr_malloc(bytes.partialValue) else {
            throw .outOfMemory("MachineProbe: cannot allocate 3 x \(bytes.partialValue) bytes")
        }
        a = pa.bindMemory(to: Double.self, capacity: count)
        b = pb.bindMemory(to: Double.self, capacity: count)
        c = pc.bindMemory(to: Double.self, capacity: count)
        self.count = count
        let (a, b, c) = (a, b, c)
        pool.parallelFor(0..<count) { r, _ in
            for i in r { a[i] = 1; b[i] = 2; c[i] = 0.5 }
        }
    }

    deinit { tsr_free(a); tsr_free(b); tsr_free(c) }

    /// One pass of `kernel` on `pool`; returns the read sum for `.read`.
    @discardableResult
    public func stream(_ kernel: StreamKernel, pool: ThreadPool = .shared) throws(TesseraError) -> Double {
        var sum = 0.0
        try check(tsr_probe_stream(pool.handle, tsr_stream_kernel(UInt32(kernel.rawValue)), a, b, c, Int64(count), 0.5, &sum))
        return sum
    }

    /// One pass of `kernel` inside an OpenMP region of `threads` threads.
    @discardableResult
    public func streamOpenMP(_ kernel: StreamKernel, threads: Int) throws(TesseraError) -> Double {
        var sum = 0.0
        try check(tsr_probe_stream_openmp(Int32(threads), tsr_stream_kernel(UInt32(kernel.rawValue)), a, b, c,
                                          Int64(count), 0.5, &sum))
        return sum
    }

    /// Bytes one pass of `kernel` moves.
    public func bytes(_ kernel: StreamKernel) -> Double { Double(count * kernel.bytesPerElement) }

    /// Loads the OpenMP runtime with the binding that matches `binding`; returns its description.
    public static func openMPInit(binding: ThreadPool.Binding) throws(TesseraError) -> String {
        var buf = [CChar](repeating: 0, count: 256)
        let b: tsr_bind = binding == .core ? TSR_BIND_CORE : (binding == .scatter ? TSR_BIND_SCATTER : TSR_BIND_NONE)
        try check(tsr_probe_openmp_init(b, &buf, 256))
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Wall time in nanoseconds of each of `regions` empty regions on `pool`.
    public static func forkJoin(pool: ThreadPool = .shared, regions: Int) throws(TesseraError) -> [Double] {
        var ns = [Double](repeating: 0, count: max(regions, 0))
        try ns.withUnsafeMutableBufferPointer { (p) throws(TesseraError) in
            try check(tsr_probe_forkjoin(pool.handle, Int64(regions), p.baseAddress))
        }
        return ns
    }

    /// Wall time in nanoseconds of each of `regions` empty OpenMP parallel regions.
    public static func forkJoinOpenMP(threads: Int, regions: Int) throws(TesseraError) -> [Double] {
        var ns = [Double](repeating: 0, count: max(regions, 0))
        try ns.withUnsafeMutableBufferPointer { (p) throws(TesseraError) in
            try check(tsr_probe_forkjoin_openmp(Int32(threads), Int64(regions), p.baseAddress))
        }
        return ns
    }

    /// f32 FMA peak of `pool` in FLOP/s (register-only loop, active ISA).
    public static func peakF32(pool: ThreadPool = .shared, iterations: Int = 20_000_000) throws(TesseraError) -> Double {
        var flops = 0.0
        let t0 = DispatchTime.now().uptimeNanoseconds
        try check(tsr_probe_peak_f32(pool.handle, Int64(iterations), &flops))
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        return flops / dt
    }

    /// int8 dot-product peak of `pool` in op/s (VNNI / AVX2 / scalar, 2 ops per multiply-add).
    public static func peakInt8(pool: ThreadPool = .shared, iterations: Int = 20_000_000) throws(TesseraError) -> Double {
        var ops = 0.0
        let t0 = DispatchTime.now().uptimeNanoseconds
        try check(tsr_probe_peak_int8(pool.handle, Int64(iterations), &ops))
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        return ops / dt
    }

    /// Median read-only bandwidth (bytes/s) over `passes` passes on `pool`. A quick limit for
    /// benchmarks of memory-bound kernels; size `count` well above the last-level cache.
    public func readBandwidth(pool: ThreadPool = .shared, passes: Int = 7) throws(TesseraError) -> Double {
        try stream(.read, pool: pool)
        var rates: [Double] = []
        for _ in 0..<max(passes, 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try stream(.read, pool: pool)
            rates.append(bytes(.read) / (Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9))
        }
        rates.sort()
        return rates[rates.count / 2]
    }
}
