import Testing
import TesseraTestSupport
@testable import TesseraDiffusion

@Suite("Diffusion sampling async: same bits, progress, cancellation")
struct SamplerAsyncTests {
    static func denoiser() throws -> (GaussianFieldDenoiser, DiffusionSampler) {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 16, width: 16, spectrum: .powerLaw(exponent: 2.5, cutoff: 0.05))
        return (try GaussianFieldDenoiser(prior: prior, schedule: schedule), DiffusionSampler(schedule: schedule))
    }

    @Test("async sample and samples equal sync", arguments: [SamplerKind.ddim(eta: 0), .ddpm, .heun])
    func sameBits(kind: SamplerKind) async throws {
        let (den, sampler) = try Self.denoiser()
        let o = SamplerOptions(kind: kind, steps: 12, seed: 3)
        let sync = try blocking { try sampler.sample(den, height: 16, width: 16, options: o) }
        let probe = ProgressProbe()
        let (den2, _) = try Self.denoiser()
        let async = try await sampler.sample(den2, height: 16, width: 16, options: o, progress: probe.handler)
        #expect(async.data.map(\.bitPattern) == sync.data.map(\.bitPattern))
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == 12)

        let syncMany = try blocking { try sampler.samples(den, count: 2, height: 16, width: 16, options: o) }
        let (den3, _) = try Self.denoiser()
        let many = ProgressProbe()
        let asyncMany = try await sampler.samples(den3, count: 2, height: 16, width: 16, options: o, progress: many.handler)
        #expect(asyncMany == syncMany)
        many.checkMonotone(finished: true)
        #expect(many.all.last?.total == 24)
    }

    @Test("cancellation stops sampling within a step")
    func cancel() async throws {
        let (den, sampler) = try Self.denoiser()
        let probe = ProgressProbe(cancelAt: 3)
        let error = await probe.runCancelled {
            _ = try await sampler.sample(den, height: 16, width: 16, options: SamplerOptions(steps: 200, seed: 1),
                                         progress: probe.handler)
        }
        #expect(error is CancellationError)
        #expect(probe.done >= 3 && probe.done <= 4, "steps after the request: \(probe.done - 3) (of 200)")
    }
}
