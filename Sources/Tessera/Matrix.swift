/// A dense row-major matrix with 64-byte aligned storage and value semantics (copy on write).
///
/// Element (i, j) lives at `i * rowStride + j`. `rowStride >= cols`; rows may be padded so
/// each starts on an aligned boundary.
public struct Matrix<Element: TensorElement>: Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    /// Distance between consecutive rows, in elements.
    public let rowStride: Int
    var storage: AlignedStorage<Element>

    /// A `rows x cols` matrix of zero bits (0 for every numeric type).
    public init(rows: Int, cols: Int, rowStride: Int? = nil) throws(TesseraError) {
        try self.init(rows: rows, cols: cols, rowStride: rowStride, zeroed: true)
    }

    /// A `rows x cols` matrix (no row padding) whose elements are undefined until written: for
    /// the output of a kernel that writes every element (it then also first-touches the pages,
    /// in parallel). Never hand one out before the kernel has succeeded. `hugePages`: advise
    /// transparent huge pages first (see `AlignedStorage.adviseHugePages`), for a large output
    /// that the kernel streams out once.
    package init(uninitializedRows rows: Int, cols: Int, hugePages: Bool = false) throws(TesseraError) {
        try self.init(rows: rows, cols: cols, rowStride: nil, zeroed: false, hugePages: hugePages)
    }

    private init(rows: Int, cols: Int, rowStride: Int?, zeroed: Bool, hugePages: Bool = false) throws(TesseraError) {
        guard rows >= 0, cols >= 0 else {
            throw .invalidArgument("Matrix: rows and cols must be >= 0 (got \(rows) x \(cols))")
        }
        let stride = rowStride ?? cols
        guard stride >= cols else {
            throw .invalidArgument("Matrix: rowStride \(stride) is smaller than cols \(cols)")
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: stride)
        guard !overflow else { throw .outOfRange("Matrix: \(rows) x \(stride) elements overflow") }
        self.rows = rows
        self.cols = cols
        self.rowStride = stride
        self.storage = try AlignedStorage(count: count, zeroed: zeroed, hugePages: hugePages)
    }

    /// A `rows x cols` matrix with every element equal to `value`.
    public init(rows: Int, cols: Int, repeating value: Element) throws(TesseraError) {
        try self.init(rows: rows, cols: cols)
        storage.pointer.update(repeating: value, count: storage.count)
    }

    /// A matrix from row-major `elements` (exactly rows * cols of them).
    public init(rows: Int, cols: Int, elements: [Element]) throws(TesseraError) {
        try self.init(rows: rows, cols: cols)
        guard elements.count == rows * cols else {
            throw .invalidArgument("Matrix: \(elements.count) elements given for \(rows) x \(cols)")
        }
        elements.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: elements.count) }
    }

    /// A matrix from rows of equal length.
    public init(_ rowArrays: [[Element]]) throws(TesseraError) {
        let c = rowArrays.first?.count ?? 0
        guard rowArrays.allSatisfy({ $0.count == c }) else {
            throw .invalidArgument("Matrix: rows have different lengths")
        }
        try self.init(rows: rowArrays.count, cols: c, elements: rowArrays.flatMap { $0 })
    }

    /// Number of elements (rows * cols).
    public var count: Int { rows * cols }

    /// Element (i, j); traps on an index outside the matrix (a programmer error).
    public subscript(i: Int, j: Int) -> Element {
        get {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix index (\(i), \(j)) out of \(rows) x \(cols)")
            return storage.pointer[i * rowStride + j]
        }
        set {
            precondition(i >= 0 && i < rows && j >= 0 && j < cols, "Matrix index (\(i), \(j)) out of \(rows) x \(cols)")
            makeUnique()
            storage.pointer[i * rowStride + j] = newValue
        }
    }

    /// Row `i` as an array.
    public func row(_ i: Int) -> [Element] {
        precondition(i >= 0 && i < rows, "Matrix row \(i) out of 0..<\(rows)")
        return Array(UnsafeBufferPointer(start: storage.pointer + i * rowStride, count: cols))
    }

    /// All elements in row-major order, without padding.
    public func toArray() -> [Element] {
        if rowStride == cols { return Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }
        var out: [Element] = []
        out.reserveCapacity(count)
        for i in 0..<rows { out.append(contentsOf: UnsafeBufferPointer(start: storage.pointer + i * rowStride, count: cols)) }
        return out
    }

    /// The whole buffer (`rows * rowStride` elements, padding included).
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Element>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The whole buffer, mutable (copies first if the storage is shared).
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Element>) throws(E) -> R) throws(E) -> R
    {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }
}

extension Matrix: Equatable {
    /// Equal shapes and elements (padding ignored).
    public static func == (a: Matrix, b: Matrix) -> Bool {
        guard a.rows == b.rows, a.cols == b.cols else { return false }
        for i in 0..<a.rows {
            for j in 0..<a.cols where a.storage.pointer[i * a.rowStride + j] != b.storage.pointer[i * b.rowStride + j] {
                return false
            }
        }
        return true
    }
}

extension Matrix: CustomStringConvertible {
    /// The shape and the first rows and columns.
    public var description: String {
        var s = "Matrix<\(Element.self)>(\(rows) x \(cols))"
        let shown = min(rows, 6)
        for i in 0..<shown {
            let r = (0..<min(cols, 8)).map { "\(storage.pointer[i * rowStride + $0])" }.joined(separator: ", ")
            s += "\n  [\(r)\(cols > 8 ? ", ..." : "")]"
        }
        if rows > shown { s += "\n  ..." }
        return s
    }
}
