// Physics-constrained losses of NeuralStagger: the residual of the FINE discretisation of one
// time step, evaluated on the unstaggered prediction. No solver output enters the loss.

import Foundation

/// A fine-grid one-step discretisation whose residual trains a learned solver.
public protocol StepResidual: Sendable {
    /// The fine grid the residual lives on.
    var grid: Grid { get }
    /// The time step Δt of one learned step.
    var dt: Double { get }
    /// ‖R(u₀, u₁)‖²/count for one sample and its gradient with respect to u₁ (fine, row-major).
    func lossAndGradient(u0: [Double], u1: [Double]) -> (loss: Double, gradient: [Double])
    /// The same loss and its gradients with respect to u₀ and u₁ (for chains of steps: temporal
    /// sub-steps, where u₀ is itself a prediction).
    func lossAndGradients(u0: [Double], u1: [Double]) -> (loss: Double, gradient0: [Double], gradient1: [Double])
    /// The residual R(u₀, u₁) itself (fine, row-major).
    func residual(u0: [Double], u1: [Double]) -> [Double]
    /// The residual's transposed Jacobians applied to `v`: ((∂R/∂u₀)ᵀv, (∂R/∂u₁)ᵀv). Losses built
    /// from several residuals (the integral form of a chain of steps) back-propagate through it.
    func adjoint(u0: [Double], u1: [Double], v: [Double]) -> (gradient0: [Double], gradient1: [Double])
}

/// Crank–Nicolson residual of the heat equation u_t = κ∇²u with the 5-point Laplacian (the
/// operator of `FDHeat`) on a 2-D grid with periodic axes:
/// R = (u₁ − u₀) − (κΔt/2)(L u₁ + L u₀). Its zero is exactly `FDHeat(.crankNicolson)`'s step.
public struct HeatCNResidual: StepResidual {
    /// The fine periodic 2-D grid.
    public let grid: Grid
    /// Diffusivity κ.
    public let diffusivity: Double
    /// Time step Δt.
    public let dt: Double

    /// Errors: `.invalidArgument` for a grid that is not 2-D periodic, κ ≤ 0 or Δt ≤ 0.
    public init(grid: Grid, diffusivity: Double, dt: Double) throws(TesseraError) {
        guard grid.dimensions == 2, grid.isPeriodic else {
            throw .invalidArgument("HeatCNResidual: a 2-D periodic grid is needed (got \(grid))")
        }
        guard diffusivity > 0, diffusivity.isFinite, dt > 0, dt.isFinite else {
            throw .invalidArgument("HeatCNResidual: diffusivity \(diffusivity) and dt \(dt) must be positive")
        }
        self.grid = grid; self.diffusivity = diffusivity; self.dt = dt
    }

    /// κΔt/h² along y and x.
    public var meshRatios: (y: Double, x: Double) {
        (diffusivity * dt / (grid.spacing(0) * grid.spacing(0)), diffusivity * dt / (grid.spacing(1) * grid.spacing(1)))
    }

    /// u − (c/2)·L u with c = κΔt (the symmetric operator A of R = A u₁ − (2I − A) u₀).
    func applyA(_ u: [Double], sign: Double) -> [Double] {
        let ny = grid.shape[0], nx = grid.shape[1]
        let (ry, rx) = meshRatios
        var out = [Double](repeating: 0, count: u.count)
        for y in 0..<ny {
            let yn = (y + 1) % ny, ys = (y + ny - 1) % ny
            for x in 0..<nx {
                let xe = (x + 1) % nx, xw = (x + nx - 1) % nx
                let c = u[y * nx + x]
                let lap = ry * (u[yn * nx + x] + u[ys * nx + x] - 2 * c) + rx * (u[y * nx + xe] + u[y * nx + xw] - 2 * c)
                out[y * nx + x] = c - sign * 0.5 * lap
            }
        }
        return out
    }

    /// The residual R(u₀, u₁).
    public func residual(u0: [Double], u1: [Double]) -> [Double] {
        let a = applyA(u1, sign: 1), b = applyA(u0, sign: -1)
        return zip(a, b).map { $0 - $1 }
    }

    /// mean R² and its gradient 2/count · A R (A is symmetric).
    public func lossAndGradient(u0: [Double], u1: [Double]) -> (loss: Double, gradient: [Double]) {
        let (l, _, g1) = lossAndGradients(u0: u0, u1: u1)
        return (l, g1)
    }

    /// mean R², its gradient w.r.t. u₀, −2/count · B R (B = I + (κΔt/2)L, symmetric), and w.r.t. u₁.
    public func lossAndGradients(u0: [Double], u1: [Double]) -> (loss: Double, gradient0: [Double], gradient1: [Double]) {
        let r = residual(u0: u0, u1: u1), cnt = Double(r.count)
        let (g0, g1) = adjoint(u0: u0, u1: u1, v: r.map { 2 * $0 / cnt })
        return (r.reduce(0) { $0 + $1 * $1 } / cnt, g0, g1)
    }

    /// (−B v, A v): R = A u₁ − B u₀ is linear, both operators symmetric.
    public func adjoint(u0: [Double], u1: [Double], v: [Double]) -> (gradient0: [Double], gradient1: [Double]) {
        (applyA(v, sign: -1).map { -$0 }, applyA(v, sign: 1))
    }
}
