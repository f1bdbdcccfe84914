import Foundation
internal import CTessera

/// Element types that Tessera containers can hold: plain bit-copyable numbers.
public protocol TensorElement: BitwiseCopyable, Sendable, Equatable {}
extension Float: TensorElement {}
extension Double: TensorElement {}
extension Int8: TensorElement {}
extension UInt8: TensorElement {}
extension Int16: TensorElement {}
extension UInt16: TensorElement {}
extension Int32: TensorElement {}
extension UInt32: TensorElement {}
extension Int64: TensorElement {}
extension UInt64: TensorElement {}
extension Int: TensorElement {}

/// A 64-byte aligned buffer, zero-initialised unless made for a kernel's output, owned by a
/// class (the copy-on-write box of `Matrix` and `Tensor`).
final class AlignedStorage<Element: TensorElement>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    /// `zeroed: false` leaves the contents undefined: only for a buffer that a kernel then
    /// writes in full (an output), so that its pages are first touched by the kernel's own
    /// parallel writes instead of a single-threaded zeroing pass (a 100 000 × 256 CSR projection:
    /// 71–91 → 52–61 ms, docs/randproj.md). `hugePages`: advise transparent huge pages before
    /// the first touch (`adviseHugePages`).
    init(count: Int, zeroed: Bool = true, hugePages: Bool = false) throws(TesseraError) {
        guard count >= 0 else { throw .invalidArgument("negative element count \(count)") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard !overflow else { throw .outOfRange("\(count) elements overflow the address space") }
        guard let raw = zeroed ? tsr_calloc(1, bytes) : tsr_malloc(bytes) else {
            throw .outOfMemory("cannot allocate \(bytes) bytes: \(String(cString: tsr_last_error()))")
        }
        if hugePages { Self.adviseHugePages(raw, bytes: bytes) }
        #if DEBUG
        // debug builds (the tests) fill an unzeroed buffer with all-ones bits (NaN for floats),
        // so an element a kernel leaves unwritten shows instead of reading as a fresh page's 0
        if !zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0xFF, count: bytes) }
        #endif
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        self.count = count
    }

    /// Advises Linux to back the buffer with transparent huge pages (only its 4 KiB-aligned
    /// interior, and only from 4 MiB), as NumPy advises its arrays. Call it before the first
    /// touch. Where THP is "madvise" (most distributions' default) a fresh 100 MB output otherwise
    /// takes 25 600 first-touch faults of 4 KiB: a 100 000 × 256 CSR projection ran 72–101 ms on
    /// them against 36–39 ms on huge pages (docs/randproj.md, round 13). Not for every buffer: with
    /// every large `tsr_malloc` advised, FastRP ran 3× slower in some runs (the same round).
    private static func adviseHugePages(_ p: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        let page = 4096
        guard bytes >= 4 << 20 else { return }
        let lo = (Int(bitPattern: p) + page - 1) & ~(page - 1), hi = (Int(bitPattern: p) + bytes) & ~(page - 1)
        if hi > lo { _ = madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_HUGEPAGE) }  // advice only
        #endif
    }

    func copy() -> AlignedStorage<Element> {
        // Allocation of an existing size cannot overflow; only ENOMEM can fail here.
        let s = try! AlignedStorage(count: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { tsr_free(pointer) }
}

/// 64-byte aligned raw memory whose size comes from input (a file, a context length): a
/// failure — including a request above half the machine's memory, which Linux would grant and
/// then kill the process for — throws `.outOfMemory` naming `what` instead of trapping as
/// `allocate` does. Release it with `FallibleAllocation.free`.
package enum FallibleAllocation {
    package static func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(TesseraError) -> UnsafeMutableRawPointer {
        guard count >= 0 else { throw .invalidArgument("\(what()): negative size \(count)") }
        guard let p = tsr_malloc(count) else {
            throw .outOfMemory("\(what()): \(String(cString: tsr_last_error()))")
        }
        return p
    }

    /// `n` elements of `T`, uninitialised (overflow of n × stride is an error too).
    package static func elements<T>(_ n: Int, of _: T.Type, _ what: @autoclosure () -> String) throws(TesseraError) -> UnsafeMutablePointer<T> {
        let (bytes, overflow) = n.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !overflow, n >= 0 else { throw .outOfRange("\(what()): \(n) elements overflow the address space") }
        return try Self.bytes(bytes, what()).bindMemory(to: T.self, capacity: max(n, 1))
    }

    package static func free(_ p: UnsafeMutableRawPointer?) { tsr_free(p) }
}
