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

/// The spectral solver (`SpectralHeat`: the exact heat flow of the continuous equation, one FFT
/// pair per call, any step) taking one step per learned step T·Δt from `u0`: its worst and final
/// relative L2 error against the fine reference (CN at Δt) at the learned model's times.
func spectralAtLearnedStep(_ u0: Field<Double>, dt: Double, temporal t: Int, steps: Int, pool: ThreadPool) throws -> CNAtStep {
    let spectral = try SpectralHeat(grid: u0.grid, diffusivity: 1, effort: .estimate)
    let ref = try FDHeat(initial: u0, diffusivity: 1, dt: dt, scheme: .crankNicolson, pool: pool)
    var u = u0, worst = 0.0, last = 0.0
    for _ in 0..<steps {
        u = try spectral.advance(u, by: dt * Double(t))
        try ref.advance(steps: t, tolerance: 1e-12)
        last = relativeL2(u, try ref.solution())
        worst = max(worst, last)
    }
    return CNAtStep(k: t, maxRelativeL2: worst, endRelativeL2: last)
}

/// One fine solver that reaches an accuracy target, and its cost per learned step T·Δt.
struct FineAtTarget {
    var name: String
    var maxRelativeL2: Double
    var secondsPerLearnedStep: Double
}

/// The cheapest of the fine solvers whose worst rollout error is within `target`: CN at every
/// K·Δt of the sweep that is (one step timed, scaled to T/K steps per T·Δt) and the spectral
/// solver at T·Δt; nil when none is. `timeCN(k)` and `timeSpectral()` give one step's seconds.
func cheapestFine(target: Double, sweep: [CNAtStep], spectral: CNAtStep, temporal t: Int,
                  timeCN: (Int) throws -> Double, timeSpectral: () throws -> Double) rethrows -> FineAtTarget? {
    var best: FineAtTarget? = nil
    for c in sweep where c.maxRelativeL2 <= target {
        let cost = try timeCN(c.k) * Double(t) / Double(c.k)
        if cost < best?.secondsPerLearnedStep ?? .infinity {
            best = FineAtTarget(name: "FDHeat CN at \(c.k)·Δt", maxRelativeL2: c.maxRelativeL2, secondsPerLearnedStep: cost)
        }
    }
    if spectral.maxRelativeL2 <= target {
        let cost = try timeSpectral()
        if cost < best?.secondsPerLearnedStep ?? .infinity {
            best = FineAtTarget(name: "SpectralHeat at T·Δt", maxRelativeL2: spectral.maxRelativeL2, secondsPerLearnedStep: cost)
        }
    }
    return best
}
