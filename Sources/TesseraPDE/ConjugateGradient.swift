// The preconditioned conjugate-gradient recurrence, written once for the single-process
// solvers (FDPoisson, FDHeat's Crank–Nicolson steps: the tiles of a TiledGrid) and for
// TesseraDistributed's DistributedPoisson (this rank's block of a grid split over ranks).
//
// The work is cut into parts (tiles, or the local block). Every part runs the same
// expressions over its interior points in the same (z, y, x) order; per-part partial sums
// are reduced by the injected `sum` in global part order, starting from 0. What differs
// between the two callers is injected: where the parts run (`forParts`), how A·v gets its
// halos (`apply`: TiledGrid's exchange, or MPI with the inner points computed while the
// faces travel) and how the partial sums meet (`sum`: tile order, or MPI rank order). So a
// DistributedPoisson over a grid split like FDPoisson's tiles gives the same bits.

import Tessera

/// One part of a CG problem: the local vectors of a tile (or of a rank's block) and its
/// interior points, row by row in (z, y, x) order.
package struct CGPart {
    package let x, r, p, q, z, dinv: UnsafeMutablePointer<Double>
    /// Flat index of x = 0 of every interior row, rows in (z, y) order; a row's interior
    /// points are x = 1 … rowLength.
    package let rows: [Int]
    package let rowLength: Int

    package init(x: UnsafeMutablePointer<Double>, r: UnsafeMutablePointer<Double>, p: UnsafeMutablePointer<Double>,
                 q: UnsafeMutablePointer<Double>, z: UnsafeMutablePointer<Double>, dinv: UnsafeMutablePointer<Double>,
                 rows: [Int], rowLength: Int) {
        self.x = x; self.r = r; self.p = p; self.q = q; self.z = z; self.dinv = dinv
        self.rows = rows; self.rowLength = rowLength
    }

    @inline(__always) package func forInterior(_ body: (Int) -> Void) {
        for row in rows { for i in (row + 1)...(row + rowLength) { body(i) } }
    }
}

/// The vector A is applied to.
package enum CGOperand: Sendable { case x, p }

/// What the recurrence needs from where its parts live.
package struct CGEnvironment {
    /// Runs body(part) once for every local part (in parallel where the parts allow it).
    package var forParts: ((Int) -> Void) -> Void
    /// q = A·v on every local part (v = x or p), after filling v's halos; v·q of each local part.
    package var apply: (CGOperand) throws(TesseraError) -> [Double]
    /// Totals of per-part partial sums (`width` values per local part, local parts in order)
    /// over every part of the problem, each summed in global part order starting from 0.
    package var sum: (_ partials: [Double], _ width: Int) throws(TesseraError) -> [Double]

    package init(forParts: @escaping ((Int) -> Void) -> Void,
                 apply: @escaping (CGOperand) throws(TesseraError) -> [Double],
                 sum: @escaping (_ partials: [Double], _ width: Int) throws(TesseraError) -> [Double]) {
        self.forParts = forParts; self.apply = apply; self.sum = sum
    }
}

/// Preconditioned conjugate gradients (none or Jacobi) for A x = b over parts.
package final class ConjugateGradient {
    package let parts: [CGPart]
    let env: CGEnvironment
    let jacobi: Bool
    /// A is singular (no Dirichlet axis): b and x are projected to zero mean.
    let singular: Bool
    /// Interior points of the whole problem (for the means).
    let pointCount: Int

    package init(parts: [CGPart], environment: CGEnvironment, preconditioner: FDPreconditioner, singular: Bool,
                 pointCount: Int) {
        self.parts = parts
        env = environment
        jacobi = preconditioner == .jacobi
        self.singular = singular
        self.pointCount = pointCount
    }

    /// `width` partial sums of every local part, body(part, its sums).
    private func partials(_ width: Int, _ body: (Int, UnsafeMutablePointer<Double>) -> Void) -> [Double] {
        var out = [Double](repeating: 0, count: parts.count * width)
        out.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress!
            env.forParts { pi in body(pi, base + pi * width) }
        }
        return out
    }

    /// Subtracts the mean over the whole problem from the vector `v` picks.
    private func subtractMean(_ v: (CGPart) -> UnsafeMutablePointer<Double>) throws(TesseraError) {
        let s = try env.sum(partials(1) { pi, s in
            let vp = v(parts[pi])
            var a = 0.0
            parts[pi].forInterior { a += vp[$0] }
            s[0] = a
        }, 1)[0]
        let m = s / Double(pointCount)
        env.forParts { pi in
            let vp = v(parts[pi])
            parts[pi].forInterior { vp[$0] -= m }
        }
    }

    /// Solves A x = b: b in the parts' r, the initial guess in x; the solution ends in x.
    package func solve(tolerance: Double, maxIterations: Int) throws(TesseraError) -> FDSolveReport {
        if singular { try subtractMean { $0.r } }
        // r = b − A x
        _ = try env.apply(.x)
        env.forParts { pi in
            let c = parts[pi]
            c.forInterior { i in c.r[i] -= c.q[i] }
        }
        let bnorm = try env.sum(partials(1) { pi, s in
            let c = parts[pi]
            var a = 0.0
            c.forInterior { let v = c.r[$0]; a += v * v }
            s[0] = a
        }, 1)[0].squareRoot()
        if bnorm == 0 { return FDSolveReport(iterations: 0, relativeResidual: 0, converged: true) }
        let jac = jacobi
        var rz = try env.sum(partials(1) { pi, s in
            let c = parts[pi]
            var a = 0.0
            c.forInterior { i in let zz = jac ? c.r[i] * c.dinv[i] : c.r[i]; c.z[i] = zz; c.p[i] = zz; a += c.r[i] * zz }
            s[0] = a
        }, 1)[0]
        var it = 0, rr = bnorm * bnorm
        while it < maxIterations && rr.squareRoot() > tolerance * bnorm {
            guard try step(rz: &rz, rr: &rr) else { break }
            it += 1
        }
        if singular { try subtractMean { $0.x } }
        return FDSolveReport(iterations: it, relativeResidual: rr.squareRoot() / bnorm,
                             converged: rr.squareRoot() <= tolerance * bnorm)
    }

    /// One iteration: q = A p, α = (r·z) / (p·q); x += αp, r −= αq, z = M⁻¹r with r·z and r·r
    /// summed in the same pass; β = (r·z)new / (r·z), p = z + βp. Returns false, with nothing
    /// changed but q, when p·q is not positive and finite (breakdown).
    package func step(rz: inout Double, rr: inout Double) throws(TesseraError) -> Bool {
        let pq = try env.sum(try env.apply(.p), 1)[0]
        guard pq > 0, pq.isFinite else { return false }
        let alpha = rz / pq
        let jac = jacobi
        let sums = try env.sum(partials(2) { pi, s in
            let c = parts[pi]
            var a = 0.0, b = 0.0
            c.forInterior { i in
                c.x[i] += alpha * c.p[i]
                let rn = c.r[i] - alpha * c.q[i]
                c.r[i] = rn
                let zz = jac ? rn * c.dinv[i] : rn
                c.z[i] = zz
                a += rn * zz; b += rn * rn
            }
            s[0] = a; s[1] = b
        }, 2)
        let rzNew = sums[0]
        rr = sums[1]
        let beta = rzNew / rz
        rz = rzNew
        env.forParts { pi in
            let c = parts[pi]
            c.forInterior { i in c.p[i] = c.z[i] + beta * c.p[i] }
        }
        return true
    }
}
