import Foundation
import Testing
import TesseraPDE

/// `gainSpectrum` (every mode's one-step gain from one white-noise probe) against the closed
/// form of the base step and against `modeResponse`, and the training options that use it.
@Suite struct LearnedStaggerGainSpectrumTests {
    /// An untrained model is its coarse explicit base step, a Fourier multiplier with the closed
    /// form (1 − 4ρ(sin²(k_xH/2) + sin²(k_yH/2)))^sub at EVERY fine mode (H = s·h): the probe
    /// recovers it everywhere, and the modes constant on every coarse grid (k ≡ 0 mod n/s)
    /// have gain exactly 1 — the undamped aliases a trained correction must handle.
    @Test func untrainedSpectrumIsTheCoarseExplicitSymbolAtEveryMode() throws {
        for s in [2, 4] {
            let n = 16, h = 2 * Double.pi / Double(n)
            var cfg = LearnedStaggerConfig(n: n, factor: s, dt: 0.5 * h * h)
            cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
            cfg.sharing = .equivariant; cfg.temporal = 3
            let model = try LearnedStagger<Float>(config: cfg, seed: 5)
            let g = try model.gainSpectrum(seed: 9)
            let bigH = h * Double(s), rho = cfg.dt / (bigH * bigH)
            let sub = max(1, Int((rho / 0.2).rounded(.up))), rs = rho / Double(sub), ncx = n / 2 + 1
            var worst = 0.0
            for iy in 0..<n {
                for ix in 0..<ncx where ix != 0 || iy != 0 {
                    let sym = 1 - 4 * rs * (pow(sin(Double(ix) * bigH / 2), 2) + pow(sin(Double(iy) * bigH / 2), 2))
                    worst = max(worst, abs(g.gains[iy * ncx + ix] - abs(pow(sym, Double(sub * cfg.temporalSteps)))))
                }
            }
            #expect(worst <= 2e-5, "s \(s): worst gain error \(worst)")
            #expect(abs(g.maxAliasGain - 1) <= 2e-6 && abs(g.maxGain - 1) <= 2e-6)
            #expect(g.maxHighGain <= g.maxGain)
        }
    }

    /// With random weights (equivariant, linear, no biases) the probe's gain at a mode is the
    /// modulus of `modeResponse`'s complex gain (two different measurements of one multiplier).
    @Test func probeGainMatchesModeResponse() throws {
        let n = 16, h = 2 * Double.pi / Double(n)
        var cfg = LearnedStaggerConfig(n: n, factor: 4, dt: 0.5 * h * h)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
        cfg.sharing = .equivariant; cfg.inputs = .laplacian
        var model = try LearnedStagger<Float>(config: cfg, seed: 4)
        model.nets[0].parameters = model.nets[0].parameters.enumerated().map { $1 + 0.05 * Float(sin(Double($0))) }
        for c in model.nets[0].convolutions { for i in 0..<c.outChannels { model.nets[0].parameters[c.biasOffset + i] = 0 } }
        let g = try model.gainSpectrum()
        let modes = [(1, 0), (2, 3), (5, 1), (7, 7), (4, 0), (4, 4)]
        for m in try model.modeResponse(modes) {
            let iy = m.ky >= 0 ? m.ky : m.ky + n
            let probe = g.gains[iy * (n / 2 + 1) + m.kx], direct = (m.gain * m.gain + m.rotation * m.rotation).squareRoot()
            #expect(abs(probe - direct) <= 2e-4 * max(1, direct), "(\(m.kx),\(m.ky)): probe \(probe) vs modeResponse \(direct)")
        }
        #expect(g.maxGain >= g.maxAliasGain && g.maxGain >= g.maxHighGain)
        var ns = cfg; ns.equation = "ns2d"; ns.inputs = .field
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: ns, seed: 1).gainSpectrum() }
    }

    /// The gain limit rejects every trained checkpoint whose spectrum exceeds it (a limit below
    /// the untrained model's gain 1 rejects all, so the untrained model is kept), and bad
    /// alias-noise / gain-limit values are refused before training.
    @Test func gainLimitAndAliasNoiseOptions() throws {
        let n = 16, h = 2 * Double.pi / Double(n)
        var cfg = LearnedStaggerConfig(n: n, factor: 2, dt: 0.5 * h * h)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
        cfg.sharing = .equivariant; cfg.temporal = 2
        var model = try LearnedStagger<Float>(config: cfg, seed: 3)
        let start = model.nets[0].parameters
        var o = StaggerTrainingOptions()
        o.steps = 6; o.batch = 2; o.learningRate = 1e-2; o.validationEvery = 2; o.validationFields = 2
        o.aliasNoise = 1e-2; o.gainLimit = 0.5; o.decayedHorizon = 0.5
        let rep = try model.train(options: o)
        #expect(rep.steps == 6 && rep.unstableChecks == 3 && rep.bestStep == 0)
        #expect(model.nets[0].parameters == start)
        #expect(rep.lastMaxGain.map { $0 > 0.5 } == true)
        o.aliasNoise = -1
        #expect(throws: TesseraError.self) { _ = try model.train(options: o) }
        o.aliasNoise = 0; o.gainLimit = 0
        #expect(throws: TesseraError.self) { _ = try model.train(options: o) }
    }
}
