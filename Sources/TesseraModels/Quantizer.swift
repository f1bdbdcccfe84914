/// Reference encoders and decoders for the ggml block formats the runner supports
/// (F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q6_K; byte layouts in ALGORITHMS.md §2d).
///
/// These are the oracle the fast C kernels are tested against, the embedding lookup
/// (one row per token), and the encoder the tests use to write small models.
/// All loads are unaligned byte loads: ggml blocks are only 2-byte aligned.
public enum Quantizer {

    // MARK: half-precision helpers

    @inline(__always) static func f16(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: off, as: UInt16.self)))
    }
    @inline(__always) static func bf16(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }
    /// Round-to-nearest-even float -> bf16 (NaN stays NaN).
    @inline(__always) static func toBF16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        if x.isNaN { return UInt16(b >> 16) | 0x40 }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(rounded >> 16)
    }

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
            for i in 0..<count { dst[i] = .nan }
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

    // MARK: encode (reference quantizers, as in ggml-quants.c)

    /// Encodes row-major floats (`rowLength` per row) as `type`.
    public static func quantize(_ values: [Float], rowLength: Int, to type: GGMLType) throws(TesseraError) -> [UInt8] {
        guard type.isSupported else { throw .unsupported("cannot encode block type \(type)") }
        guard rowLength > 0, values.count % rowLength == 0, let rb = type.rowBytes(rowLength) else {
            throw .invalidArgument("row length \(rowLength) is not a whole number of \(type) blocks (or does not divide \(values.count))")
        }
        let rows = values.count / rowLength
        var out = [UInt8](repeating: 0, count: rows * rb)
        out.withUnsafeMutableBytes { o in
            values.withUnsafeBufferPointer { v in
                for r in 0..<rows {
                    quantizeRow(v.baseAddress! + r * rowLength, count: rowLength, type: type,
                                into: o.baseAddress! + r * rb)
                }
            }
        }
        return out
    }

    @inline(__always) static func putF16(_ p: UnsafeMutableRawPointer, _ off: Int, _ x: Float) {
        p.storeBytes(of: Float16(x).bitPattern, toByteOffset: off, as: UInt16.self)
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, type: GGMLType, into out: UnsafeMutableRawPointer) {
        switch type {
        case .f32:
            for i in 0..<count { out.storeBytes(of: x[i], toByteOffset: 4 * i, as: Float.self) }
        case .f16:
            for i in 0..<count { out.storeBytes(of: Float16(x[i]).bitPattern, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0..<count { out.storeBytes(of: toBF16(x[i]), toByteOffset: 2 * i, as: UInt16.self) }
        case .q4_0:
            for b in 0..<(count / 32) {
                let v = x + 32 * b, blk = out + 18 * b
                var amax: Float = 0, vmax: Float = 0
                for j in 0..<32 where abs(v[j]) > amax { amax = abs(v[j]); vmax = v[j] }
                let d = vmax / -8
                let id: Float = d != 0 ? 1 / d : 0
                putF16(blk, 0, d)
                for j in 0..<16 {
                    let a = min(15, Int8(clamping: Int(v[j] * id + 8.5)))
                    let c = min(15, Int8(clamping: Int(v[j + 16] * id + 8.5)))
                    blk.storeBytes(of: UInt8(max(0, a)) | UInt8(max(0, c)) << 4, toByteOffset: 2 + j, as: UInt8.self)
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let v = x + 32 * b, blk = out + 20 * b
                var lo = Float.infinity, hi = -Float.infinity
                for j in 0..<32 { lo = min(lo, v[j]); hi = max(hi, v[j]) }
                let d = (hi - lo) / 15
                let id: Float = d != 0 ? 1 / d : 0
                putF16(blk, 0, d)
                putF16(blk, 2, lo)
                for j in 0..<16 {
                    let a = min(15, max(0, Int((v[j] - lo) * id + 0.5)))
                    let c = min(15, max(0, Int((v[j + 16] - lo) * id + 0.5)))
                    blk.storeBytes(of: UInt8(a) | UInt8(c) << 4, toByteOffset: 4 + j, as: UInt8.self)
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let v = x + 32 * b, blk = out + 34 * b
                var amax: Float = 0
                for j in 0..<32 { amax = max(amax, abs(v[j])) }
                let d = amax / 127
                let id: Float = d != 0 ? 1 / d : 0
                putF16(blk, 0, d)
                for j in 0..<32 {
                    blk.storeBytes(of: Int8(clamping: Int((v[j] * id).rounded())), toByteOffset: 2 + j, as: Int8.self)
                }
            }
        case .q6_K:
            for b in 0..<(count / 256) {
                quantizeQ6KBlock(x + 256 * b, into: out + 210 * b)
            }
        default:
            break
        }
    }

    /// Q6_K: per 16-element sub-block scale for levels -32...31, int8 sub-scales under one fp16 `d`.
    static func quantizeQ6KBlock(_ x: UnsafePointer<Float>, into blk: UnsafeMutableRawPointer) {
        var scales = [Float](repeating: 0, count: 16)
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for s in 0..<16 {
            var amax: Float = 0, vmax: Float = 0
            for j in 0..<16 where abs(x[16 * s + j]) > amax { amax = abs(x[16 * s + j]); vmax = x[16 * s + j] }
            let sc = vmax / -32
            scales[s] = sc
            if abs(sc) > maxAbsScale { maxAbsScale = abs(sc); maxScale = sc }
        }
        let d = maxScale / -128
        let id: Float = d != 0 ? 1 / d : 0
        putF16(blk, 208, d)
        let dStored = Float(Float16(d))
        var L = [UInt8](repeating: 32, count: 256)
        for s in 0..<16 {
            let isc = Int8(clamping: min(127, Int((id * scales[s]).rounded())))
            blk.storeBytes(of: isc, toByteOffset: 192 + s, as: Int8.self)
            let eff = dStored * Float(isc)
            guard eff != 0 else { continue }
            for j in 0..<16 {
                let q = max(-32, min(31, Int((x[16 * s + j] / eff).rounded())))
                L[16 * s + j] = UInt8(q + 32)
            }
        }
        for half in 0..<2 {
            let ql = blk + 64 * half, qh = blk + 128 + 32 * half
            let Lh = 128 * half
            for l in 0..<32 {
                let l0 = L[Lh + l], l1 = L[Lh + l + 32], l2 = L[Lh + l + 64], l3 = L[Lh + l + 96]
                ql.storeBytes(of: (l0 & 0xF) | (l2 & 0xF) << 4, toByteOffset: l, as: UInt8.self)
                ql.storeBytes(of: (l1 & 0xF) | (l3 & 0xF) << 4, toByteOffset: l + 32, as: UInt8.self)
                qh.storeBytes(of: (l0 >> 4) | (l1 >> 4) << 2 | (l2 >> 4) << 4 | (l3 >> 4) << 6, toByteOffset: l, as: UInt8.self)
            }
        }
    }
}
