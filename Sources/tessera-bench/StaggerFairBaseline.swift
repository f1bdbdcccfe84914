import Foundation
import TesseraPDE

// The fair fine baseline of the learned heat model: the fine solver (FDHeat, Crank–Nicolson, the
// discretisation the model is trained on) at the coarsest time step that still meets the
// accuracy target, rather than at the model's small fine step.

/// FDHeat CN at step K·Δt over `steps`·T·Δt from `u0`: its worst and final relative L2 error
/// against CN at Δt, compared at the learned model's times (multiples of T·Δt that CN reaches).
struct CNAtStep {
    var k: Int
    var maxRelativeL2: Double, endRelativeL2: Double
}

/// CN at K·Δt for K = 1, 2, … up to 4T (those dividing the `steps`·T fine steps), each against
/// CN at Δt; CG tolerance `tolerance` for the K·Δt runs (1e-12 for the reference).
func cnStepSweep(_ u0: Field<Double>, dt: Double, temporal t: Int, steps: Int, tolerance: Double,
                 pool: ThreadPool) throws -> [CNAtStep] {
    let total = steps * t
    var out: [CNAtStep] = []
    for k in 1...(4 * t) where total % k == 0 {
        let cn = try FDHeat(initial: u0, diffusivity: 1, dt: dt * Double(k), scheme: .crankNicolson, pool: pool)
        let ref = try FDHeat(initial: u0, diffusivity: 1, dt: dt, scheme: .crankNicolson, pool: pool)
        var worst = 0.0, last = 0.0
        for j in 1...(total / k) {
            try cn.advance(steps: 1, tolerance: tolerance)
            try ref.advance(steps: k, tolerance: 1e-12)
            guard (j * k) % t == 0 else { continue }   // the times the learned rollout is checked at
            last = relativeL2(try cn.solution(), try ref.solution())
            worst = max(worst, last)
        }
        out.append(CNAtStep(k: k, maxRelativeL2: worst, endRelativeL2: last))
    }
    return out
}

/// The largest K of the sweep whose worst error is within `target` (K = 1, the reference, always is).
func coarsestAccurateCN(_ sweep: [CNAtStep], target: Double) -> CNAtStep {
    sweep.filter { $0.maxRelativeL2 <= target }.max { $0.k < $1.k } ?? sweep[0]
}
