import Testing
import TesseraCLICore
import TesseraPDE

/// `tessera pde stagger-train`'s ns2d scheme and base options (TesseraCLICore, parsed as the
/// command line does): the configuration they give, and the refusals.
@Suite("stagger-train options: ns2d scheme and base")
struct StaggerOptionsTests {
    @Test func schemeAndPersistentBaseReachTheConfiguration() throws {
        let o = try StaggerTrainOptions.parse(["--equation", "ns2d", "--n", "16", "--scheme", "integratingFactor",
                                               "--scheme-substeps", "2", "--base", "coarseSpectralPersistent"])
        let c = try o.config()
        #expect(c.scheme == .integratingFactor && c.schemeSubsteps == 2 && c.base == .coarseSpectralPersistent)
        #expect(try c.residual() is NS2DIntegratingFactorResidual)
        #expect(try StaggerTrainOptions.parse(["--equation", "ns2d", "--n", "16"]).config().residual() is NS2DMidpointResidual)
    }

    @Test func badSchemeOptionsAreRefused() {
        for args in [["--equation", "ns2d", "--scheme", "euler"],
                     ["--equation", "heat", "--scheme", "integratingFactor"],
                     ["--equation", "heat", "--scheme-substeps", "2"],
                     ["--equation", "ns2d", "--scheme-substeps", "2"],   // substeps need the IF scheme
                     ["--equation", "ns2d", "--scheme", "integratingFactor", "--scheme-substeps", "0"],
                     ["--equation", "heat", "--base", "coarseSpectralPersistent"]] {
            #expect(throws: (any Error).self, "\(args)") { try StaggerTrainOptions.parse(["--n", "16"] + args) }
        }
    }
}
