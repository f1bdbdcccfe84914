import Foundation
import Testing
@testable import TesseraDiffusion

@Suite("Exact probability-flow reference and the sample figure")
struct SampleFigureTests {
    /// Deterministic samplers converge to the analytic probability-flow solution from the same
    /// noise as their step count grows (and the solution follows the prior's spectrum).
    @Test func deterministicSamplersConvergeToTheFlowSolution() throws {
        let prior = try GaussianFieldPrior(height: 32, width: 32)
        let sched = try NoiseSchedule(.linear)
        let den = try GaussianFieldDenoiser(prior: prior, schedule: sched)
        let sampler = DiffusionSampler(schedule: sched)
        func error(_ kind: SamplerKind, steps: Int) throws -> Double {
            let opts = SamplerOptions(kind: kind, steps: steps, seed: 7)
            let x = try sampler.sample(den, height: 32, width: 32, options: opts)
            let ab = sched.alphaBar(Double(try sched.timesteps(steps, spacing: opts.spacing)[0]))
            let exact = try prior.flowSolution(from: .gaussian(channels: 1, height: 32, width: 32, seed: 7), alphaBar: ab)
            return try DiffusionMetrics.relativeError(x, exact)
        }
        let coarse = try error(.ddim(eta: 0), steps: 10), fine = try error(.ddim(eta: 0), steps: 500)
        #expect(fine < 0.05, "DDIM 500 steps: relative error \(fine)")
        #expect(fine < coarse / 3, "no convergence: \(coarse) → \(fine)")
        #expect(try error(.heun, steps: 100) < 0.05)
        #expect(SamplerKind.ddim(eta: 0).followsProbabilityFlow && SamplerKind.heun.followsProbabilityFlow)
        #expect(!SamplerKind.ddpm.followsProbabilityFlow && !SamplerKind.ddim(eta: 1).followsProbabilityFlow)

        let draws = try (0..<16).map { k throws(TesseraError) in
            try prior.flowSolution(from: .gaussian(channels: 1, height: 32, width: 32, seed: UInt64(k)), alphaBar: 4e-5)
        }
        let cmp = try SpectrumComparison(samples: draws, prior: prior)
        #expect(cmp.rmsLogError < 2.5 * cmp.expectedSamplingError)
        #expect(throws: TesseraError.self) {
            try prior.flowSolution(from: .gaussian(channels: 1, height: 16, width: 32, seed: 0), alphaBar: 0.5)
        }
        #expect(throws: TesseraError.self) {
            try prior.flowSolution(from: .gaussian(channels: 1, height: 32, width: 32, seed: 0), alphaBar: 0)
        }
    }

    @Test func figureHasSampleRowsAndASpectrumPanel() throws {
        let prior = try GaussianFieldPrior(height: 16, width: 16)
        let a = (0..<3).map { prior.sample(seed: UInt64($0)) }, b = (3..<6).map { prior.sample(seed: UInt64($0)) }
        var fig = SampleFigure(title: "samples")
        fig.rows = [("reference", a), ("sampler", b)]
        fig.columnLabels = ["seed 0", "seed 1", "seed 2"]
        let plain = try fig.render()
        fig.prior = prior
        let withSpectrum = try fig.render()
        #expect(withSpectrum.height > plain.height + 300)   // the spectrum chart below the samples
        // the cells: 16 × 16 fields at scale 4 (200 / 16 → 12, capped at 4) on the aurora map
        let lut = Colormap.aurora.lookupTable
        var mapPixels = 0
        for y in 0..<plain.height { for x in 0..<plain.width {
            let p = plain[x, y]
            if lut.contains(where: { $0 == (p.r, p.g, p.b) }) { mapPixels += 1 }
        } }
        #expect(mapPixels >= 6 * 64 * 64)   // six cells of 64 × 64 pixels (plus the colour bar)
        fig.rows.append(("bad", [try Latent(channels: 1, height: 8, width: 8)]))
        #expect(throws: TesseraError.self) { try fig.render() }
        #expect(throws: TesseraError.self) { try SampleFigure(title: "empty").render() }
    }
}
