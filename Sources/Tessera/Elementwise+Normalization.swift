internal import CTessera

extension Elementwise {
    /// Sums for normalisation statistics (GroupNorm, LayerNorm) over `blocks` contiguous blocks
    /// of `length` floats (`include/tessera/elementwise.h`, `tsr_block_sums_f32`):
    /// `sums[b] = Σ x[b·length + i]`, `sumsOfSquares[b] = Σ x[b·length + i]²`. Float lanes per
    /// 1024-element chunk, chunks added in double: the same bits on every ISA, for a block
    /// whatever its alignment or neighbours. On the calling thread.
    /// Errors: `.invalidArgument` for negative sizes.
    public static func blockSums(_ x: UnsafePointer<Float>, blocks: Int, length: Int,
                                 sums: UnsafeMutablePointer<Double>,
                                 sumsOfSquares: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try check(tsr_block_sums_f32(x, Int64(blocks), Int64(length), sums, sumsOfSquares))
    }

    /// RMS normalisation (Llama/Gemma RMSNorm) of `rows` contiguous rows of `dimension` floats
    /// (`tsr_rms_norm_f32`): `out[r·dimension + i] = (x[r·dimension + i] · s_r) · weight[i]`,
    /// `s_r = 1 / sqrt(Σ x² / dimension + eps)`, the sum of squares in 16 float lanes by fused
    /// multiply-add, lanes in order, then the tail: the same bits on every ISA, a row whatever
    /// its neighbours. `out` may be `x`. On the calling thread.
    /// Errors: `.invalidArgument` for negative sizes, or `eps` negative or not finite.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               into out: UnsafeMutablePointer<Float>, rows: Int, dimension: Int,
                               eps: Float) throws(TesseraError) {
        try check(tsr_rms_norm_f32(x, weight, out, Int64(rows), Int64(dimension), eps))
    }

    /// Per-channel affine map with an optional SiLU over `channels` planes of `plane` floats
    /// (`tsr_channel_affine_f32`): `out[c·plane + i] = act(fma(x[c·plane + i], scale[c], shift[c]))`,
    /// `act` the identity or SiLU `v / (1 + e^(−v))` — GroupNorm's apply step with its
    /// statistics and affine parameters folded into one scale and shift per channel. The same
    /// bits on every ISA; within a few ulp of the float64 SiLU. `out` may be `x`. On the calling thread.
    /// Errors: `.invalidArgument` for negative sizes.
    public static func channelAffine(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                     channels: Int, plane: Int, scale: UnsafePointer<Float>,
                                     shift: UnsafePointer<Float>, silu: Bool) throws(TesseraError) {
        try check(tsr_channel_affine_f32(x, out, Int64(channels), Int64(plane), scale, shift,
                                         silu ? TSR_ACT_SILU : TSR_ACT_IDENTITY))
    }
}
