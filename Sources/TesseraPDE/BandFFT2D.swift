// Real 2-D FFTs pruned to the 2/3-rule band of the last axis.
//
// A 2-D real transform is two passes of 1-D transforms: along the rows (the last axis, real ↔
// half spectrum) and along the columns (axis 0, complex). When the spectrum is zero outside
// |m_x| < n_x/3 — every field a dealiased pseudo-spectral solver transforms back — the column
// pass only has to run on those ⌈n_x/3⌉ of the n_x/2 + 1 columns: the inverse skips columns that
// are zero on input, the forward skips columns the 2/3 rule discards on output. That is a third
// less work in the column pass (about a sixth of the whole transform) for results equal to the
// full transform's to round-off on every kept mode.
//
// Same layout and conventions as `RealFFT`: a real [n0, n1] array ↔ a half spectrum
// [n0, n1/2 + 1] of interleaved (re, im) doubles, forward unnormalised, FFTW plans cached per
// (shape, threads, effort) and run on the Tessera pool's workers.

import Foundation
internal import CFFTW

/// Pruned real 2-D FFT plans of one shape (see the file comment).
final class BandFFT2D: @unchecked Sendable {
    /// Rows (axis 0) and row length (axis 1) of the real array.
    let ny: Int, nx: Int
    /// Half-spectrum row length nx/2 + 1.
    let ncx: Int
    /// Columns in the band: the indices ix with 3·ix < nx (the 2/3 rule's kept x-modes).
    let band: Int
    private let rowsR2C, rowsC2R, colsForward, colsBackward: OpaquePointer

    nonisolated(unsafe) private static var cache: [String: BandFFT2D] = [:]

    private init(ny: Int, nx: Int, threads: Int, effort: FFTEffort) throws(TesseraError) {
        self.ny = ny; self.nx = nx
        ncx = nx / 2 + 1
        band = Swift.min(ncx, (nx + 2) / 3)
        let r = try AlignedDoubles(count: ny * nx), c = try AlignedDoubles(count: 2 * ny * ncx)
        let cp = UnsafeMutablePointer<fftw_complex>(OpaquePointer(c.pointer))
        var nRow = [Int32(nx)], nCol = [Int32(ny)]
        fftw_plan_with_nthreads(Int32(threads))
        let fl = effort.flags
        let r2c = fftw_plan_many_dft_r2c(1, &nRow, Int32(ny), r.pointer, nil, 1, Int32(nx), cp, nil, 1, Int32(ncx), fl)
        let c2r = fftw_plan_many_dft_c2r(1, &nRow, Int32(ny), cp, nil, 1, Int32(ncx), r.pointer, nil, 1, Int32(nx), fl)
        let cf = fftw_plan_many_dft(1, &nCol, Int32(band), cp, nil, Int32(ncx), 1, cp, nil, Int32(ncx), 1, FFTW_FORWARD, fl)
        let cb = fftw_plan_many_dft(1, &nCol, Int32(band), cp, nil, Int32(ncx), 1, cp, nil, Int32(ncx), 1, FFTW_BACKWARD, fl)
        guard let r2c, let c2r, let cf, let cb else {
            for p in [r2c, c2r, cf, cb] { if let p { fftw_destroy_plan(p) } }
            throw .unsupported("FFTW cannot plan the band-limited transforms of shape [\(ny), \(nx)]")
        }
        rowsR2C = r2c; rowsC2R = c2r; colsForward = cf; colsBackward = cb
    }

    deinit {
        RealFFT.lock.lock()
        for p in [rowsR2C, rowsC2R, colsForward, colsBackward] { fftw_destroy_plan(p) }
        RealFFT.lock.unlock()
    }

    /// The plans for an [ny, nx] real array (cached); `threads` nil = the pool's external-library
    /// thread count. Errors: `.invalidArgument` for a non-positive size, `.unsupported` from FFTW.
    static func plan(ny: Int, nx: Int, threads: Int? = nil, effort: FFTEffort = .measure) throws(TesseraError) -> BandFFT2D {
        guard ny > 0, nx > 0, ny <= Int(Int32.max), nx <= Int(Int32.max) else {
            throw .invalidArgument("BandFFT2D: shape [\(ny), \(nx)] must be positive")
        }
        let nt = Swift.max(1, threads ?? ThreadPool.shared.externalThreads)
        let key = "\(ny)x\(nx)/\(nt)/\(effort.rawValue)"
        return try RealFFT.withPlanner { () throws(TesseraError) -> BandFFT2D in
            if let p = cache[key] { return p }
            let p = try BandFFT2D(ny: ny, nx: nx, threads: nt, effort: effort)
            cache[key] = p
            return p
        }
    }

    /// Inverse (c2r), unnormalised, of a spectrum that is zero in columns ≥ `band`: `spectrum`
    /// (destroyed) → `real`. Columns ≥ band must be zero on input, or the result is wrong.
    func inverseUnscaled(_ spectrum: UnsafeMutablePointer<Double>, _ real: UnsafeMutablePointer<Double>) {
        let c = UnsafeMutablePointer<fftw_complex>(OpaquePointer(spectrum))
        fftw_execute_dft(colsBackward, c, c)
        fftw_execute_dft_c2r(rowsC2R, c, real)
    }

    /// Forward (r2c), unnormalised: `real` → `spectrum`, exact in the columns < `band`; columns
    /// ≥ band hold row-transform values only and must be discarded (the 2/3 rule zeroes them).
    func forwardBand(_ real: UnsafeMutablePointer<Double>, _ spectrum: UnsafeMutablePointer<Double>) {
        let c = UnsafeMutablePointer<fftw_complex>(OpaquePointer(spectrum))
        fftw_execute_dft_r2c(rowsR2C, real, c)
        fftw_execute_dft(colsForward, c, c)
    }
}
