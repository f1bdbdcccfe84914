internal import CTessera

/// Throws the `TesseraError` of a non-OK C status (with `tsr_last_error()`).
@inline(__always)
func checkStatus(_ status: tsr_status) throws(TesseraError) {
    if status == TSR_OK { return }
    let message = String(cString: tsr_last_error())
    throw TesseraError(statusCode: Int32(status.rawValue), message: message) ?? .internalError(message)
}

/// The C format of a ggml block type, or nil when Tessera's qgemm has no kernel for it.
func quantFormat(_ t: GGMLType) -> tsr_quant_format? {
    var f = TSR_QUANT_F32
    guard tsr_quant_format_from_ggml(Int32(bitPattern: t.rawValue), &f) == TSR_OK else { return nil }
    return f
}

/// A projection on Tessera's quantized GEMV/GEMM (`include/tessera/quant.h`): the weights are
/// repacked once into the kernel's panel layout; every call is one `tsr_qgemm_execute`
/// (M = 1 is the GEMV path of decode, M > 1 the GEMM path of prefill and draft verification).
/// Batch-invariant by the kernel's contract.
final class KernelLinear: LinearOperator, @unchecked Sendable {
    // @unchecked: the plan is immutable after creation; execute with a NULL workspace
    // serialises on the plan's own scratch.
    let weight: WeightMatrix
    private let plan: OpaquePointer
    let kernelName: String
    /// Bytes of the plan's packed panels: what one call streams (vs `weight.byteCount` as stored).
    let packedBytes: Int

    init?(weight: WeightMatrix) throws(TesseraError) {
        guard let format = quantFormat(weight.type) else { return nil }
        var desc = tsr_quant_matrix()
        desc.size = UInt32(MemoryLayout<tsr_quant_matrix>.size)
        desc.format = format
        desc.n = Int64(weight.outFeatures)
        desc.k = Int64(weight.inFeatures)
        desc.data = weight.data
        desc.row_stride = 0
        desc.data_bytes = weight.byteCount
        var p: OpaquePointer?
        try checkStatus(tsr_qgemm_plan_create(nil, &desc, nil, &p))
        guard let p else { throw .internalError("tsr_qgemm_plan_create returned no plan for '\(weight.name)'") }
        plan = p
        var info = tsr_qgemm_plan_info()
        info.size = UInt32(MemoryLayout<tsr_qgemm_plan_info>.size)
        let infoOK = tsr_qgemm_plan_info_get(p, &info) == TSR_OK
        packedBytes = infoOK ? Int(info.packed_bytes) : weight.byteCount
        if infoOK {
            kernelName = withUnsafeBytes(of: info.kernel) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
        } else {
            kernelName = "qgemm"
        }
        self.weight = weight
    }

    deinit { tsr_qgemm_plan_destroy(plan) }

    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        let status = tsr_qgemm_execute(nil, plan, Int64(m), x, Int64(weight.inFeatures), nil,
                                       y, Int64(ldy), nil, 0)
        // shapes are fixed at load time; a failure here is a bug, not bad input
        precondition(status == TSR_OK, "tsr_qgemm_execute(\(weight.name)): \(String(cString: tsr_last_error()))")
    }
}

/// Attention on Tessera's tiles (`include/tessera/attention.h`): Q `[t][heads][hd]` against
/// the cache's `[kvHeads][capacity][hd]` K/V in place, bottom-right causal mask.
struct KernelAttention: AttentionOperator {
    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int,
               cache: KVCache, layer: Int, into out: UnsafeMutablePointer<Float>) {
        let hd = cache.headDim
        var desc = tsr_attn_desc()
        var status = tsr_attn_desc_init(&desc, 1, Int64(heads), Int64(cache.kvHeads), Int64(t),
                                        Int64(start + t), Int64(hd))
        precondition(status == TSR_OK, "tsr_attn_desc_init: \(String(cString: tsr_last_error()))")
        desc.causal = 1
        desc.q = tsr_attn_layout(stride_batch: 0, stride_head: Int64(hd), stride_row: Int64(heads * hd), extent: Int64(t * heads * hd))
        desc.o = desc.q
        let kv = tsr_attn_layout(stride_batch: 0, stride_head: Int64(cache.headStride), stride_row: Int64(hd),
                                 extent: Int64(cache.layerStride))
        desc.k = kv
        desc.v = kv
        var ws = 0
        _ = tsr_attn_workspace_size(nil, &desc, &ws)
        let workspace = cache.attentionWorkspace(bytes: ws)
        var args = tsr_attn_args()
        args.size = UInt32(MemoryLayout<tsr_attn_args>.size)
        args.q = UnsafeRawPointer(q)
        args.k = UnsafeRawPointer(cache.key(layer: layer, head: 0, position: 0))
        args.v = UnsafeRawPointer(cache.value(layer: layer, head: 0, position: 0))
        args.o = UnsafeMutableRawPointer(out)
        args.workspace = workspace
        args.workspace_bytes = workspace == nil ? 0 : ws
        status = tsr_attention(nil, &desc, &args)
        precondition(status == TSR_OK, "tsr_attention: \(String(cString: tsr_last_error()))")
    }
}

/// The projections on Tessera's quantized GEMV/GEMM when the block type has a kernel;
/// nil means "use the reference".
func makeKernelLinear(_ w: WeightMatrix, pool: ThreadPool) throws(TesseraError) -> (any LinearOperator)? {
    try KernelLinear(weight: w)
}

/// Attention on Tessera's attention tiles.
func makeKernelAttention(pool: ThreadPool) -> (any AttentionOperator)? {
    KernelAttention()
}
