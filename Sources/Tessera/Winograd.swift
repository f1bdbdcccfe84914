internal import CTessera

/// Winograd F(2×2, 3×3) transforms for 3×3, stride-1, padding-1 convolutions
/// (`include/tessera/elementwise.h`, `tsr_winograd_f2x3_*`): filter transform `U = G g Gᵀ`,
/// input transform `V = Bᵀ d B` of 4×4 tiles, 16 matrix products `M[e] = U[e]·V[e]` (the
/// caller's SGEMM), output transform `Aᵀ M A + bias`. 2.25× fewer multiplications than
/// im2col + SGEMM; relative error about 1e-7 (a few times the direct form's). The input and
/// output transforms give the same bits on every ISA. All on the calling thread.
public enum WinogradF2x3 {
    /// Transforms `cout × cin` 3×3 filters (OIHW) into `u[e·cout·cin + co·cin + ci]`, `e < 16`
    /// (`16·cout·cin` floats), in double rounded once.
    /// Errors: `.invalidArgument` for negative sizes.
    public static func filters(_ g: UnsafePointer<Float>, cout: Int, cin: Int,
                               into u: UnsafeMutablePointer<Float>) throws(TesseraError) {
        try check(tsr_winograd_f2x3_filter_f32(g, Int64(cout), Int64(cin), u))
    }

    /// Input transform of tile rows `tileRows` of a `channels × rows × width` channel-major
    /// image: `v[e·channels·nt + c·nt + (ty − tileRows.lowerBound)·tw + tx]`, `tw = ⌈width/2⌉`,
    /// `nt = tileRows.count·tw`. Row −1 is `top` and row `rows` is `bottom` (`channels × width`
    /// each) when given, else zeros.
    /// Errors: `.invalidArgument` for bad sizes or tile rows outside `0...⌈rows/2⌉`.
    public static func input(_ x: UnsafePointer<Float>, channels: Int, rows: Int, width: Int,
                             top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?, tileRows: Range<Int>,
                             into v: UnsafeMutablePointer<Float>) throws(TesseraError) {
        try check(tsr_winograd_f2x3_input_f32(x, Int64(channels), Int64(rows), Int64(width), top, bottom,
                                              Int64(tileRows.lowerBound), Int64(tileRows.upperBound), v))
    }

    /// Output transform: from products `m` laid out as ``input(_:channels:rows:width:top:bottom:tileRows:into:)``'s
    /// `v` (`channels` = output channels), writes output rows `2·lower ..< min(rows, 2·upper)` of
    /// the `channels × rows × width` image `out`, plus `bias[c]` (nil = 0).
    /// Errors: `.invalidArgument` for bad sizes or tile rows.
    public static func output(_ m: UnsafePointer<Float>, channels: Int, rows: Int, width: Int, tileRows: Range<Int>,
                              bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) throws(TesseraError) {
        try check(tsr_winograd_f2x3_output_f32(m, Int64(channels), Int64(rows), Int64(width),
                                               Int64(tileRows.lowerBound), Int64(tileRows.upperBound), bias, out))
    }
}
