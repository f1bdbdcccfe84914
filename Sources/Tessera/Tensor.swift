/// An n-dimensional array with 64-byte aligned storage, explicit shape and strides (in
/// elements), and value semantics (copy on write). Default strides are row-major (C order).
public struct Tensor<Element: TensorElement>: Sendable {
    /// Extent of each dimension, outer first.
    public let shape: [Int]
    /// Distance between consecutive indices of each dimension, in elements (row-major, dense).
    public let strides: [Int]
    var storage: AlignedStorage<Element>

    /// A tensor of zero bits with the given shape (row-major).
    public init(shape: [Int]) throws(TesseraError) {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument("Tensor: negative dimension in shape \(shape)")
        }
        var strides = [Int](repeating: 1, count: shape.count)
        var total = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = total
            let (t, o) = total.multipliedReportingOverflow(by: max(shape[d], 1))
            guard !o else { throw .outOfRange("Tensor: shape \(shape) overflows") }
            total = t
        }
        let count = shape.contains(0) ? 0 : total
        self.shape = shape
        self.strides = strides
        self.storage = try AlignedStorage(count: count)
    }

    /// A tensor with the given shape and row-major `elements`.
    public init(shape: [Int], elements: [Element]) throws(TesseraError) {
        try self.init(shape: shape)
        guard elements.count == storage.count else {
            throw .invalidArgument("Tensor: \(elements.count) elements given for shape \(shape)")
        }
        elements.withUnsafeBufferPointer { if let b = $0.baseAddress { storage.pointer.update(from: b, count: elements.count) } }
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The object that owns the elements: a nonblocking transfer keeps it alive until it
    /// completes (a later change to the tensor copies, leaving the bytes in flight untouched).
    package var storageOwner: AnyObject { storage }
    /// Number of elements (the product of the shape).
    public var count: Int { storage.count }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "Tensor: index rank \(index.count) != \(shape.count)")
        var o = 0
        for d in 0..<index.count {
            precondition(index[d] >= 0 && index[d] < shape[d], "Tensor: index \(index) out of \(shape)")
            o += index[d] * strides[d]
        }
        return o
    }

    /// The element at a full index (one value per dimension); traps on a bad index (a programmer error).
    public subscript(_ index: Int...) -> Element {
        get { storage.pointer[offset(index)] }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            storage.pointer[offset(index)] = newValue
        }
    }

    /// The elements in row-major order.
    public func toArray() -> [Element] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// A tensor with the same elements and another shape of the same element count.
    public func reshaped(_ newShape: [Int]) throws(TesseraError) -> Tensor {
        var t = try Tensor(shape: newShape)
        guard t.count == count else {
            throw .invalidArgument("Tensor: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        t.storage = storage
        return t
    }

    /// The elements in row-major order.
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The elements in row-major order, mutable (copies first if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> R) throws(E) -> R
    {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }
}
