/// A weight matrix as stored in a GGUF file: `outFeatures` rows of `inFeatures` elements,
/// each row a whole number of blocks of `type`, rows back to back. The bytes belong to the
/// memory-mapped file (kept alive by `owner`).
public struct WeightMatrix: @unchecked Sendable {
    // @unchecked: points into an immutable mapping owned by `owner`.
    /// The tensor's name in the file.
    public let name: String
    /// The block type of the rows.
    public let type: GGMLType
    /// Elements per row (the input size).
    public let inFeatures: Int
    /// Rows (the output size).
    public let outFeatures: Int
    /// Bytes per row.
    public let rowBytes: Int
    let data: UnsafeRawPointer
    let owner: AnyObject?

    init(name: String, type: GGMLType, inFeatures: Int, outFeatures: Int, data: UnsafeRawPointer, owner: AnyObject?) {
        self.name = name
        self.type = type
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.rowBytes = type.rowBytes(inFeatures) ?? 0
        self.data = data
        self.owner = owner
    }

    /// Bytes of the whole matrix.
    public var byteCount: Int { rowBytes * outFeatures }

    /// Dequantizes row `r` into `dst` (`inFeatures` floats).
    func dequantizeRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        Quantizer.dequantizeRow(data + r * rowBytes, type: type, count: inFeatures, into: dst)
    }
}

/// `Y[m, :] = W · X[m, :]` for a block of `m` activation rows: the one operation every
/// projection of the model is. Implementations must be batch-invariant (row i of the result
/// is bit-for-bit the same for any `m` and any thread count) — that is what keeps speculative
/// decoding lossless.
protocol LinearOperator: Sendable {
    var weight: WeightMatrix { get }
    /// `x`: m × inFeatures (row stride inFeatures); `y`: m × outFeatures, row i at `y + i·ldy`
    /// (`ldy >= outFeatures`).
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) throws(TesseraError)
}

extension LinearOperator {
    /// `y`: m × outFeatures with row stride outFeatures.
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>) throws(TesseraError) {
        try apply(x, rows: m, into: y, ldy: weight.outFeatures)
    }
}

/// Keeps a heap copy of stacked weight rows alive for the `WeightMatrix` that points into it.
final class StackedWeightStorage: @unchecked Sendable {
    // @unchecked: written once in init, read-only afterwards.
    let bytes: UnsafeMutableRawPointer
    init(byteCount: Int) { bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64) }
    deinit { bytes.deallocate() }
}

extension WeightMatrix {
    /// The rows of `parts` stacked into one matrix (part 0's rows first), or nil when the parts
    /// differ in block type or input width. GGUF rows are self-contained (each row is whole
    /// blocks with their own scales), so stacking is a byte copy of the rows.
    static func stacked(_ parts: [WeightMatrix], name: String) -> WeightMatrix? {
        guard let first = parts.first,
              parts.allSatisfy({ $0.type == first.type && $0.inFeatures == first.inFeatures && $0.rowBytes == first.rowBytes })
        else { return nil }
        let total = parts.reduce(0) { $0 + $1.byteCount }
        let storage = StackedWeightStorage(byteCount: total)
        var off = 0
        for p in parts {
            storage.bytes.advanced(by: off).copyMemory(from: p.data, byteCount: p.byteCount)
            off += p.byteCount
        }
        return WeightMatrix(name: name, type: first.type, inFeatures: first.inFeatures,
                            outFeatures: parts.reduce(0) { $0 + $1.outFeatures },
                            data: UnsafeRawPointer(storage.bytes), owner: storage)
    }
}

/// Several projections of the same input whose outputs sit side by side in one row
/// (`[part 0 | part 1 | ...]`): the fallback for `q/k/v` and `gate/up` when their block types
/// differ (or fusion is off): one call per part, each writing its columns.
struct ConcatLinear: LinearOperator {
    let parts: [any LinearOperator]
    let weight: WeightMatrix   // describes the whole (name, out = sum of parts); data is part 0's

    init(parts: [any LinearOperator], name: String) {
        self.parts = parts
        let w0 = parts[0].weight
        weight = WeightMatrix(name: name, type: w0.type, inFeatures: w0.inFeatures,
                              outFeatures: parts.reduce(0) { $0 + $1.weight.outFeatures }, data: w0.data, owner: w0.owner)
    }

    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) throws(TesseraError) {
        var col = 0
        for p in parts {
            try p.apply(x, rows: m, into: y + col, ldy: ldy)
            col += p.weight.outFeatures
        }
    }
}

/// The reference linear layer: dequantize one weight row into f32, then plain f32 dot products
/// with every activation row in a fixed order. Slow but obviously right; the test oracle for
/// the C kernels and the fallback when a block type has no fast kernel.
struct ReferenceLinear: LinearOperator {
    let weight: WeightMatrix
    let pool: ThreadPool

    init(weight: WeightMatrix, pool: ThreadPool) {
        self.weight = weight
        self.pool = pool
    }

    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let w = weight
        let k = w.inFeatures, n = w.outFeatures
        pool.parallelFor(0..<n, schedule: .dynamic(chunk: 16)) { rows, worker in
            guard let raw = pool.scratch(worker: worker, bytes: k * MemoryLayout<Float>.size) else { return }
            let row = raw.assumingMemoryBound(to: Float.self)
            for r in rows {
                w.dequantizeRow(r, into: row)
                for i in 0..<m {
                    y[i * ldy + r] = dotF32(row, x + i * k, k)
                }
            }
        }
    }
}

/// f32 dot product with a fixed reduction order (16 lanes, then a fixed tree).
@inline(__always)
func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 16 <= n {
        let va = ra.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        let vb = rb.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        acc.addProduct(va, vb)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
