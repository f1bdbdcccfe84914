// One learned step split into its sub-tasks: any subset of the s² sub-task networks can run on
// its own (a pool worker, an MPI rank) and return its coarse fields' base step and correction;
// `assemble` then centres the corrections and adds them, identically wherever the parts came
// from. `step` is `subtaskStep` of every sub-task followed by `assemble`.

import Foundation

/// What a set of sub-tasks computed in one learned step, for `batch` samples of `size` points:
/// `based[i]` (field + base step's increment at TΔt) and `corrections[i]` (the network's raw
/// correction, not yet centred) of sub-task `subtasks[i]`, samples one after the other.
public struct StaggerSubtaskStep<T: NetScalar>: Sendable {
    /// The sub-task indices (k = o_y·s + o_x), in the order of `based` and `corrections`.
    public var subtasks: [Int]
    /// Field + base increment, `batch·size` values per listed sub-task.
    public var based: [[T]]
    /// The networks' corrections, `batch·size` values per listed sub-task.
    public var corrections: [[T]]
    /// Samples and points per coarse field.
    public var batch: Int, size: Int

    /// Parts received from elsewhere (another rank); `LearnedStagger.assemble` checks them.
    public init(subtasks: [Int], based: [[T]], corrections: [[T]], batch: Int, size: Int) {
        self.subtasks = subtasks; self.based = based; self.corrections = corrections; self.batch = batch; self.size = size
    }
}

extension LearnedStagger {
    /// Runs only the sub-task networks `subtasks` on the scaled coarse fields of a batch
    /// (`coarse[b][k]`, all s² fields of side n/s: every network reads all of them), in parallel
    /// on `pool`; `workspaces` (optional) are the s² of `makeWorkspaces(batch:)`, indexed by
    /// sub-task. Errors: `.invalidArgument` for wrong shapes, a sub-task index out of range or
    /// repeated, or workspaces of another size.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func subtaskStep(coarse: [[[T]]], subtasks: [Int], pool: ThreadPool? = nil,
                            workspaces: [ConvNet<T>.Workspace]? = nil) throws(TesseraError) -> StaggerSubtaskStep<T> {
        try subtaskStep(coarse: coarse, side: config.coarseN, subtasks: subtasks, pool: pool, workspaces: workspaces)
    }

    /// All s² sub-tasks' next coarse fields `next[b][k]` from the parts computed by
    /// `subtaskStep` (together covering every sub-task once): the corrections are centred over
    /// all sub-tasks (zero-mean, see `centre`) and added to the based fields. The result does not
    /// depend on how the sub-tasks were split into parts. Errors: `.invalidArgument` if the parts
    /// do not cover every sub-task exactly once or disagree in size. (Pre-specialised: callers in
    /// other modules, like `DistributedStagger`, would otherwise run it as unspecialised generic code.)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func assemble(_ parts: [StaggerSubtaskStep<T>]) throws(TesseraError) -> [[[T]]] {
        let s2 = config.subtasks
        guard let b = parts.first?.batch, let hw = parts.first?.size,
              parts.allSatisfy({ $0.batch == b && $0.size == hw && $0.based.count == $0.subtasks.count
                                 && $0.corrections.count == $0.subtasks.count
                                 && ($0.based + $0.corrections).allSatisfy { $0.count == b * hw } }),
              parts.flatMap(\.subtasks).sorted() == Array(0..<s2) else {
            throw .invalidArgument("LearnedStagger.assemble: the parts must cover the \(s2) sub-tasks once, with equal sizes")
        }
        var corr = [[T]](repeating: [], count: s2), based = corr
        for p in parts { for (i, k) in p.subtasks.enumerated() { corr[k] = p.corrections[i]; based[k] = p.based[i] } }
        Self.centre(&corr, blocks: b, size: hw)
        return (0..<b).map { bb in (0..<s2).map { k in (0..<hw).map { based[k][bb * hw + $0] + corr[k][bb * hw + $0] } } }
    }

    /// `step` on coarse fields of side `hc` (the model's n/s, or a training patch's m/s).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func step(coarse: [[[T]]], side hc: Int, pool: ThreadPool?, workspaces given: [ConvNet<T>.Workspace]?) throws(TesseraError) -> [[[T]]] {
        try assemble([try subtaskStep(coarse: coarse, side: hc, subtasks: Array(0..<config.subtasks), pool: pool, workspaces: given)])
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func subtaskStep(coarse: [[[T]]], side hc: Int, subtasks: [Int], pool: ThreadPool?,
                     workspaces given: [ConvNet<T>.Workspace]?) throws(TesseraError) -> StaggerSubtaskStep<T> {
        let s2 = config.subtasks, b = coarse.count, hw = hc * hc
        guard b >= 1, coarse.allSatisfy({ $0.count == s2 && $0.allSatisfy { $0.count == hw } }) else {
            throw .invalidArgument("LearnedStagger.step: need \(s2) coarse fields of \(hw) points per sample")
        }
        guard !subtasks.isEmpty, subtasks.allSatisfy({ (0..<s2).contains($0) }), Set(subtasks).count == subtasks.count else {
            throw .invalidArgument("LearnedStagger.step: sub-tasks \(subtasks) must be distinct indices in 0..<\(s2)")
        }
        let ws: [ConvNet<T>.Workspace]
        if let given { ws = given } else { ws = try makeWorkspaces(batch: b, side: hc) }
        guard ws.count == s2, ws.allSatisfy({ $0.pixels == b * hw }) else {
            throw .invalidArgument("LearnedStagger.step: need \(s2) workspaces for \(b)×\(hc)×\(hc) (from makeWorkspaces(batch: \(b)))")
        }
        let shared = config.sharing != .separate, feats = features(coarse, side: hc, pool: pool)
        let plain = shared ? [] : input(feats, subtask: 0), nb = b * hw
        // corr[i] / based[i]: sub-task subtasks[i]'s correction and field + base increment for
        // every sample, written by that sub-task's task only
        var corr = [[T]](repeating: [], count: subtasks.count), based = corr
        try corr.withUnsafeMutableBufferPointer { (np) throws(TesseraError) in
          try based.withUnsafeMutableBufferPointer { (bp) throws(TesseraError) in
            let (out, bout) = (np.baseAddress!, bp.baseAddress!)
            try forEach(subtasks.count, pool: pool) { (i) throws(TesseraError) in
                let k = subtasks[i], x = shared ? self.input(feats, subtask: k) : plain
                // only the last time level TΔt is needed: the output conv computes that channel
                // alone, and the base step writes its end increment only
                var y = [T](repeating: 0, count: nb), base = [T](repeating: 0, count: nb)
                try x.withUnsafeBufferPointer { (xp) throws(TesseraError) in
                    try y.withUnsafeMutableBufferPointer { (yp) throws(TesseraError) in
                        try self.net(k).infer(xp.baseAddress!, batch: b, height: hc, width: hc, into: yp.baseAddress!,
                                              workspace: ws[k], lastChannels: 1)
                    }
                }
                try base.withUnsafeMutableBufferPointer { (op) throws(TesseraError) in
                    for bb in 0..<b {
                        try coarse[bb][k].withUnsafeBufferPointer { (cp) throws(TesseraError) in
                            try self.baseEnd(cp.baseAddress!, hc, into: op.baseAddress! + bb * hw)
                        }
                    }
                }
                out[i] = y; bout[i] = base
            }
          }
        }
        return StaggerSubtaskStep(subtasks: subtasks, based: based, corrections: corr, batch: b, size: hw)
    }

    /// Field + the base step's increment at TΔt of one coarse field (`out`, hc² values): the last
    /// level of `baseIncrements` (bitwise), without storing the others.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func baseEnd(_ u: UnsafePointer<T>, _ hc: Int, into out: UnsafeMutablePointer<T>) throws(TesseraError) {
        let tt = config.temporalSteps, hw = hc * hc
        switch config.base ?? .none {
        case .none:
            for i in 0..<hw { out[i] = u[i] + 0 }
        case .coarseSpectral, .coarseSpectralPersistent:
            let inc = UnsafeMutablePointer<T>.allocate(capacity: tt * hw)
            defer { inc.deallocate() }
            try spectralIncrements(u, hc, into: inc)
            for i in 0..<hw { out[i] = u[i] + inc[(tt - 1) * hw + i] }
        case .coarseExplicit:
            let rc = coarseRatio, sub = max(1, Int((rc / 0.2).rounded(.up))), r = T(rc / Double(sub))
            let v = UnsafeMutablePointer<T>.allocate(capacity: hw), nv = UnsafeMutablePointer<T>.allocate(capacity: hw)
            defer { v.deallocate(); nv.deallocate() }
            v.update(from: u, count: hw)
            var (a, c) = (v, nv)
            for _ in 0..<(tt * sub) { Self.explicitSweep(a, into: c, hc, r); swap(&a, &c) }
            for i in 0..<hw { out[i] = u[i] + (a[i] - u[i]) }
        }
    }
}
