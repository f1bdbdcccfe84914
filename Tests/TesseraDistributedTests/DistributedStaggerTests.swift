import Foundation
import Testing

/// `tessera-mpi pde stagger`: a learned NeuralStagger rollout with one sub-task group per rank,
/// bitwise the single-process rollout (2 ranks: 2 of 4 sub-tasks each; 3 ranks: groups of 1/1/2
/// of 4, and 3/3/3 of 9; 5 ranks for 4 sub-tasks: one rank with none).
@Suite("DistributedStagger (mpirun)", .serialized)
struct DistributedStaggerTests {
    @Test(arguments: [(2, 2), (3, 2), (3, 3), (5, 2)])
    func groupsPerRankAreBitwiseTheSingleRollout(_ ranks: Int, _ factor: Int) throws {
        let r = try runMPI(ranks, ["pde", "stagger", "--n", "\(12 * factor)", "--factor", "\(factor)", "--steps", "4", "--check"], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "bitwise_vs_single"), "\(r.stdout)")
        #expect(num(r, "max_diff_vs_single") == 0)
        #expect(r.json["ranks"] as? Int == ranks)
        let groups = try #require(r.json["groups"] as? [Int])
        #expect(groups.reduce(0, +) == factor * factor && groups.count == ranks)
    }

    /// Ranks holding different weights are refused on every rank before any step (the
    /// command-line check is skipped so that the model's own check is what fails).
    @Test func ranksWithOtherWeightsAreRefused() throws {
        let r = try runMPI(2, [], timeout: 120, environment: ["TESSERA_MPI_SKIP_ARGUMENT_CHECK": "1"],
                           perRank: [["pde", "stagger", "--seed", "1"], ["pde", "stagger", "--seed", "2"]])
        #expect(r.status != 0)
        #expect(r.stderr.contains("disagree on the model parameters"), "\(r.stderr)")
    }
}
