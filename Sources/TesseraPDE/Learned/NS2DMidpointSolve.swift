// The zero of the implicit-midpoint vorticity residual (one implicit-midpoint step of the fine
// discretisation), by Newton's method with matrix-free GMRES: what a "perfect learner" of the
// midpoint loss predicts (NS2DCeiling rolls it out against the fine reference).

import Foundation

extension NS2DMidpointResidual {
    /// The zero of the residual: ω₁ with R(ω₀, ω₁) = 0, i.e. one implicit-midpoint step of the
    /// fine discretisation — what a perfect learner of this loss predicts. Newton's method from
    /// ω₁ = ω₀, each linear system ∂R/∂ω₁·δ = −R solved by GMRES with Jacobian-vector products
    /// ∂R/∂ω₁·v = v + (Δt/2)[J v − ν∇²v]; J v is the central difference of the advection N,
    /// exact for a quadratic N. (A plain fixed-point iteration diverges at the bench's Δt = 0.05:
    /// advection makes its Jacobian nearly imaginary with |Δt/2·k·u| > 1.) Stops when ‖R‖ is below
    /// `tolerance`·‖ω₀‖. Returns the field and the Newton steps taken. Errors: `.invalidArgument`
    /// for a field of the wrong size or non-finite; `.invalidState` if `maxIterations` Newton
    /// steps do not get there.
    public func solve(u0: [Double], tolerance: Double = 1e-12, maxIterations: Int = 30) throws(TesseraError) -> (field: [Double], iterations: Int) {
        guard u0.count == n * n, u0.allSatisfy({ $0.isFinite }) else {
            throw .invalidArgument("NS2DMidpointResidual.solve: need \(n * n) finite values (got \(u0.count))")
        }
        lock.lock(); defer { lock.unlock() }
        let norm = u0.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let target = tolerance * max(norm, .leastNormalMagnitude)
        var w1 = u0
        for it in 0...max(0, maxIterations) {
            let r = residualLocked(u0, w1)
            let rn = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard rn.isFinite else { break }
            if rn <= target { return (w1, it) }
            if it == maxIterations { break }
            let wm = zip(u0, w1).map { 0.5 * ($0 + $1) }
            let delta = gmres({ v in self.jacobianProduct(wm, v) }, r.map { -$0 }, tolerance: min(1e-3, 0.1 * target / rn), maxIterations: 80)
            for i in w1.indices { w1[i] += delta[i] }
        }
        throw .invalidState("NS2DMidpointResidual.solve: Newton did not converge in \(maxIterations) steps (Δt = \(dt))")
    }

    /// ∂R/∂ω₁·v at the midpoint ω_m: v + (Δt/2)[J v − ν∇²v].
    func jacobianProduct(_ wm: [Double], _ v: [Double]) -> [Double] {
        let vn = v.reduce(0) { $0 + $1 * $1 }.squareRoot(), mn = wm.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard vn > 0 else { return v }
        let eps = max(mn, 1) / vn
        let p = advectionLocked(zip(wm, v).map { $0 + eps * $1 }), m = advectionLocked(zip(wm, v).map { $0 - eps * $1 })
        let lap = laplacian(v)
        return (0..<v.count).map { v[$0] + 0.5 * dt * ((p[$0] - m[$0]) / (2 * eps) - viscosity * lap[$0]) }
    }
}

/// GMRES (no restart, modified Gram–Schmidt, Givens rotations) for A x = b from x = 0, until
/// ‖b − A x‖ ≤ tolerance·‖b‖ or `maxIterations` Krylov vectors.
func gmres(_ a: ([Double]) -> [Double], _ b: [Double], tolerance: Double, maxIterations: Int) -> [Double] {
    let bn = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
    guard bn > 0 else { return b }
    var basis = [b.map { $0 / bn }], h: [[Double]] = [], cs: [Double] = [], sn: [Double] = [], g = [bn]
    for k in 0..<max(1, maxIterations) {
        var w = a(basis[k])
        var col = [Double](repeating: 0, count: k + 2)
        for j in 0...k {
            let d = zip(w, basis[j]).reduce(0) { $0 + $1.0 * $1.1 }
            col[j] = d
            for i in w.indices { w[i] -= d * basis[j][i] }
        }
        let wn = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        col[k + 1] = wn
        for j in 0..<k {   // the earlier rotations
            let t = cs[j] * col[j] + sn[j] * col[j + 1]
            col[j + 1] = -sn[j] * col[j] + cs[j] * col[j + 1]; col[j] = t
        }
        let r = (col[k] * col[k] + col[k + 1] * col[k + 1]).squareRoot()
        let (c, s) = r > 0 ? (col[k] / r, col[k + 1] / r) : (1, 0)
        cs.append(c); sn.append(s)
        g.append(-s * g[k]); g[k] = c * g[k]
        col[k] = r; col[k + 1] = 0
        h.append(col)
        if abs(g[k + 1]) <= tolerance * bn || wn == 0 || k == maxIterations - 1 { break }
        basis.append(w.map { $0 / wn })
    }
    // y from the triangular H y = g, x = Σ y_j·basis_j
    let m = h.count
    var y = [Double](repeating: 0, count: m)
    for i in stride(from: m - 1, through: 0, by: -1) {
        var t = g[i]
        for j in (i + 1)..<m { t -= h[j][i] * y[j] }
        y[i] = h[i][i] != 0 ? t / h[i][i] : 0
    }
    var x = [Double](repeating: 0, count: b.count)
    for j in 0..<m { for i in x.indices { x[i] += y[j] * basis[j][i] } }
    return x
}
