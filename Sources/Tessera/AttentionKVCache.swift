internal import CTessera

/// Keys and values of past tokens for every layer of a decoder, preallocated for
/// `maxContext` tokens so that decoding never reallocates.
///
/// Layout per layer: K and V are `[kvHeads][maxContext][headDim]` in `storage` element
/// type; the first `length(layer:)` rows of each head are valid. Attention reads the
/// cache in place (strides), whatever q_len. `truncate(to:)` rolls back rejected
/// speculative tokens. Not thread-safe for concurrent mutation; reads may run concurrently.
///
/// This is the one KV cache of Tessera: `TesseraModels`' sessions keep theirs in it (in the
/// `storage` their model's `ModelOptions.kvCache` names: f32, f16 or bf16), appending each
/// layer's keys and values and attending with a reused ``AttentionWorkspace``, so a decode
/// step allocates nothing. The attention kernels read f16 and bf16 rows in place, widening
/// them exactly to f32 in registers; only the rounding on `append` differs from f32 storage.
public final class KVCache: @unchecked Sendable {
    /// Decoder layers, each with its own K and V (>= 1).
    public let layers: Int
    /// Key/value heads per layer (>= 1).
    public let kvHeads: Int
    /// Elements per key or value row, 1 ... `TSR_ATTN_MAX_HEAD_DIM`.
    public let headDim: Int
    /// Tokens the cache holds per layer; appending beyond it fails.
    public let maxContext: Int
    /// Element type of the stored keys and values.
    public let storage: AttentionStorage

    private let keys: [UnsafeMutableRawPointer]
    private let values: [UnsafeMutableRawPointer]
    private var lengths: [Int]

    /// Elements per layer and tensor (K or V).
    private var layerElements: Int { kvHeads * maxContext * headDim }

    /// An empty cache with room for `maxContext` tokens in each of `layers` layers, allocated
    /// now (2 × layers × kvHeads × maxContext × headDim elements of `storage`). Errors:
    /// `.invalidArgument` for a size < 1 or a headDim above the kernels' maximum, `.outOfRange`
    /// when the byte count overflows.
    public init(layers: Int, kvHeads: Int, headDim: Int, maxContext: Int, storage: AttentionStorage = .float32)
        throws(TesseraError)
    {
        guard layers >= 1, kvHeads >= 1, maxContext >= 1 else {
            throw .invalidArgument("KVCache: layers, kvHeads and maxContext must be >= 1 (got \(layers), \(kvHeads), \(maxContext))")
        }
        guard headDim >= 1, headDim <= Int(TSR_ATTN_MAX_HEAD_DIM) else {
            throw .invalidArgument("KVCache: headDim must be in 1...\(TSR_ATTN_MAX_HEAD_DIM) (got \(headDim))")
        }
        let (e1, o1) = kvHeads.multipliedReportingOverflow(by: maxContext)
        let (e2, o2) = e1.multipliedReportingOverflow(by: headDim)
        let (bytes, o3) = e2.multipliedReportingOverflow(by: storage.bytes)
        guard !o1, !o2, !o3 else { throw .outOfRange("KVCache: \(kvHeads) × \(maxContext) × \(headDim) overflows") }
        var ks: [UnsafeMutableRawPointer] = [], vs: [UnsafeMutableRawPointer] = []
        for _ in 0..<layers {
            guard let k = tsr_calloc(1, bytes), let v = tsr_calloc(1, bytes) else {
                for p in ks + vs { tsr_free(p) }
                throw .outOfMemory("KVCache: cannot allocate 2 × \(layers) × \(bytes) bytes")
            }
            ks.append(k)
            vs.append(v)
        }
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.maxContext = maxContext
        self.storage = storage
        self.keys = ks
        self.values = vs
        self.lengths = [Int](repeating: 0, count: layers)
    }

    deinit {
        for p in keys { tsr_free(p) }
        for p in values { tsr_free(p) }
    }

    /// Tokens stored for `layer`.
    public func length(layer: Int) -> Int { (0..<layers).contains(layer) ? lengths[layer] : 0 }

    /// Tokens stored in every layer (the smallest `length(layer:)`): where a decoder's next
    /// forward pass starts once it has appended to all layers.
    public var count: Int { lengths.min() ?? 0 }

    /// Bytes of K and V storage, all layers.
    public var byteCount: Int { 2 * layers * layerElements * storage.bytes }

    func checkLayer(_ layer: Int) throws(TesseraError) {
        guard (0..<layers).contains(layer) else {
            throw .invalidArgument("KVCache: layer \(layer) is not in 0..<\(layers)")
        }
    }

    /// Appends `tokens` new tokens to `layer`. `keys` and `values` hold
    /// `tokens × kvHeads × headDim` floats in token-major order `[token][head][d]` (the
    /// layout of a fused QKV projection); they are converted to the storage type.
    public func append(layer: Int, keys newKeys: UnsafeBufferPointer<Float>, values newValues: UnsafeBufferPointer<Float>,
                       tokens: Int) throws(TesseraError)
    {
        try checkLayer(layer)
        guard tokens >= 0 else { throw .invalidArgument("KVCache.append: tokens must be >= 0 (got \(tokens))") }
        let per = kvHeads * headDim
        guard newKeys.count >= tokens * per, newValues.count >= tokens * per else {
            throw .invalidArgument("KVCache.append: need \(tokens) × \(kvHeads) × \(headDim) keys and values, got \(newKeys.count) and \(newValues.count)")
        }
        let start = lengths[layer]
        guard tokens <= maxContext - start else {
            throw .outOfRange("KVCache.append: \(start) + \(tokens) tokens exceed maxContext \(maxContext) (layer \(layer))")
        }
        // (no temporary arrays: a decoder appends to every layer at every token)
        store(newKeys, into: keys[layer], start: start, tokens: tokens)
        store(newValues, into: values[layer], start: start, tokens: tokens)
        lengths[layer] = start + tokens
    }

    /// Copies `tokens` token-major rows `[token][head][d]` of `src` into the head-major
    /// storage `dst` at positions `start...`, converting to the storage type.
    private func store(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableRawPointer, start: Int, tokens: Int) {
        guard let s = src.baseAddress else { return }
        for t in 0..<tokens {
            for h in 0..<kvHeads {
                let from = s + (t * kvHeads + h) * headDim
                let row = (h * maxContext + start + t) * headDim
                switch storage {
                case .float32:
                    (dst.assumingMemoryBound(to: Float.self) + row).update(from: from, count: headDim)
                case .bfloat16:
                    KVCache.bfloat16Row(from, dst.assumingMemoryBound(to: UInt16.self) + row, headDim)
                case .float16:
                    KVCache.float16Row(from, dst.assumingMemoryBound(to: UInt16.self) + row, headDim)
                }
            }
        }
    }

    /// `n` floats as IEEE halves, the bits of `tsr_f32_to_f16` (round to nearest even). A step
    /// stores thousands per sequence, so a row whose values all become normal halves (what a
    /// cache meets) takes a branch-free loop the compiler vectorises; a row with a subnormal,
    /// overflowing, infinite or NaN value goes element by element.
    static func float16Row(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        var outside: UInt32 = 0
        for e in 0..<n {   // |x| in [2^-14, 65520): (a - lo) < span, unsigned
            let a = src[e].bitPattern & 0x7FFF_FFFF
            outside |= (a &- 0x3880_0000) >= (0x477F_F000 - 0x3880_0000) ? 1 : 0
        }
        guard outside == 0 else {
            for e in 0..<n { dst[e] = float16Bits(src[e]) }
            return
        }
        for e in 0..<n {
            let u = src[e].bitPattern, a = u & 0x7FFF_FFFF, mant = a & 0x7F_FFFF
            let h = ((a >> 23) &- 112) << 10 | mant >> 13
            // + 1 when the dropped 13 bits are above half, or exactly half and h is odd
            let up = ((mant & 0x1FFF) &+ (h & 1) &+ 0xFFF) >> 13
            dst[e] = UInt16(truncatingIfNeeded: (u >> 16) & 0x8000 | (h &+ up))
        }
    }

    /// `n` floats as bfloat16, the bits of `tsr_f32_to_bf16`: branch-free unless a NaN is in
    /// the row.
    static func bfloat16Row(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        var nan: UInt32 = 0
        for e in 0..<n { nan |= src[e].bitPattern & 0x7FFF_FFFF > 0x7F80_0000 ? 1 : 0 }
        guard nan == 0 else {
            for e in 0..<n { dst[e] = bfloat16Bits(src[e]) }
            return
        }
        for e in 0..<n {
            let u = src[e].bitPattern
            dst[e] = UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
        }
    }

    /// `tsr_f32_to_f16(x)` for one value: normal halves inline, subnormals, overflow,
    /// infinities and NaN by the C function. Round to nearest even.
    @inline(__always) static func float16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern, a = u & 0x7FFF_FFFF
        guard a >= 0x3880_0000, a < 0x477F_F000 else { return tsr_f32_to_f16(x) }
        let mant = a & 0x7F_FFFF
        var h = ((a >> 23) &- 112) << 10 | mant >> 13
        let rest = mant & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h &+= 1 }   // a carry moves into the exponent
        return UInt16(truncatingIfNeeded: (u >> 16) & 0x8000 | h)
    }

    /// `tsr_f32_to_bf16(x)`, inlined (NaN goes to the C function). Round to nearest even.
    @inline(__always) static func bfloat16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        guard u & 0x7FFF_FFFF <= 0x7F80_0000 else { return tsr_f32_to_bf16(x) }
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    /// The C library's conversions (`tsr_f32_to_f16`, `tsr_f32_to_bf16`): what the inlined
    /// ones must equal, bit for bit.
    static func libraryFloat16Bits(_ x: Float) -> UInt16 { tsr_f32_to_f16(x) }
    static func libraryBfloat16Bits(_ x: Float) -> UInt16 { tsr_f32_to_bf16(x) }

    /// Array convenience for `append(layer:keys:values:tokens:)`.
    public func append(layer: Int, keys: [Float], values: [Float]) throws(TesseraError) {
        let per = kvHeads * headDim
        guard keys.count == values.count, keys.count % per == 0 else {
            throw .invalidArgument("KVCache.append: keys (\(keys.count)) and values (\(values.count)) must be equal multiples of kvHeads × headDim = \(per)")
        }
        try keys.withUnsafeBufferPointer { (k) throws(TesseraError) in
            try values.withUnsafeBufferPointer { (v) throws(TesseraError) in
                try append(layer: layer, keys: k, values: v, tokens: keys.count / per)
            }
        }
    }

    /// Calls `body` with the raw K and V storage of `layer` (`[kvHeads][maxContext][headDim]`
    /// elements of `storage` type), e.g. to hand the cache to another kernel in place.
    public func withUnsafeStorage<R>(layer: Int, _ body: (_ keys: UnsafeRawPointer, _ values: UnsafeRawPointer) throws -> R)
        throws -> R
    {
        try checkLayer(layer)
        return try body(UnsafeRawPointer(keys[layer]), UnsafeRawPointer(values[layer]))
    }

    /// The K and V storage of `layer` (`[kvHeads][maxContext][headDim]` of `storage` type),
    /// valid while the cache lives: for Tessera's own modules' reference kernels, which read
    /// the cache in loops where a closure scope does not fit. `layer` must be in range.
    package func unsafeStorage(layer: Int) -> (keys: UnsafeRawPointer, values: UnsafeRawPointer) {
        precondition((0..<layers).contains(layer), "KVCache.unsafeStorage: layer \(layer) is not in 0..<\(layers)")
        return (UnsafeRawPointer(keys[layer]), UnsafeRawPointer(values[layer]))
    }

    /// Appends to every layer the `count` cached rows of `donor` from position `start` on
    /// (`start..<start+count`), bit for bit — the keys and values as `donor` stored them, with
    /// no conversion: a sequence that shares a prefix with another one takes its K/V instead of
    /// recomputing them. Errors (nothing changes): `.invalidArgument` for a donor of another
    /// layout (layers, kvHeads, headDim or storage), the cache itself, a negative `start` or
    /// `count`, or rows the donor does not hold in every layer; `.outOfRange` when the rows do
    /// not fit after this cache's rows in some layer.
    public func appendRows(of donor: KVCache, from start: Int, count: Int) throws(TesseraError) {
        guard donor !== self else { throw .invalidArgument("KVCache.appendRows: the donor is this cache") }
        guard donor.layers == layers, donor.kvHeads == kvHeads, donor.headDim == headDim, donor.storage == storage else {
            throw .invalidArgument("KVCache.appendRows: the donor's layout (\(donor.layers) layers, \(donor.kvHeads) × \(donor.headDim), \(donor.storage.name)) differs from this cache's (\(layers) layers, \(kvHeads) × \(headDim), \(storage.name))")
        }
        guard start >= 0, count >= 0, start <= donor.count - count else {
            throw .invalidArgument("KVCache.appendRows: rows \(start)..<\(start + count) are not all in the donor (\(donor.count) cached)")
        }
        guard let longest = lengths.max(), count <= maxContext - longest else {
            throw .outOfRange("KVCache.appendRows: \(count) rows do not fit after \(lengths.max() ?? 0) (maxContext \(maxContext))")
        }
        let rowBytes = headDim * storage.bytes
        for l in 0..<layers {
            let at = lengths[l]
            for h in 0..<kvHeads {
                let from = ((h * donor.maxContext + start) * headDim) * storage.bytes
                let to = ((h * maxContext + at) * headDim) * storage.bytes
                keys[l].advanced(by: to).copyMemory(from: donor.keys[l].advanced(by: from), byteCount: count * rowBytes)
                values[l].advanced(by: to).copyMemory(from: donor.values[l].advanced(by: from), byteCount: count * rowBytes)
            }
            lengths[l] = at + count
        }
    }

    /// Drops tokens beyond `length` in every layer (rollback of rejected draft tokens).
    public func truncate(to length: Int) throws(TesseraError) {
        guard length >= 0 else { throw .invalidArgument("KVCache.truncate: length must be >= 0 (got \(length))") }
        for l in 0..<layers { lengths[l] = min(lengths[l], length) }
    }

    /// Empties every layer.
    public func reset() { for l in 0..<layers { lengths[l] = 0 } }

    /// A copy of the valid keys (`value: false`) or values of `layer` as `[kvHeads, length, headDim]` floats.
    public func view(layer: Int, values wantValues: Bool = false) throws(TesseraError) -> Tensor<Float> {
        try checkLayer(layer)
        let n = lengths[layer]
        var t = try Tensor<Float>(shape: [kvHeads, n, headDim])
        let src = wantValues ? values[layer] : keys[layer]
        t.withUnsafeMutableBufferPointer { out in
            for h in 0..<kvHeads {
                for r in 0..<n {
                    let row = (h * maxContext + r) * headDim
                    for e in 0..<headDim {
                        let x: Float
                        switch storage {
                        case .float32: x = src.assumingMemoryBound(to: Float.self)[row + e]
                        case .bfloat16: x = tsr_bf16_to_f32(src.assumingMemoryBound(to: UInt16.self)[row + e])
                        case .float16: x = tsr_f16_to_f32(src.assumingMemoryBound(to: UInt16.self)[row + e])
                        }
                        out[(h * n + r) * headDim + e] = x
                    }
                }
            }
        }
        return t
    }

    /// Attention of `queryLength` new query rows against all `length(layer:)` cached keys of
    /// `layer` (append the new tokens' K/V first). `query` and `output` hold
    /// `queryLength × queryHeads × headDim` floats, token-major `[token][head][d]`;
    /// `queryHeads` must be a multiple of `kvHeads`. With `attention.mask = .causal` the
    /// last query row sees every cached key (bottom-right alignment). Per query row the
    /// result is bit-identical whatever `queryLength` (speculative verification relies on it).
    /// Pass the same `workspace` to every step of a decode loop so that no call allocates.
    public func attend(layer: Int, query: UnsafePointer<Float>, queryHeads: Int, queryLength: Int,
                       output: UnsafeMutablePointer<Float>, attention: Attention = Attention(mask: .causal),
                       lse: UnsafeMutablePointer<Float>? = nil, workspace: AttentionWorkspace? = nil) throws(TesseraError)
    {
        try checkLayer(layer)
        let n = lengths[layer]
        guard n >= 1 else { throw .invalidState("KVCache.attend: layer \(layer) is empty") }
        var desc = try attention.makeDesc(batch: 1, qHeads: queryHeads, kvHeads: kvHeads, qLen: queryLength,
                                          kvLen: n, headDim: headDim)
        let row = Int64(queryHeads * headDim)
        desc.q.stride_row = row; desc.q.stride_head = Int64(headDim); desc.q.stride_batch = 0
        desc.o.stride_row = row; desc.o.stride_head = Int64(headDim); desc.o.stride_batch = 0
        desc.q.extent = Int64(queryLength) * row
        desc.o.extent = Int64(queryLength) * row
        let kvHead = Int64(maxContext * headDim)
        desc.k.stride_row = Int64(headDim); desc.k.stride_head = kvHead; desc.k.stride_batch = 0
        desc.v = desc.k
        desc.k.extent = Int64(layerElements); desc.v.extent = Int64(layerElements)
        desc.k_dtype = storage.dtype
        desc.v_dtype = storage.dtype
        if lse != nil {
            desc.want_lse = 1
            desc.lse.stride_row = Int64(queryHeads); desc.lse.stride_head = 1; desc.lse.stride_batch = 0
            desc.lse.extent = Int64(queryLength * queryHeads)
        }
        try attention.run(&desc, q: UnsafeRawPointer(query), k: UnsafeRawPointer(keys[layer]),
                          v: UnsafeRawPointer(values[layer]), o: UnsafeMutableRawPointer(output), lse: lse,
                          workspace: workspace)
    }

    /// Array convenience for `attend(layer:query:...)`: returns `[token][head][d]` floats.
    public func attend(layer: Int, query: [Float], queryHeads: Int, attention: Attention = Attention(mask: .causal))
        throws(TesseraError) -> [Float]
    {
        let per = queryHeads * headDim
        guard queryHeads >= 1, !query.isEmpty, query.count % per == 0 else {
            throw .invalidArgument("KVCache.attend: query count \(query.count) is not a positive multiple of queryHeads × headDim = \(per)")
        }
        var out = [Float](repeating: 0, count: query.count)
        try query.withUnsafeBufferPointer { (q) throws(TesseraError) in
            try out.withUnsafeMutableBufferPointer { (o) throws(TesseraError) in
                try attend(layer: layer, query: q.baseAddress!, queryHeads: queryHeads, queryLength: query.count / per,
                           output: o.baseAddress!, attention: attention)
            }
        }
        return out
    }
}

extension AttentionStorage {
    /// The storage type named `name`: "f32", "f16" or "bf16" (the names of `tessera generate
    /// --kv-cache` and llama.cpp's `--cache-type-k`), or nil for any other string.
    public init?(name: String) {
        switch name.lowercased() {
        case "f32": self = .float32
        case "f16": self = .float16
        case "bf16": self = .bfloat16
        default: return nil
        }
    }

    /// "f32", "f16" or "bf16".
    public var name: String {
        switch self {
        case .float32: return "f32"
        case .float16: return "f16"
        case .bfloat16: return "bf16"
        }
    }
}
