import Foundation

/// Recycles a model's activation buffers and scratch between calls. A forward allocates a fresh
/// buffer for nearly every op's output; straight from the allocator, the large ones come as new
/// pages that the kernel must fault in and zero on every call (5–7 % of a 32² forward in `perf`).
/// Freed buffers are kept here by exact byte size and handed out again — the same sizes recur
/// call after call — up to `limit` bytes held; beyond that they go back to the allocator.
/// Contents of a recycled buffer are undefined, as for a fresh one (every op writes all of its
/// output). Thread-safe: patch tasks and concurrent calls share it.
final class BufferRecycler: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var held = 0
    private var scratchSets: [[Scratch]] = []
    private var scratches: [Scratch] = []
    /// Most bytes of free buffers kept.
    let limit: Int

    init(limit: Int = 768 << 20) { self.limit = limit }

    /// A 64-byte-aligned buffer of exactly `bytes` bytes (recycled when one of that size is free).
    func take(bytes: Int) -> UnsafeMutableRawPointer {
        lock.lock()
        if var list = free[bytes], let p = list.popLast() {
            free[bytes] = list.isEmpty ? nil : list
            held -= bytes
            lock.unlock()
            return p
        }
        lock.unlock()
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Returns a buffer from `take(bytes:)` (kept for reuse, or freed past the limit).
    func give(_ p: UnsafeMutableRawPointer, bytes: Int) {
        lock.lock()
        if held + bytes <= limit {
            free[bytes, default: []].append(p)
            held += bytes
            lock.unlock()
            return
        }
        lock.unlock()
        p.deallocate()
    }

    /// `count` per-worker scratch buffers for one call (recycled; return them with `giveScratch`).
    func takeScratch(count: Int) -> [Scratch] {
        lock.lock()
        defer { lock.unlock() }
        if let i = scratchSets.firstIndex(where: { $0.count == count }) { return scratchSets.remove(at: i) }
        return (0..<count).map { _ in Scratch() }
    }

    /// Returns a set from `takeScratch(count:)`.
    func giveScratch(_ set: [Scratch]) {
        lock.lock(); defer { lock.unlock() }
        if scratchSets.count < 8 { scratchSets.append(set) }
    }

    /// One scratch buffer (a patch's own), recycled.
    func takeScratch() -> Scratch {
        lock.lock(); defer { lock.unlock() }
        return scratches.popLast() ?? Scratch()
    }

    /// Returns a buffer from `takeScratch()`.
    func giveScratch(_ s: Scratch) {
        lock.lock(); defer { lock.unlock() }
        if scratches.count < 64 { scratches.append(s) }
    }

    deinit { for list in free.values { for p in list { p.deallocate() } } }
}
