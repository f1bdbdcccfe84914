// Allocation-free inference of a `ConvNet`: the activations ping-pong between two buffers of a
// reusable workspace, the im2col columns and the skip copies have their own, so a rollout
// allocates nothing per layer (large per-layer arrays cost page faults and, on several threads
// at once, contention in the allocator). Same operations in the same order as `forward`, so the
// result is bitwise `forward`'s.

import Foundation

extension ConvNet {
    /// Buffers of `infer` for one batch·height·width; one per network running at the same time.
    public final class Workspace: @unchecked Sendable {
        /// Pixels (batch·height·width) the workspace is for.
        public let pixels: Int
        let a, b, col: UnsafeMutablePointer<T>
        let skips: [UnsafeMutablePointer<T>]
        let channels: Int, colRows: Int

        init(pixels: Int, channels: Int, colRows: Int, depth: Int) {
            self.pixels = pixels; self.channels = channels; self.colRows = colRows
            a = .allocate(capacity: channels * pixels); b = .allocate(capacity: channels * pixels)
            col = .allocate(capacity: max(1, colRows * pixels))
            skips = (0..<depth).map { _ in .allocate(capacity: channels * pixels) }
        }
        deinit { a.deallocate(); b.deallocate(); col.deallocate(); skips.forEach { $0.deallocate() } }
    }

    /// A workspace for inputs of `batch` fields of height×width. Errors: `.invalidArgument` for
    /// non-positive sizes.
    public func makeWorkspace(batch: Int, height: Int, width: Int) throws(TesseraError) -> Workspace {
        guard batch >= 1, height >= 1, width >= 1 else {
            throw .invalidArgument("ConvNet.makeWorkspace: batch \(batch), height \(height) and width \(width) must be positive")
        }
        var depth = 0, deepest = 0
        for op in plan {
            if case .pushSkip = op { depth += 1; deepest = Swift.max(deepest, depth) }
            if case .addSkip = op { depth -= 1 }
        }
        let channels = convolutions.reduce(inChannels) { Swift.max($0, $1.inChannels, $1.outChannels) }
        let colRows = convolutions.filter { $0.kernel == 3 }.map { 9 * $0.inChannels }.max() ?? 0
        return Workspace(pixels: batch * height * width, channels: channels, colRows: colRows, depth: deepest)
    }

    /// Runs the network on `x` (`inChannels × batch·height·width`, channel-major) into `out`
    /// (`outChannels × batch·height·width`) with `workspace`'s buffers; bitwise `forward`'s
    /// result. With `lastChannels` = m < `outChannels` and a network ending in a convolution,
    /// only the last m output channels are computed (that convolution's GEMM has m rows; the
    /// learned stagger step needs only its last time level) and `out` gets m × batch·height·width
    /// values: the same sums as the full pass's channels, not guaranteed bitwise (the BLAS may
    /// block fewer rows differently). Errors: `.invalidArgument` if the workspace was made for
    /// another size or network, or `lastChannels` is not in 1...outChannels.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func infer(_ x: UnsafePointer<T>, batch: Int, height: Int, width: Int, into out: UnsafeMutablePointer<T>,
                      workspace ws: Workspace, lastChannels: Int? = nil) throws(TesseraError) {
        let n = batch * height * width
        let need = convolutions.reduce(inChannels) { Swift.max($0, $1.inChannels, $1.outChannels) }
        guard batch >= 1, height >= 1, width >= 1, ws.pixels == n, ws.channels >= need else {
            throw .invalidArgument("ConvNet.infer: workspace for \(ws.pixels) pixels × \(ws.channels) channels, input \(batch)×\(height)×\(width) × \(need) channels")
        }
        guard (1...outChannels).contains(lastChannels ?? outChannels) else {
            throw .invalidArgument("ConvNet.infer: lastChannels \(lastChannels ?? 0) not in 1...\(outChannels)")
        }
        // the final convolution computes only the last `keep` channels when it is the last op
        var endsInConv = false
        if case .conv = plan.last { endsInConv = true }
        let keep = lastChannels ?? outChannels, convKeep = endsInConv ? keep : outChannels
        var cur = ws.a, other = ws.b, curC = inChannels, depth = 0
        cur.update(from: x, count: inChannels * n)
        parameters.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            for (index, op) in plan.enumerated() {
                switch op {
                case .conv(let j):
                    let c = convolutions[j], kdim = c.inChannels * c.kernel * c.kernel
                    let skip = index == plan.count - 1 ? c.outChannels - convKeep : 0, rows = c.outChannels - skip
                    for o in 0..<rows { (other + o * n).initialize(repeating: p[c.biasOffset + skip + o], count: n) }
                    var src = UnsafePointer(cur)
                    if c.kernel == 3 { im2col(cur, c.inChannels, batch, height, width, into: ws.col); src = UnsafePointer(ws.col) }
                    T.gemm(transA: false, transB: false, m: rows, n: n, k: kdim, alpha: 1,
                           a: p + c.weightOffset + skip * kdim, lda: kdim, b: src, ldb: n, beta: 1, c: other, ldc: n)
                    swap(&cur, &other); curC = rows
                case .act(let a):
                    for i in 0..<(curC * n) { cur[i] = T(a.apply(Double(cur[i]))) }
                case .pushSkip:
                    ws.skips[depth].update(from: cur, count: curC * n); depth += 1
                case .addSkip:
                    depth -= 1
                    let s = ws.skips[depth]
                    for i in 0..<(curC * n) { cur[i] += s[i] }
                }
            }
        }
        out.update(from: cur + (curC - keep) * n, count: keep * n)
    }
}
