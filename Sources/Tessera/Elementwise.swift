internal import CTessera

/// Element-wise activation kernels of transformer blocks (`include/tessera/elementwise.h`):
/// vectorised C with run-time ISA dispatch, on the calling thread (they run on rows of a few
/// thousand elements between matrix products, where a fork-join would cost more than the work).
public enum Elementwise {
    /// SwiGLU gating, `out[i] = SiLU(gate[i]) · up[i] = gate[i] / (1 + e^(−gate[i])) · up[i]`
    /// for `i < count`. `out` may be `gate` or `up`; other overlap is not allowed.
    /// Within a few ulp of the float64 value; for one ISA the result does not depend on
    /// `count` or alignment (not bit-identical across ISAs). NaN propagates.
    /// Errors: `.invalidArgument` for a negative count.
    public static func swiGLU(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                              into out: UnsafeMutablePointer<Float>, count: Int) throws(TesseraError) {
        try check(tsr_swiglu_f32(gate, up, out, Int64(count)))
    }

    /// GeGLU gating with the tanh form of GELU (Gemma's feed-forward),
    /// `out[i] = ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · up[i]` with `g = gate[i]`, for
    /// `i < count`. `out` may be `gate` or `up`; other overlap is not allowed. The same bits on
    /// every ISA (scalar, AVX2, AVX-512) and for any `count` or alignment; within a few ulp of
    /// the float64 value (plus `|z|` ulp for the exponent argument `z ≈ −1.6g`). NaN propagates.
    /// Errors: `.invalidArgument` for a negative count.
    public static func geGLUTanh(gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
                                 into out: UnsafeMutablePointer<Float>, count: Int) throws(TesseraError) {
        try check(tsr_geglu_tanh_f32(gate, up, out, Int64(count)))
    }

    /// Array form of ``swiGLU(gate:up:into:count:)``: `gate` and `up` of equal length.
    public static func swiGLU(gate: [Float], up: [Float]) throws(TesseraError) -> [Float] {
        guard gate.count == up.count else {
            throw .invalidArgument("Elementwise.swiGLU: gate has \(gate.count) elements, up \(up.count)")
        }
        var out = [Float](repeating: 0, count: gate.count)
        try gate.withUnsafeBufferPointer { (g) throws(TesseraError) in
            try up.withUnsafeBufferPointer { (u) throws(TesseraError) in
                try out.withUnsafeMutableBufferPointer { (o) throws(TesseraError) in
                    guard let gp = g.baseAddress, let upp = u.baseAddress, let op = o.baseAddress else { return }
                    try swiGLU(gate: gp, up: upp, into: op, count: gate.count)
                }
            }
        }
        return out
    }
}
