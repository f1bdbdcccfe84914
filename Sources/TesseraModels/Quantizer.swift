/// Reference decoders for the ggml block formats the runner supports (F32, F16, BF16, Q4_0,
/// Q4_1, Q8_0, Q6_K in Swift, byte layouts in ALGORITHMS.md §2d; Q5_0, Q5_1, Q2_K–Q5_K and
/// IQ4_NL through the C library's reference dequantizer, layouts in tessera/quant.h), and the
/// encoder of the GGUF writer (Tessera's C quantizers).
///
/// The decoders are the oracle the fast C kernels are tested against and the embedding
/// lookup (one row per token).
/// All loads are unaligned byte loads: ggml blocks are only 2-byte aligned.
public enum Quantizer {

    // MARK: half-precision helpers

    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: off, as: UInt16.self)))
    }
    @inline(__always) static func bf16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
    /// Round-to-nearest-even float -> bf16 (NaN stays NaN).
    // MARK: decode

    /// Decodes `count` elements of one row (a whole number of blocks) at `src` into `dst`.
    /// The caller guarantees `src` holds `type.rowBytes(count)` bytes and `type.isSupported`.
    public static func dequantizeRow(_ src: UnsafeRawPointer, type: GGMLType, count: Int,
                                     into dst: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16:
            for i in 0..<count { dst[i] = f16(src, 2 * i) }
        case .bf16:
            for i in 0..<count { dst[i] = bf16(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q4_0:
            for b in 0..<(count / 32) {
                let blk = src + 18 * b
                let d = f16(blk, 0)
                let o = dst + 32 * b
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 2 + j, as: UInt8.self)
                    o[j] = Float(Int(q & 0x0F) - 8) * d
                    o[j + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let blk = src + 20 * b
                let d = f16(blk, 0), m = f16(blk, 2)
                let o = dst + 32 * b
                for j in 0..<16 {
                    let q = blk.load(fromByteOffset: 4 + j, as: UInt8.self)
                    o[j] = Float(q & 0x0F) * d + m
                    o[j + 16] = Float(q >> 4) * d + m
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let blk = src + 34 * b
                let d = f16(blk, 0)
                let o = dst + 32 * b
                for j in 0..<32 { o[j] = Float(blk.load(fromByteOffset: 2 + j, as: Int8.self)) * d }
            }
        case .q6_K:
            for b in 0..<(count / 256) {
                let blk = src + 210 * b
                let d = f16(blk, 208)
                var y = dst + 256 * b
                for half in 0..<2 {
                    let ql = blk + 64 * half, qh = blk + 128 + 32 * half, sc = blk + 192 + 8 * half
                    for l in 0..<32 {
                        let isub = l / 16
                        let h = Int(qh.load(fromByteOffset: l, as: UInt8.self))
                        let a = Int(ql.load(fromByteOffset: l, as: UInt8.self))
                        let c = Int(ql.load(fromByteOffset: l + 32, as: UInt8.self))
                        let q1 = ((a & 0xF) | ((h >> 0) & 3) << 4) - 32
                        let q2 = ((c & 0xF) | ((h >> 2) & 3) << 4) - 32
                        let q3 = ((a >> 4) | ((h >> 4) & 3) << 4) - 32
                        let q4 = ((c >> 4) | ((h >> 6) & 3) << 4) - 32
                        let s = { (k: Int) -> Float in Float(sc.load(fromByteOffset: k, as: Int8.self)) }
                        y[l] = d * s(isub) * Float(q1)
                        y[l + 32] = d * s(isub + 2) * Float(q2)
                        y[l + 64] = d * s(isub + 4) * Float(q3)
                        y[l + 96] = d * s(isub + 6) * Float(q4)
                    }
                    y += 128
                }
            }
        default:
            // the later ggml formats (Q5_0, Q5_1, Q2_K..Q5_K, IQ4_NL): the C reference
            // dequantizer, whose bits the gguf package's decoder matches (python oracle test)
            guard let format = type.quantFormat, (try? format.dequantizeRow(src, columns: count, into: dst)) != nil else {
                for i in 0..<count { dst[i] = .nan }
                return
            }
        }
    }

    /// Decodes a whole row-major tensor image (`rowLength` elements per row).
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, type: GGMLType, rowLength: Int) throws(TesseraError) -> [Float] {
        guard type.isSupported else { throw .unsupported("block type \(type) is not supported") }
        guard let rb = type.rowBytes(rowLength), rb > 0, bytes.count % rb == 0 else {
            throw .invalidArgument("\(bytes.count) bytes are not whole rows of \(rowLength) \(type) elements")
        }
        let rows = bytes.count / rb
        var out = [Float](repeating: 0, count: rows * rowLength)
        guard let base = bytes.baseAddress else { return out }
        out.withUnsafeMutableBufferPointer { o in
            for r in 0..<rows { dequantizeRow(base + r * rb, type: type, count: rowLength, into: o.baseAddress! + r * rowLength) }
        }
        return out
    }

    // MARK: encode

    /// Encodes row-major floats (`rowLength` per row) as `type`, with Tessera's C quantizers
    /// (ggml's reference rounding, byte for byte; one implementation for the library, the
    /// GGUF writer and the tests). Errors: NaN/Inf values (`.invalidArgument`), values beyond
    /// what the format's fp16 scale can hold (`.outOfRange`, naming the row and block).
    public static func quantize(_ values: [Float], rowLength: Int, to type: GGMLType) throws(TesseraError) -> [UInt8] {
        guard type.isSupported else { throw .unsupported("cannot encode block type \(type)") }
        guard rowLength > 0, values.count % rowLength == 0, type.rowBytes(rowLength) != nil else {
            throw .invalidArgument("row length \(rowLength) is not a whole number of \(type) blocks (or does not divide \(values.count))")
        }
        let rows = values.count / rowLength
        if type == .f32 { return values.withUnsafeBytes { Array($0) } }
        guard let format = QuantFormat(ggmlType: Int(type.rawValue)) else {
            throw .unsupported("cannot encode block type \(type)")
        }
        return try QuantizedMatrix.quantize(try Matrix(rows: rows, cols: rowLength, elements: values), to: format).bytes
    }
}
