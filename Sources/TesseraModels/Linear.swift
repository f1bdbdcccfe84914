/// A weight matrix as stored in a GGUF file: `outFeatures` rows of `inFeatures` elements,
/// each row a whole number of blocks of `type`, rows back to back. The bytes belong to the
/// memory-mapped file (kept alive by `owner`).
public struct WeightMatrix: @unchecked Sendable {
    // @unchecked: points into an immutable mapping owned by `owner`.
    public let name: String
    public let type: GGMLType
    public let inFeatures: Int
    public let outFeatures: Int
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
    /// `x`: m × inFeatures (row stride inFeatures); `y`: m × outFeatures (row stride outFeatures).
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>)
}

/// The reference linear layer: dequantize one weight row into f32, then plain f32 dot products
/// with every activation row in a fixed order. Slow but obviously right; the test oracle for
/// the C kernels and the fallback when a block type has no fast kernel.
struct ReferenceLinear: LinearOperator {
    let weight: WeightMatrix
    let pool: ThreadPool

    init(weight: WeightMatrix, pool: ThreadPool = .shared) {
        self.weight = weight
        self.pool = pool
    }

    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>) {
        let w = weight
        let k = w.inFeatures, n = w.outFeatures
        pool.parallelFor(0..<n, schedule: .dynamic(chunk: 16)) { rows, worker in
            guard let raw = pool.scratch(worker: worker, bytes: k * MemoryLayout<Float>.size) else { return }
            let row = raw.assumingMemoryBound(to: Float.self)
            for r in rows {
                w.dequantizeRow(r, into: row)
                for i in 0..<m {
                    y[i * n + r] = dotF32(row, x + i * k, k)
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
