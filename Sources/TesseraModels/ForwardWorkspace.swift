/// Scratch buffers of forward passes over one model: activations for up to `rows` token rows
/// (summed over every sequence of a step) and logits for up to `logitRows` rows. A session
/// owns one; a caller that runs `LlamaModel.forward(batch:workspace:)` step after step (a
/// server) keeps one so no step allocates.
///
/// Not thread-safe: one forward pass uses a workspace at a time.
public final class ForwardWorkspace: @unchecked Sendable {
    // @unchecked: mutable scratch with a single user at a time (documented above).

    /// Most token rows one step computes.
    public let rows: Int
    /// Most logit rows one step returns.
    public let logitRows: Int
    /// Entries per logit row (the model's vocabulary).
    public let vocabularySize: Int
    /// The model the buffers are sized for (identity only: a workspace is model-specific).
    let modelID: ObjectIdentifier

    /// Residual stream, normed rows, q/k/v split out, attention output, projection output,
    /// activated FFN input, fused gate/up output, logits, RoPE cos/sin (one table per RoPE
    /// base), fused q/k/v output.
    let x, xn, q, k, v, att, tmp, gate, gu, logits, rope, qkv: UnsafeMutablePointer<Float>
    /// Each row's RoPE table: row `i`'s cos/sin for base `b` at `rope + (b·rows + i)·ropeDimensions`.
    let ropeTables: Int
    /// Each row's token id (`rowInfo[i]`) and cache position (`rowInfo[rows + i]`) in a step.
    let rowInfo: UnsafeMutablePointer<Int>
    private let buffers: [UnsafeMutablePointer<Float>]

    /// Buffers for `rows` token rows and `logitRows` logit rows of `model`. Errors:
    /// `.invalidArgument` for counts outside 1...65536 (rows) / 1...rows (logit rows),
    /// `.outOfMemory` when the sizes cannot be allocated.
    public init(model: LlamaModel, rows: Int, logitRows: Int) throws(TesseraError) {
        guard (1...65_536).contains(rows) else { throw .invalidArgument("ForwardWorkspace: rows \(rows) must be in 1...65536") }
        guard (1...rows).contains(logitRows) else {
            throw .invalidArgument("ForwardWorkspace: logitRows \(logitRows) must be in 1...\(rows)")
        }
        let c = model.config
        self.rows = rows
        self.logitRows = logitRows
        self.vocabularySize = c.vocabularySize
        self.modelID = ObjectIdentifier(model)
        self.ropeTables = model.ropeTables.count
        let d = c.embeddingLength, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, f = c.feedForwardLength
        let sizes = [rows * d, rows * max(d, qd), rows * qd, rows * kvd, rows * kvd, rows * qd,
                     rows * max(d, qd), rows * f, rows * 2 * f, logitRows * c.vocabularySize,
                     ropeTables * rows * c.ropeDimensions, rows * (qd + 2 * kvd)]
        rowInfo = try FallibleAllocation.elements(2 * rows, of: Int.self, "forward workspace row table of \(2 * rows) entries")
        rowInfo.initialize(repeating: 0, count: 2 * rows)
        var b = [UnsafeMutablePointer<Float>]()
        do {
            for n in sizes {
                let p = try FallibleAllocation.elements(n, of: Float.self, "forward workspace buffer of \(n) floats")
                p.initialize(repeating: 0, count: n)
                b.append(p)
            }
        } catch {
            for p in b { FallibleAllocation.free(p) }
            FallibleAllocation.free(rowInfo)
            throw error
        }
        buffers = b
        x = b[0]; xn = b[1]; q = b[2]; k = b[3]; v = b[4]; att = b[5]
        tmp = b[6]; gate = b[7]; gu = b[8]; logits = b[9]; rope = b[10]; qkv = b[11]
    }

    deinit {
        for p in buffers { FallibleAllocation.free(p) }
        FallibleAllocation.free(rowInfo)
    }
}
