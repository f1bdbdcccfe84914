import Testing
import TesseraDiffusion

// The snippets of Sources/TesseraDiffusion/TesseraDiffusion.docc, compiled and run here
// (scripts/check-doc-snippets checks that they stay the same).

func sample(_ sampler: DiffusionSampler, _ denoiser: sending any Denoiser) async throws -> Latent {
    try await sampler.sample(denoiser, height: 32, width: 32, options: SamplerOptions(steps: 50),
                             progress: { report in print(report) })   // "sampling steps: 7/50"
}

@Suite("TesseraDiffusion DocC snippets")
struct DocSnippetTests {
    @Test func overview() throws {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 32, width: 32,
                                           spectrum: .powerLaw(exponent: 2.5, cutoff: 0.05))
        let denoiser = try GaussianFieldDenoiser(prior: prior, schedule: schedule)
        let sampler = DiffusionSampler(schedule: schedule)
        let latent = try sampler.sample(denoiser, height: 32, width: 32,
                                        options: SamplerOptions(kind: .ddim(eta: 0), steps: 25, seed: 1))
        #expect(latent.count == 32 * 32)
    }

    @Test func asyncSample() async throws {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: .powerLaw(exponent: 2.5, cutoff: 0.05))
        let x = try await sample(DiffusionSampler(schedule: schedule), try GaussianFieldDenoiser(prior: prior, schedule: schedule))
        #expect(x.count == 32 * 32)
    }
}
