internal import CTessera

/// Which keys a query row may see, and extra terms added to the scores.
///
/// Positions are bottom-right aligned: with `off = kvLength - queryLength`, query row `i`
/// sits on key `i + off` (the last query row on the last key), as in a KV cache.
public enum AttentionMask: Sendable {
    /// Every key is visible.
    case none
    /// Key `c` is visible to row `i` iff `c <= i + off`.
    case causal
    /// Keys in `[i + off - left, i + off + right]` are visible; `nil` leaves a side open.
    /// `.slidingWindow(left: w, right: 0)` is causal attention over the last `w + 1` keys.
    case slidingWindow(left: Int?, right: Int?)
    /// An explicit boolean mask: `visible[i * kvLength + c]` (tree attention); one mask
    /// for all batches and heads.
    case boolean([Bool])
    /// An additive term `bias[i * kvLength + c]` in score units, shared by all batches
    /// and heads (for per-head biases use `.headBias`).
    case bias([Float])
    /// An additive term per head: `bias[(h * queryLength + i) * kvLength + c]`.
    case headBias([Float])
    /// All of the given masks together.
    indirect case all([AttentionMask])
}

/// Element type of stored keys and values (and of outputs on request).
public enum AttentionStorage: Sendable, Equatable, CaseIterable {
    /// IEEE float (4 bytes), bfloat16 and IEEE half (2 bytes each).
    case float32, bfloat16, float16

    var dtype: tsr_dtype {
        switch self {
        case .float32: return TSR_DTYPE_F32
        case .bfloat16: return TSR_DTYPE_BF16
        case .float16: return TSR_DTYPE_F16
        }
    }
    /// Bytes per stored element.
    public var bytes: Int { self == .float32 ? 4 : 2 }
}

/// Scaled dot-product attention, `softmax(scale · QKᵀ + mask) · V`, computed tile by tile
/// (FlashAttention-2 for prefill, split KV for decode) without the score matrix.
///
/// Tensors are `[batch, heads, length, headDim]`; the key/value head count may divide the
/// query head count (grouped-query attention). Results are batch-invariant: a query row
/// gives the same bits whatever other rows are computed with it and whatever the thread
/// count.
public struct Attention: Sendable {
    /// Multiplies the scores; nil means `1 / sqrt(headDim)`.
    public var scale: Float?
    /// Which keys each query row sees, and additive score terms.
    public var mask: AttentionMask
    /// The workers that run the tiles; results do not depend on its thread count.
    public var pool: ThreadPool

    /// Attention with `scale` (nil: `1 / sqrt(headDim)`), `mask`, run on `pool`.
    public init(scale: Float? = nil, mask: AttentionMask = .none, pool: ThreadPool = .shared) {
        self.scale = scale
        self.mask = mask
        self.pool = pool
    }

    /// The attention output `[B, Hq, Sq, D]`.
    public func callAsFunction(query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>)
        throws(TesseraError) -> Tensor<Float>
    {
        try forward(query: query, key: key, value: value).output
    }

    /// The output `[B, Hq, Sq, D]` and the log-sum-exp of each row `[B, Hq, Sq]` (natural
    /// log, scale included; `-inf` for a row that sees no key).
    public func forward(query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        guard query.rank == 4, key.rank == 4, value.rank == 4 else {
            throw .invalidArgument("Attention: query, key and value must be [batch, heads, length, headDim] "
                + "(ranks \(query.rank), \(key.rank), \(value.rank))")
        }
        guard key.shape == value.shape else {
            throw .invalidArgument("Attention: key shape \(key.shape) != value shape \(value.shape)")
        }
        guard query.shape[0] == key.shape[0], query.shape[3] == key.shape[3] else {
            throw .invalidArgument("Attention: query \(query.shape) and key \(key.shape) disagree on batch or headDim")
        }
        let (b, hq, sq, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let (hkv, sk) = (key.shape[1], key.shape[2])
        var desc = try makeDesc(batch: b, qHeads: hq, kvHeads: hkv, qLen: sq, kvLen: sk, headDim: d)
        desc.want_lse = 1
        var out = try Tensor<Float>(shape: [b, hq, sq, d])
        var lse = try Tensor<Float>(shape: [b, hq, sq])
        try query.withUnsafeBufferPointer { (qp) throws(TesseraError) in
            try key.withUnsafeBufferPointer { (kp) throws(TesseraError) in
                try value.withUnsafeBufferPointer { (vp) throws(TesseraError) in
                    try out.withUnsafeMutableBufferPointer { (op) throws(TesseraError) in
                        try lse.withUnsafeMutableBufferPointer { (lp) throws(TesseraError) in
                            try run(&desc, q: UnsafeRawPointer(qp.baseAddress), k: UnsafeRawPointer(kp.baseAddress),
                                    v: UnsafeRawPointer(vp.baseAddress), o: UnsafeMutableRawPointer(op.baseAddress),
                                    lse: lp.baseAddress)
                        }
                    }
                }
            }
        }
        return (out, lse)
    }

    /// Merges partial results over disjoint key sets (e.g. from ring attention across
    /// processes) into the result over their union: `LSE = ln Σ exp(lse_p)`,
    /// `O = Σ exp(lse_p − LSE) · O_p`. Outputs `[..., D]`, LSEs `[...]` of matching shapes.
    public static func merge(outputs: [Tensor<Float>], lse: [Tensor<Float>], pool: ThreadPool = .shared)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        guard !outputs.isEmpty, outputs.count == lse.count else {
            throw .invalidArgument("Attention.merge: need as many LSE tensors as outputs, at least one "
                + "(\(outputs.count) outputs, \(lse.count) LSEs)")
        }
        let shape = outputs[0].shape
        guard let d = shape.last, shape.count >= 1, d > 0 else {
            throw .invalidArgument("Attention.merge: output shape \(shape) needs a non-empty last axis")
        }
        let rows = outputs[0].count / d
        for (o, l) in zip(outputs, lse) {
            guard o.shape == shape, l.count == rows, Array(l.shape) == Array(shape.dropLast()) else {
                throw .invalidArgument("Attention.merge: parts have shapes \(o.shape) / \(l.shape), expected \(shape) / \(Array(shape.dropLast()))")
            }
        }
        guard rows > 0 else { throw .invalidArgument("Attention.merge: no rows") }
        var out = try Tensor<Float>(shape: shape)
        var outLSE = try Tensor<Float>(shape: Array(shape.dropLast()))
        // Tensor storage is stable for the lifetime of the tensors, which `outputs`/`lse` keep alive.
        let oPtrs: [UnsafePointer<Float>?] = outputs.map { t in t.withUnsafeBufferPointer { UnsafePointer($0.baseAddress) } }
        let lPtrs: [UnsafePointer<Float>?] = lse.map { t in t.withUnsafeBufferPointer { UnsafePointer($0.baseAddress) } }
        try out.withUnsafeMutableBufferPointer { (op) throws(TesseraError) in
            try outLSE.withUnsafeMutableBufferPointer { (lp) throws(TesseraError) in
                try oPtrs.withUnsafeBufferPointer { (ob) throws(TesseraError) in
                    try lPtrs.withUnsafeBufferPointer { (lb) throws(TesseraError) in
                        try check(tsr_attn_merge(pool.handle, Int64(outputs.count), Int64(rows), Int64(d),
                                                 ob.baseAddress, lb.baseAddress, Int64(d), op.baseAddress, lp.baseAddress))
                    }
                }
            }
        }
        withExtendedLifetime((outputs, lse)) {}
        return (out, outLSE)
    }

    /// Attention on caller buffers laid out as `queryLayout`, `keyValueLayout` (keys and values
    /// alike) and `outputLayout` say — a fused projection's token-major rows, a KV cache read in
    /// place, a channel-major activation's transpose — f32 throughout. Nothing is copied, and
    /// nothing is allocated when `workspace` is given (the split-decode schedule's scratch; see
    /// ``AttentionWorkspace``) or the problem takes the prefill schedule. The buffers must hold
    /// every element the shape and layouts address (set the layouts' `extent` to have it
    /// checked). Same kernel, same bits as the tensor form: batch-invariant per query row.
    public func apply(_ shape: AttentionShape,
                      query: UnsafePointer<Float>, queryLayout: AttentionLayout,
                      key: UnsafePointer<Float>, value: UnsafePointer<Float>, keyValueLayout: AttentionLayout,
                      output: UnsafeMutablePointer<Float>, outputLayout: AttentionLayout,
                      workspace: AttentionWorkspace? = nil) throws(TesseraError)
    {
        var desc = try makeDesc(batch: shape.batch, qHeads: shape.queryHeads, kvHeads: shape.kvHeads,
                                qLen: shape.queryLength, kvLen: shape.kvLength, headDim: shape.headDim)
        desc.q = try queryLayout.cValue("query")
        desc.k = try keyValueLayout.cValue("key/value")
        desc.v = desc.k
        desc.o = try outputLayout.cValue("output")
        try run(&desc, q: UnsafeRawPointer(query), k: UnsafeRawPointer(key), v: UnsafeRawPointer(value),
                o: UnsafeMutableRawPointer(output), lse: nil, workspace: workspace)
    }

    // MARK: - internals shared with KVCache

    func makeDesc(batch: Int, qHeads: Int, kvHeads: Int, qLen: Int, kvLen: Int, headDim: Int)
        throws(TesseraError) -> tsr_attn_desc
    {
        var desc = tsr_attn_desc()
        try check(tsr_attn_desc_init(&desc, Int64(batch), Int64(qHeads), Int64(kvHeads), Int64(qLen),
                                     Int64(kvLen), Int64(headDim)))
        if let scale {
            guard scale.isFinite, scale != 0 else { throw .invalidArgument("Attention: scale must be finite and non-zero (got \(scale))") }
            desc.scale = scale
        }
        return desc
    }

    /// Applies the mask to `desc` and runs; the mask's arrays stay alive for the call. With a
    /// workspace, the split-decode scratch comes from it (grown if short) instead of a
    /// per-call allocation inside the kernel.
    func run(_ desc: inout tsr_attn_desc, q: UnsafeRawPointer?, k: UnsafeRawPointer?, v: UnsafeRawPointer?,
             o: UnsafeMutableRawPointer?, lse: UnsafeMutablePointer<Float>?,
             workspace: AttentionWorkspace? = nil) throws(TesseraError)
    {
        var bits: [UInt64] = []
        var bias: [Float] = []
        try Attention.apply(mask, to: &desc, bits: &bits, bias: &bias)
        var scratch: UnsafeMutableRawPointer? = nil
        var scratchBytes = 0
        if let workspace {
            var need = 0
            try check(tsr_attn_workspace_size(pool.handle, &desc, &need))
            scratch = try workspace.reserve(need)
            scratchBytes = scratch == nil ? 0 : workspace.byteCount
        }
        try bits.withUnsafeBufferPointer { (bp) throws(TesseraError) in
            try bias.withUnsafeBufferPointer { (fp) throws(TesseraError) in
                var args = tsr_attn_args()
                args.size = UInt32(MemoryLayout<tsr_attn_args>.size)
                args.q = q
                args.k = k
                args.v = v
                args.o = o
                args.lse = lse
                args.mask_bits = desc.has_bitset != 0 ? bp.baseAddress : nil
                args.bias = desc.has_bias != 0 ? fp.baseAddress : nil
                args.workspace = scratch
                args.workspace_bytes = scratchBytes
                try check(tsr_attention(pool.handle, &desc, &args))
            }
        }
    }

    static func apply(_ mask: AttentionMask, to d: inout tsr_attn_desc, bits: inout [UInt64], bias: inout [Float])
        throws(TesseraError)
    {
        let rows = Int(d.q_len), cols = Int(d.kv_len)
        switch mask {
        case .none:
            break
        case .causal:
            d.causal = 1
        case .slidingWindow(let left, let right):
            if let left {
                guard left >= 0 else { throw .invalidArgument("AttentionMask.slidingWindow: left must be >= 0 (got \(left))") }
                d.window_left = d.window_left < 0 ? Int64(left) : min(d.window_left, Int64(left))
            }
            if let right {
                guard right >= 0 else { throw .invalidArgument("AttentionMask.slidingWindow: right must be >= 0 (got \(right))") }
                d.window_right = d.window_right < 0 ? Int64(right) : min(d.window_right, Int64(right))
            }
        case .boolean(let visible):
            guard visible.count == rows * cols else {
                throw .invalidArgument("AttentionMask.boolean: \(visible.count) entries, expected queryLength × kvLength = \(rows) × \(cols)")
            }
            var words = [UInt64](repeating: 0, count: (visible.count + 63) / 64)
            for (i, v) in visible.enumerated() where v { words[i >> 6] |= 1 << UInt64(i & 63) }
            if d.has_bitset != 0 {  // two boolean masks: intersect
                for i in 0..<min(words.count, bits.count) { bits[i] &= words[i] }
            } else {
                bits = words
            }
            d.has_bitset = 1
            d.bits.stride_batch = 0; d.bits.stride_head = 0; d.bits.stride_row = Int64(cols)
            d.bits.extent = Int64(visible.count)
        case .bias(let b):
            guard b.count == rows * cols else {
                throw .invalidArgument("AttentionMask.bias: \(b.count) entries, expected queryLength × kvLength = \(rows) × \(cols)")
            }
            guard d.has_bias == 0 else { throw .invalidArgument("AttentionMask: at most one bias") }
            bias = b
            d.has_bias = 1
            d.bias.stride_batch = 0; d.bias.stride_head = 0; d.bias.stride_row = Int64(cols)
            d.bias.extent = Int64(b.count)
        case .headBias(let b):
            let heads = Int(d.q_heads)
            guard b.count == heads * rows * cols else {
                throw .invalidArgument("AttentionMask.headBias: \(b.count) entries, expected heads × queryLength × kvLength = \(heads) × \(rows) × \(cols)")
            }
            guard d.has_bias == 0 else { throw .invalidArgument("AttentionMask: at most one bias") }
            bias = b
            d.has_bias = 1
            d.bias.stride_batch = 0; d.bias.stride_head = Int64(rows * cols); d.bias.stride_row = Int64(cols)
            d.bias.extent = Int64(b.count)
        case .all(let masks):
            for m in masks { try apply(m, to: &d, bits: &bits, bias: &bias) }
        }
    }
}
