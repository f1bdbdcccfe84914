internal import CTessera

/// A fork-join pool of workers pinned to cores (see `include/tessera/pool.h`).
///
/// The calling thread takes part as worker 0. A call made from inside a worker runs inline.
/// One region runs at a time per pool; calls from several threads are safe (they queue).
public final class ThreadPool: @unchecked Sendable {
    /// How workers are bound to the machine.
    public enum Binding: String, Sendable, CaseIterable {
        /// Worker i on core i; round-robin over packages and NUMA nodes first; no binding (the OS
        /// schedules).
        case core, scatter, none
    }

    /// How `parallelFor` splits its range.
    public enum Schedule: Sendable, Equatable {
        /// One contiguous, nearly equal range per worker.
        case `static`
        /// Ranges of `chunk` items handed out from a shared counter (chunk <= 0: automatic).
        case dynamic(chunk: Int)
    }

    /// The C pool (`package`: the other Tessera modules pass it to the kernels they call).
    package let handle: OpaquePointer
    private let owned: Bool

    /// The process-wide default pool (one worker per core, or `TESSERA_NUM_THREADS`).
    public static let shared: ThreadPool = {
        var p: OpaquePointer?
        let status = tsr_pool_default(&p)
        guard status == TSR_OK, let p else {
            fatalError("Tessera: cannot start the default thread pool: \(String(cString: tsr_last_error()))")
        }
        return ThreadPool(handle: p, owned: false)
    }()

    private init(handle: OpaquePointer, owned: Bool) {
        self.handle = handle
        self.owned = owned
        BuildInfo.warnOnceIfUnoptimized()   // every kernel call runs on a pool
    }

    /// Creates a pool with `threads` workers (nil: `TESSERA_NUM_THREADS` or one per core),
    /// bound as `binding` says (nil: `TESSERA_BIND` or `.core`).
    public init(threads: Int? = nil, binding: Binding? = nil, spinMicroseconds: Int? = nil) throws(TesseraError) {
        var params = tsr_pool_params()
        tsr_pool_params_default(&params)
        if let threads {
            guard threads >= 1, threads <= 4096 else {
                throw .invalidArgument("ThreadPool: threads must be in 1...4096 (got \(threads))")
            }
            params.n_threads = Int32(threads)
        }
        if let binding {
            switch binding {
            case .core: params.bind = TSR_BIND_CORE
            case .scatter: params.bind = TSR_BIND_SCATTER
            case .none: params.bind = TSR_BIND_NONE
            }
        }
        if let spinMicroseconds {
            guard spinMicroseconds >= 0, spinMicroseconds <= 1_000_000 else {
                throw .invalidArgument("ThreadPool: spinMicroseconds must be in 0...1000000")
            }
            params.spin_us = Int32(spinMicroseconds)
        }
        var p: OpaquePointer?
        try check(tsr_pool_create(&params, &p))
        self.handle = p!
        self.owned = true
        BuildInfo.warnOnceIfUnoptimized()
    }

    deinit {
        if owned { _ = tsr_pool_destroy(handle) }
    }

    /// Workers, including the calling thread.
    public var threadCount: Int { Int(tsr_pool_num_threads(handle)) }

    /// The binding mode in effect.
    public var binding: Binding {
        switch tsr_pool_bind_mode(handle) {
        case TSR_BIND_CORE: return .core
        case TSR_BIND_SCATTER: return .scatter
        default: return .none
        }
    }

    /// Index of the calling worker inside a region, or nil outside one.
    public static var currentWorker: Int? {
        let w = tsr_pool_worker_index()
        return w < 0 ? nil : Int(w)
    }

    /// Threads an external threaded library (FFTW, OpenBLAS) should use from here:
    /// 1 inside a worker, else `threadCount`.
    public var externalThreads: Int { Int(tsr_pool_external_threads(handle)) }

    /// The CPUs worker `worker` may run on, read back from the OS.
    public func affinity(ofWorker worker: Int) throws(TesseraError) -> [Int] {
        guard worker >= 0, worker < threadCount else {
            throw .invalidArgument("ThreadPool.affinity: worker \(worker) is not in 0..<\(threadCount)")
        }
        var cpus = [Int32](repeating: 0, count: 1024)
        var count: Int32 = 0
        try cpus.withUnsafeMutableBufferPointer { (buf) throws(TesseraError) in
            try check(tsr_pool_worker_affinity(handle, Int32(worker), buf.baseAddress, 1024, &count))
        }
        return cpus.prefix(Int(min(count, 1024))).map(Int.init)
    }

    /// Runs `body(subrange, worker)` over `range` on the pool and returns when all are done.
    /// The body runs concurrently on several threads: it must only write disjoint data.
    public func parallelFor(_ range: Range<Int>, schedule: Schedule = .static,
                            _ body: (Range<Int>, _ worker: Int) -> Void) {
        if range.isEmpty { return }
        let (sched, chunk): (tsr_schedule, Int64) = {
            switch schedule {
            case .static: return (TSR_SCHEDULE_STATIC, 0)
            case .dynamic(let c): return (TSR_SCHEDULE_DYNAMIC, Int64(c))
            }
        }()
        withoutActuallyEscaping(body) { escapable in
            var context = RangeContext(body: escapable, lower: range.lowerBound)
            withUnsafeMutablePointer(to: &context) { ctx in
                let status = tsr_parallel_for(handle, Int64(range.count), chunk, sched, { raw, b, e, w in
                    let c = raw!.assumingMemoryBound(to: RangeContext.self)
                    c.pointee.body((c.pointee.lower + Int(b))..<(c.pointee.lower + Int(e)), Int(w))
                }, ctx)
                precondition(status == TSR_OK, "tsr_parallel_for: \(String(cString: tsr_last_error()))")
            }
        }
    }

    /// Calls `body(worker, workerCount)` once on every worker.
    public func run(_ body: (_ worker: Int, _ workerCount: Int) -> Void) {
        withoutActuallyEscaping(body) { escapable in
            var context = WorkerContext(body: escapable)
            withUnsafeMutablePointer(to: &context) { ctx in
                let status = tsr_pool_run(handle, { raw, w, n in
                    raw!.assumingMemoryBound(to: WorkerContext.self).pointee.body(Int(w), Int(n))
                }, ctx)
                precondition(status == TSR_OK, "tsr_pool_run: \(String(cString: tsr_last_error()))")
            }
        }
    }

    /// Pool-owned scratch memory of the calling worker (at least `bytes`, 64-byte aligned),
    /// valid until the worker asks again. Call it with the `worker` index the body received.
    public func scratch(worker: Int, bytes: Int) -> UnsafeMutableRawPointer? {
        guard worker >= 0, bytes >= 0 else { return nil }
        return tsr_pool_scratch(handle, Int32(worker), bytes)
    }
}

private struct RangeContext {
    let body: (Range<Int>, Int) -> Void
    let lower: Int
}

private struct WorkerContext {
    let body: (Int, Int) -> Void
}
