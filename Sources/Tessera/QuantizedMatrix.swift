internal import CTessera

/// A weight format of ``QuantizedMatrix``: the GGUF/ggml blocks (byte-exact) and Tessera's
/// own group formats. Raw values are the C enum `tsr_quant_format` (append-only).
public enum QuantFormat: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// Unquantized: IEEE float, IEEE half, bfloat16 (one element per block).
    case f32 = 0, f16 = 1, bf16 = 2
    /// ggml blocks: 4-bit (32 weights, f16 scale; q4_1 adds a minimum), 8-bit (32 weights), and
    /// the 6-bit k-quant (256 weights in 16 sub-blocks).
    case q4_0 = 3, q4_1 = 4, q8_0 = 5, q6_K = 6
    /// 4-bit, one f16 scale per group of 32, 64 or 128 weights, fixed zero point 8.
    case q4g32f16 = 7, q4g64f16 = 8, q4g128f16 = 9
    /// 4-bit, f16 scale and a 4-bit zero point per group of 32, 64 or 128 weights.
    case q4g32f16z = 10, q4g64f16z = 11, q4g128f16z = 12
    /// 4-bit, one f32 scale per group of 32, 64 or 128 weights, fixed zero point 8.
    case q4g32f32 = 13, q4g64f32 = 14, q4g128f32 = 15
    /// 4-bit, f32 scale and a 4-bit zero point per group of 32, 64 or 128 weights.
    case q4g32f32z = 16, q4g64f32z = 17, q4g128f32z = 18
    /// 8-bit signed, one f16 scale per group of 32, 64 or 128 weights.
    case q8g32f16 = 19, q8g64f16 = 20, q8g128f16 = 21
    /// 8-bit signed, one f32 scale per group of 32, 64 or 128 weights.
    case q8g32f32 = 22, q8g64f32 = 23, q8g128f32 = 24
    /// ggml blocks of 32: 5-bit with an f16 scale (q5_1 adds a minimum).
    case q5_0 = 25, q5_1 = 26
    /// ggml k-quants, 256 weights in sub-blocks with 6-bit (q2_K: 4-bit) scales: 4-bit and
    /// 5-bit with minimums, 3-bit, and 2-bit with minimums.
    case q4_K = 27, q5_K = 28, q3_K = 29, q2_K = 30
    /// ggml's non-linear 4-bit blocks of 32 (16 fixed levels times an f16 scale).
    case iq4_nl = 31

    var cValue: tsr_quant_format { tsr_quant_format(UInt32(rawValue)) }

    private var traits: tsr_quant_traits {
        var t = tsr_quant_traits()
        t.size = UInt32(MemoryLayout<tsr_quant_traits>.size)
        _ = tsr_quant_traits_get(cValue, &t)
        return t
    }

    /// The format's name as the C library prints it ("q4_0", "q4g128_f16z", ...).
    public var name: String { String(cString: tsr_quant_format_name(cValue)) }
    /// The format's `name`.
    public var description: String { name }
    /// Weights per block (K must be a multiple of it).
    public var blockElements: Int { Int(traits.block_elems) }
    /// Bytes per block.
    public var blockBytes: Int { Int(traits.block_bytes) }
    /// Storage cost in bits per weight, scales included.
    public var bitsPerWeight: Double { traits.bits_per_weight }
    /// Weights sharing one scale.
    public var groupSize: Int { Int(traits.group_size) }
    /// The ggml tensor type id, or nil for Tessera-only formats.
    public var ggmlType: Int? { traits.ggml_type >= 0 ? Int(traits.ggml_type) : nil }

    /// The format named `name` (case-insensitive), or nil.
    public init?(name: String) {
        var f = tsr_quant_format(0)
        guard tsr_quant_format_parse(name, &f) == TSR_OK, let v = QuantFormat(rawValue: Int32(f.rawValue)) else {
            return nil
        }
        self = v
    }

    /// The format of a ggml/GGUF tensor type id, or nil if Tessera does not implement it.
    public init?(ggmlType: Int) {
        var f = tsr_quant_format(0)
        guard let t = Int32(exactly: ggmlType), tsr_quant_format_from_ggml(t, &f) == TSR_OK,
              let v = QuantFormat(rawValue: Int32(f.rawValue)) else { return nil }
        self = v
    }

    /// Bytes of one row of `columns` weights.
    public func rowBytes(columns: Int) throws(TesseraError) -> Int {
        var rb = 0
        try check(tsr_quant_row_bytes(cValue, Int64(columns), &rb))
        return rb
    }

    /// Dequantizes one row of `columns` weights stored in this format at `src` (any
    /// alignment; `src` must hold `rowBytes(columns:)` bytes) into `dst`, with the C library's
    /// reference dequantizer (the bits `QuantizedMatrix.dequantized()` gives). Errors: a
    /// `columns` that is not a positive multiple of the block (`.invalidArgument`).
    public func dequantizeRow(_ src: UnsafeRawPointer, columns: Int, into dst: UnsafeMutablePointer<Float>)
        throws(TesseraError) {
        let rb = try rowBytes(columns: columns)
        var m = tsr_quant_matrix()
        m.size = UInt32(MemoryLayout<tsr_quant_matrix>.size)
        m.format = cValue
        m.n = 1
        m.k = Int64(columns)
        m.data = src
        m.row_stride = rb
        m.data_bytes = rb
        try check(tsr_dequantize(nil, &m, dst, Int64(columns)))
    }
}

/// Round-trip error of a quantization, |w − dequantize(quantize(w))| over all weights.
public struct QuantizationError: Sendable, Equatable {
    /// Largest |w − w'| over all weights (w' the round-tripped weight).
    public var maxAbsError: Double
    /// Root mean square of w − w'.
    public var rmsError: Double
    /// Largest |w| and RMS of the input, for relative figures.
    public var maxAbsValue: Double
    /// RMS of the input weights (`rmsError / rmsValue` is the relative error).
    public var rmsValue: Double
}

/// An N×K weight matrix in a quantized format, packed once for `Y = X·Wᵀ (+ bias)`.
///
/// Create it by quantizing a `Matrix<Float>` or over raw GGUF/ggml bytes (read once, in
/// place — e.g. from a memory-mapped model file — and repacked into the interleaved panel
/// layout the kernels stream). Products are batch invariant: row i of `multiply(x)` is
/// bit-for-bit the same whatever the number of rows of `x` and the thread count.
public final class QuantizedMatrix: @unchecked Sendable {
    /// Output features (rows of W).
    public let rows: Int
    /// Input features (columns of W).
    public let columns: Int
    /// The storage format of the weights.
    public let format: QuantFormat
    /// Round-trip error when made by quantizing f32 weights; nil over raw bytes.
    public let quantizationError: QuantizationError?

    let plan: OpaquePointer  // tsr_qgemm_plan_t *, immutable after creation

    private init(plan: OpaquePointer, rows: Int, columns: Int, format: QuantFormat, error: QuantizationError?) {
        self.plan = plan
        self.rows = rows
        self.columns = columns
        self.format = format
        self.quantizationError = error
    }

    deinit { tsr_qgemm_plan_destroy(plan) }

    /// Quantizes `weights` (rows = output features) to `format` with round-to-nearest.
    /// Throws for columns not a multiple of the block size and for NaN/Inf weights.
    public convenience init(quantizing weights: Matrix<Float>, format: QuantFormat,
                            pool: ThreadPool = .shared) throws(TesseraError) {
        let n = weights.rows, k = weights.cols
        guard n > 0, k > 0 else { throw .invalidArgument("QuantizedMatrix: empty matrix (\(n) x \(k))") }
        let rb = try format.rowBytes(columns: k)
        let (total, overflow) = rb.multipliedReportingOverflow(by: n)
        guard !overflow else { throw .outOfRange("QuantizedMatrix: \(n) rows of \(rb) bytes overflow") }
        var stats = tsr_quant_stats()
        stats.size = UInt32(MemoryLayout<tsr_quant_stats>.size)
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(total, 1), alignment: 64)
        defer { bytes.deallocate() }
        try weights.withUnsafeBufferPointer { (src) throws(TesseraError) in
            try check(tsr_quantize(pool.handle, format.cValue, src.baseAddress, Int64(n), Int64(k),
                                   Int64(weights.rowStride), bytes.baseAddress, total, &stats))
        }
        let plan = try QuantizedMatrix.makePlan(format: format, rows: n, columns: k,
                                                bytes: UnsafeRawBufferPointer(bytes), rowStride: rb, pool: pool)
        self.init(plan: plan, rows: n, columns: k, format: format,
                  error: QuantizationError(maxAbsError: stats.max_abs_error, rmsError: stats.rms_error,
                                           maxAbsValue: stats.max_abs_value, rmsValue: stats.rms_value))
    }

    /// Quantizes `weights` to `format` and returns the storage bytes (rows of blocks, packed;
    /// GGUF-compatible for the GGUF formats) with the round-trip error.
    public static func quantize(_ weights: Matrix<Float>, to format: QuantFormat,
                                pool: ThreadPool = .shared) throws(TesseraError) -> (bytes: [UInt8], error: QuantizationError) {
        let n = weights.rows, k = weights.cols
        guard n > 0, k > 0 else { throw .invalidArgument("QuantizedMatrix.quantize: empty matrix (\(n) x \(k))") }
        let rb = try format.rowBytes(columns: k)
        let (total, overflow) = rb.multipliedReportingOverflow(by: n)
        guard !overflow else { throw .outOfRange("QuantizedMatrix.quantize: \(n) rows of \(rb) bytes overflow") }
        var stats = tsr_quant_stats()
        stats.size = UInt32(MemoryLayout<tsr_quant_stats>.size)
        var bytes = [UInt8](repeating: 0, count: total)
        var status = TSR_OK
        weights.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBytes { dst in
                status = tsr_quantize(pool.handle, format.cValue, src.baseAddress, Int64(n), Int64(k),
                                      Int64(weights.rowStride), dst.baseAddress, total, &stats)
            }
        }
        try check(status)
        return (bytes, QuantizationError(maxAbsError: stats.max_abs_error, rmsError: stats.rms_error,
                                         maxAbsValue: stats.max_abs_value, rmsValue: stats.rms_value))
    }

    /// Reads an N×K matrix stored in `format` from raw bytes (rows of blocks, `rowStride`
    /// bytes apart; nil = packed), without copying them first: the bytes are read once,
    /// here, and need not outlive the initializer. Any alignment is accepted.
    /// Throws if the buffer is shorter than the shape needs.
    public convenience init(format: QuantFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer,
                            rowStride: Int? = nil, pool: ThreadPool = .shared) throws(TesseraError) {
        guard rows > 0, columns > 0 else {
            throw .invalidArgument("QuantizedMatrix: rows and columns must be > 0 (got \(rows) x \(columns))")
        }
        guard bytes.baseAddress != nil else { throw .invalidArgument("QuantizedMatrix: empty byte buffer") }
        let plan = try QuantizedMatrix.makePlan(format: format, rows: rows, columns: columns, bytes: bytes,
                                                rowStride: rowStride ?? 0, pool: pool)
        self.init(plan: plan, rows: rows, columns: columns, format: format, error: nil)
    }

    /// Raw bytes from an array (same as the pointer initializer).
    public convenience init(format: QuantFormat, rows: Int, columns: Int, bytes: [UInt8],
                            rowStride: Int? = nil, pool: ThreadPool = .shared) throws(TesseraError) {
        guard rows > 0, columns > 0 else {
            throw .invalidArgument("QuantizedMatrix: rows and columns must be > 0 (got \(rows) x \(columns))")
        }
        guard !bytes.isEmpty else { throw .invalidArgument("QuantizedMatrix: empty byte buffer") }
        let made: Result<OpaquePointer, TesseraError> = bytes.withUnsafeBytes { raw in
            do throws(TesseraError) {
                return .success(try QuantizedMatrix.makePlan(format: format, rows: rows, columns: columns, bytes: raw,
                                                             rowStride: rowStride ?? 0, pool: pool))
            } catch {
                return .failure(error)
            }
        }
        self.init(plan: try made.get(), rows: rows, columns: columns, format: format, error: nil)
    }

    private static func makePlan(format: QuantFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer,
                                 rowStride: Int, pool: ThreadPool) throws(TesseraError) -> OpaquePointer {
        guard rowStride >= 0 else { throw .invalidArgument("QuantizedMatrix: rowStride must be >= 0 (got \(rowStride))") }
        var desc = tsr_quant_matrix()
        desc.size = UInt32(MemoryLayout<tsr_quant_matrix>.size)
        desc.format = format.cValue
        desc.n = Int64(rows)
        desc.k = Int64(columns)
        desc.data = bytes.baseAddress
        desc.row_stride = rowStride
        desc.data_bytes = bytes.count
        var p: OpaquePointer?
        try check(tsr_qgemm_plan_create(pool.handle, &desc, nil, &p))
        guard let p else { throw .internalError("tsr_qgemm_plan_create returned no plan") }
        return p
    }

    /// Y = X·Wᵀ (+ bias): `x` is M×columns, the result M×rows. M = 1 is a GEMV.
    public func multiply(_ x: Matrix<Float>, bias: [Float]? = nil,
                         pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        guard x.cols == columns else {
            throw .invalidArgument("QuantizedMatrix.multiply: x has \(x.cols) columns, the weights \(columns)")
        }
        guard x.rows > 0 else { throw .invalidArgument("QuantizedMatrix.multiply: x has no rows") }
        if let bias, bias.count != rows {
            throw .invalidArgument("QuantizedMatrix.multiply: bias has \(bias.count) elements, expected \(rows)")
        }
        var y = try Matrix<Float>(rows: x.rows, cols: rows)
        let ldy = y.rowStride
        try x.withUnsafeBufferPointer { (xp) throws(TesseraError) in
            try y.withUnsafeMutableBufferPointer { (yp) throws(TesseraError) in
                if let bias {
                    try bias.withUnsafeBufferPointer { (bp) throws(TesseraError) in
                        try check(tsr_qgemm_execute(pool.handle, plan, Int64(x.rows), xp.baseAddress, Int64(x.rowStride),
                                                    bp.baseAddress, yp.baseAddress, Int64(ldy), nil, 0))
                    }
                } else {
                    try check(tsr_qgemm_execute(pool.handle, plan, Int64(x.rows), xp.baseAddress, Int64(x.rowStride),
                                                nil, yp.baseAddress, Int64(ldy), nil, 0))
                }
            }
        }
        return y
    }

    /// Y = X·Wᵀ (+ bias) on caller buffers, without allocating: `x` holds `rows` rows of
    /// `columns` floats, `xStride` apart; `y` receives `rows` rows of `self.rows` floats,
    /// `yStride` apart; `bias` is nil or `self.rows` floats. The buffers must be that large.
    public func multiply(rows m: Int, x: UnsafePointer<Float>, xStride: Int, into y: UnsafeMutablePointer<Float>,
                         yStride: Int, bias: UnsafePointer<Float>? = nil,
                         pool: ThreadPool = .shared) throws(TesseraError) {
        try check(tsr_qgemm_execute(pool.handle, plan, Int64(m), x, Int64(xStride), bias, y, Int64(yStride), nil, 0))
    }

    /// y = W·x (+ bias) for one vector of `columns` elements.
    public func multiply(vector x: [Float], bias: [Float]? = nil,
                         pool: ThreadPool = .shared) throws(TesseraError) -> [Float] {
        guard x.count == columns else {
            throw .invalidArgument("QuantizedMatrix.multiply: vector has \(x.count) elements, expected \(columns)")
        }
        return try multiply(Matrix(rows: 1, cols: columns, elements: x), bias: bias, pool: pool).row(0)
    }

    /// The weights as f32, exactly as the format represents them.
    public func dequantized() throws(TesseraError) -> Matrix<Float> {
        var w = try Matrix<Float>(rows: rows, cols: columns)
        let ld = w.rowStride
        try w.withUnsafeMutableBufferPointer { (p) throws(TesseraError) in
            try check(tsr_qgemm_plan_dequantize(plan, p.baseAddress, Int64(ld)))
        }
        return w
    }

    /// Bytes of the weights in their storage (interchange) format.
    public var storageBytes: Int { info.source_bytes }
    /// Bytes of the packed panels the kernels read (owned by the matrix).
    public var packedBytes: Int { info.packed_bytes }
    /// The kernel a product would use now ("avx512vnni-int8-u4", ...).
    public var kernelName: String {
        var i = info
        return withUnsafeBytes(of: &i.kernel) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private var info: tsr_qgemm_plan_info {
        var i = tsr_qgemm_plan_info()
        i.size = UInt32(MemoryLayout<tsr_qgemm_plan_info>.size)
        _ = tsr_qgemm_plan_info_get(plan, &i)
        return i
    }
}
