// The integrating-factor RK4 residual of the 2-D vorticity equation (its zero: what a "perfect
// learner" of this loss predicts; the midpoint residual's zero is in NS2DMidpointSolve.swift).
//
// One step of Lawson's IF-RK4 (the scheme of NavierStokes2D) with F(ω) = −N(ω), E = e^{−νk²h/2}:
//   a = F(ω), b = F(E(ω + h/2·a)), c = F(Eω + h/2·b), d = F(E²ω + hE·c),
//   Φ(ω) = E²ω + h/6·(E²a + 2E(b + c) + d),
// on the dealiased input P ω (as NavierStokes2D truncates its initial field). The residual of a
// learned step over Δt is R(ω₀, ω₁) = ω₁ − Φ^m(ω₀), m sub-steps of h = Δt/m: computed from the
// input alone (no stored labels). Its transposed Jacobian w.r.t. ω₀ is the reverse sweep through
// the stages, with every multiplier symmetric (E(k) = E(−k), real) and Jᵀ of N from
// `NS2DMidpointResidual`.

import Foundation

/// Integrating-factor RK4 residual R = ω₁ − Φ^m(ω₀) of the 2-D vorticity equation (the operators
/// and time scheme of `NavierStokes2D`, pseudo-spectral with the 2/3 rule); its zero is m fixed
/// IF-RK4 steps of size Δt/m from the dealiased ω₀.
public final class NS2DIntegratingFactorResidual: StepResidual, @unchecked Sendable {
    /// The fine periodic 2-D grid.
    public var grid: Grid { ops.grid }
    /// Kinematic viscosity ν.
    public var viscosity: Double { ops.viscosity }
    /// The time step Δt of one learned step (m IF-RK4 sub-steps).
    public let dt: Double
    /// IF-RK4 sub-steps m per Δt.
    public let substeps: Int
    let ops: NS2DMidpointResidual   // the spectral operators (and their scratch, under its lock)
    let e1: [Double]                // e^{−νk²h/2} per half-spectrum mode

    /// Errors: `.invalidArgument` for a grid that is not 2-D, square-celled and periodic, ν < 0,
    /// Δt ≤ 0 or m outside 1...1024; FFTW errors.
    public init(grid: Grid, viscosity: Double, dt: Double, substeps: Int = 1) throws(TesseraError) {
        guard (1...1024).contains(substeps) else {
            throw .invalidArgument("NS2DIntegratingFactorResidual: substeps \(substeps) must be in 1...1024")
        }
        ops = try NS2DMidpointResidual(grid: grid, viscosity: viscosity, dt: dt)
        self.dt = dt; self.substeps = substeps
        let h = dt / Double(substeps)
        e1 = ops.k2.map { exp(-viscosity * $0 * h / 2) }
    }

    /// The multiplier e^{−νk²h/2}^p applied to a real field.
    func damp(_ f: [Double], power p: Int) -> [Double] {
        ops.apply(ops.spectrum(f)) { j in (pow(self.e1[j], Double(p)), 0) }
    }

    /// F(ω) = −N(ω).
    func force(_ w: [Double]) -> [Double] { ops.advectionLocked(w).map { -$0 } }

    /// The stage states of one IF-RK4 step from ω (already dealiased) and the step's end.
    func stages(_ w: [Double]) -> (s: [[Double]], next: [Double]) {
        let h = dt / Double(substeps), cnt = w.count
        let a = force(w)
        let s2 = damp((0..<cnt).map { w[$0] + h / 2 * a[$0] }, power: 1)
        let b = force(s2)
        let ew = damp(w, power: 1)
        let s3 = (0..<cnt).map { ew[$0] + h / 2 * b[$0] }
        let c = force(s3)
        let ec = damp(c, power: 1), e2w = damp(w, power: 2)
        let s4 = (0..<cnt).map { e2w[$0] + h * ec[$0] }
        let d = force(s4)
        let e2a = damp(a, power: 2), ebc = damp((0..<cnt).map { b[$0] + c[$0] }, power: 1)
        let next = (0..<cnt).map { e2w[$0] + h / 6 * (e2a[$0] + 2 * ebc[$0] + d[$0]) }
        return ([w, s2, s3, s4], next)
    }

    /// (∂Φ/∂ω)ᵀv for one IF-RK4 step at the stage states `s` (reverse sweep; J_F = −J_N).
    func stepAdjoint(_ s: [[Double]], _ v: [Double]) -> [Double] {
        let h = dt / Double(substeps), cnt = v.count
        let ev = damp(v, power: 1), e2v = damp(v, power: 2)
        var wbar = e2v
        var abar = e2v.map { h / 6 * $0 }
        var bbar = ev.map { h / 3 * $0 }
        var cbar = bbar
        let dbar = v.map { h / 6 * $0 }
        let s4bar = ops.jacobianTransposeLocked(s[3], dbar).map { -$0 }
        let e2s4 = damp(s4bar, power: 2), es4 = damp(s4bar, power: 1)
        for i in 0..<cnt { wbar[i] += e2s4[i]; cbar[i] += h * es4[i] }
        let s3bar = ops.jacobianTransposeLocked(s[2], cbar).map { -$0 }
        let es3 = damp(s3bar, power: 1)
        for i in 0..<cnt { wbar[i] += es3[i]; bbar[i] += h / 2 * s3bar[i] }
        let s2bar = ops.jacobianTransposeLocked(s[1], bbar).map { -$0 }
        let es2 = damp(s2bar, power: 1)
        for i in 0..<cnt { wbar[i] += es2[i]; abar[i] += h / 2 * es2[i] }
        let ja = ops.jacobianTransposeLocked(s[0], abar)
        for i in 0..<cnt { wbar[i] -= ja[i] }
        return wbar
    }

    /// P ω: the 2/3-rule truncation NavierStokes2D applies to its initial field (P is symmetric).
    func dealias(_ w: [Double]) -> [Double] { ops.apply(ops.spectrum(w)) { j in (self.ops.keep[j], 0) } }

    /// Φ^m(ω₀): m IF-RK4 steps of Δt/m from the dealiased ω₀ (fine, row-major).
    public func advance(_ u0: [Double]) -> [Double] {
        ops.lock.lock(); defer { ops.lock.unlock() }
        return chainLocked(u0).end
    }

    /// The chain from P ω₀: each sub-step's stage states (for the adjoint) and Φ^m(ω₀).
    func chainLocked(_ u0: [Double]) -> (stages: [[[Double]]], end: [Double]) {
        var w = dealias(u0), all: [[[Double]]] = []
        for _ in 0..<substeps {
            let (s, next) = stages(w)
            all.append(s)
            w = next
        }
        return (all, w)
    }

    /// The residual ω₁ − Φ^m(ω₀).
    public func residual(u0: [Double], u1: [Double]) -> [Double] {
        let p = advance(u0)
        return zip(u1, p).map { $0 - $1 }
    }

    /// mean R² and its gradient w.r.t. ω₁, 2R/count.
    public func lossAndGradient(u0: [Double], u1: [Double]) -> (loss: Double, gradient: [Double]) {
        let r = residual(u0: u0, u1: u1), cnt = Double(r.count)
        return (r.reduce(0) { $0 + $1 * $1 } / cnt, r.map { 2 * $0 / cnt })
    }

    /// mean R² and its gradients w.r.t. ω₀ and ω₁ (the chain run once for both).
    public func lossAndGradients(u0: [Double], u1: [Double]) -> (loss: Double, gradient0: [Double], gradient1: [Double]) {
        ops.lock.lock(); defer { ops.lock.unlock() }
        let chain = chainLocked(u0)
        let r = zip(u1, chain.end).map { $0 - $1 }, cnt = Double(r.count)
        let v = r.map { 2 * $0 / cnt }
        return (r.reduce(0) { $0 + $1 * $1 } / cnt, adjointLocked(chain.stages, v), v)
    }

    /// (−(∂Φ^m/∂ω₀)ᵀv, v).
    public func adjoint(u0: [Double], u1: [Double], v: [Double]) -> (gradient0: [Double], gradient1: [Double]) {
        ops.lock.lock(); defer { ops.lock.unlock() }
        return (adjointLocked(chainLocked(u0).stages, v), v)
    }

    /// −(∂Φ^m/∂ω₀)ᵀv from the chain's stage states: the sub-steps in reverse, then Pᵀ = P.
    func adjointLocked(_ stages: [[[Double]]], _ v: [Double]) -> [Double] {
        var g = v
        for s in stages.reversed() { g = stepAdjoint(s, g) }
        return dealias(g).map { -$0 }
    }
}
