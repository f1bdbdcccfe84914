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

/// A 64-byte aligned, zero-initialised buffer owned by a class (the copy-on-write box of
/// `Matrix` and `Tensor`).
final class AlignedStorage<Element: TensorElement>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    init(count: Int) throws(TesseraError) {
        guard count >= 0 else { throw .invalidArgument("negative element count \(count)") }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Element>.stride)
        guard !overflow else { throw .outOfRange("\(count) elements overflow the address space") }
        guard let raw = tsr_calloc(1, bytes) else {
            throw .outOfMemory("cannot allocate \(bytes) bytes: \(String(cString: tsr_last_error()))")
        }
        pointer = raw.bindMemory(to: Element.self, capacity: max(count, 1))
        self.count = count
    }

    func copy() -> AlignedStorage<Element> {
        // Allocation of an existing size cannot overflow; only ENOMEM can fail here.
        let s = try! AlignedStorage(count: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { tsr_free(pointer) }
}
