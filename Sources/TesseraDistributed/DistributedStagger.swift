// Learned NeuralStagger on MPI ranks: one group of sub-tasks per rank. Every rank holds the whole
// model and all s² coarse fields; in a learned step rank r runs only its group's networks (on its
// own pool's workers), the groups' base steps and corrections are exchanged with one
// allgatherv, and every rank assembles the same next fields — bitwise the single-process step,
// because every sub-task's output is computed by the same code from the same inputs and the
// assembly (centring, sums) runs identically on every rank.

import Foundation
import Tessera
import TesseraPDE

/// A `LearnedStagger` model whose s² sub-tasks are split into one contiguous group per rank of a
/// communicator (rank r: sub-tasks ⌊r·s²/p⌋ ..< ⌊(r+1)·s²/p⌋; with more ranks than sub-tasks
/// some ranks have none and only take part in the exchange).
public struct DistributedStagger<T: NetScalar & MPIElement>: @unchecked Sendable {
    /// The model (the same on every rank).
    public let model: LearnedStagger<T>
    /// The ranks.
    public let communicator: Communicator
    /// Every rank's sub-task group, indexed by rank.
    public let groups: [[Int]]

    /// The group of sub-tasks this rank runs.
    public var subtasks: [Int] { groups[communicator.rank] }

    /// Splits `model`'s sub-tasks over the ranks of `communicator`. Collective: the ranks check
    /// that they hold the same configuration and parameters (a digest), so a rank that loaded
    /// other weights is refused on every rank. Errors: `.invalidArgument` naming the mismatch.
    public init(model: LearnedStagger<T>, communicator: Communicator) throws(TesseraError) {
        self.model = model; self.communicator = communicator
        let s2 = model.config.subtasks, p = communicator.size
        groups = (0..<p).map { r in Array((r * s2 / p)..<((r + 1) * s2 / p)) }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys   // the same bytes on every rank (hash order differs per process)
        let config = (try? enc.encode(model.config)).map { Array($0) } ?? []
        try communicator.agree("DistributedStagger", [Agreed("the model configuration", digestOf: config),
                                                       Agreed("the model parameters", digestOf: model.nets.flatMap(\.parameters))])
    }

    /// One learned step of a batch of scaled coarse fields (`coarse[b][k]`, as
    /// `LearnedStagger.step`): this rank's group on `pool`, then one allgatherv; every rank returns
    /// the same next fields, bitwise `model.step`'s. Collective. Errors: as `LearnedStagger.step`
    /// (the same on every rank for the same input), or a communication error. (Pre-specialised,
    /// as `rollout`: called from other modules it would otherwise run as generic code.)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func step(coarse: [[[T]]], pool: ThreadPool? = nil,
                     workspaces: [ConvNet<T>.Workspace]? = nil) throws(TesseraError) -> [[[T]]] {
        let b = coarse.count, hw = model.config.coarseN * model.config.coarseN
        var mine: [T] = []
        if !subtasks.isEmpty {
            let part = try model.subtaskStep(coarse: coarse, subtasks: subtasks, pool: pool, workspaces: workspaces)
            mine.reserveCapacity(2 * subtasks.count * b * hw)
            for i in subtasks.indices { mine += part.based[i]; mine += part.corrections[i] }
        }
        let all = try communicator.allgatherVariable(mine)
        let per = b * hw
        var parts: [StaggerSubtaskStep<T>] = [], offset = 0
        for (r, g) in groups.enumerated() where !g.isEmpty {
            guard all.counts[r] == 2 * g.count * per else {
                throw .invalidState("DistributedStagger.step: rank \(r) sent \(all.counts[r]) values, expected \(2 * g.count * per)")
            }
            var based: [[T]] = [], corr: [[T]] = []
            for _ in g {
                based.append(Array(all.values[offset..<(offset + per)])); offset += per
                corr.append(Array(all.values[offset..<(offset + per)])); offset += per
            }
            parts.append(StaggerSubtaskStep(subtasks: g, based: based, corrections: corr, batch: b, size: hw))
        }
        return try model.assemble(parts)
    }

    /// Advances a fine field by `steps` learned steps, the sub-task groups on their ranks; every
    /// rank returns the same field, bitwise `model.rollout`'s. Collective. Errors: as
    /// `LearnedStagger.rollout`; `.invalidState` if the prediction stops being finite.
    /// (Pre-specialised: the unspecialised finiteness check alone took ≈ 1 ms of a 128², s = 4
    /// step, on every rank — a quarter of the step once the sub-tasks ran on two ranks.)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func rollout(_ u0: Field<Double>, steps: Int, pool: ThreadPool? = nil) throws -> Field<Double> {
        guard steps >= 0 else { throw TesseraError.invalidArgument("DistributedStagger.rollout: steps \(steps) must be ≥ 0") }
        var (c, sc) = try model.split(u0)
        let ws = try model.makeWorkspaces(batch: 1)
        for s in 0..<steps {
            c = try step(coarse: [c], pool: pool, workspaces: ws)[0]
            if c.contains(where: { $0.contains { !$0.isFinite } }) {
                throw TesseraError.invalidState("DistributedStagger.rollout: prediction not finite at step \(s + 1)")
            }
        }
        return try model.join(c, scale: sc, grid: u0.grid)
    }
}
