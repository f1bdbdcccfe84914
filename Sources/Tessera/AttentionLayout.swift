internal import CTessera

/// The sizes of one attention problem: `batch` × `queryHeads` heads of `queryLength` query
/// rows against `kvLength` keys of `kvHeads` heads, all of `headDim` elements.
/// `queryHeads` must be a multiple of `kvHeads` (grouped-query attention: query head `h`
/// reads key/value head `h / (queryHeads / kvHeads)`).
public struct AttentionShape: Sendable, Equatable {
    /// Independent problems (>= 1).
    public var batch: Int
    /// Query heads (a multiple of `kvHeads`).
    public var queryHeads: Int
    /// Key/value heads.
    public var kvHeads: Int
    /// Query rows per head.
    public var queryLength: Int
    /// Keys (and values) per head.
    public var kvLength: Int
    /// Elements per query, key and value row.
    public var headDim: Int

    /// `kvHeads` nil means as many as `queryHeads`.
    public init(batch: Int = 1, queryHeads: Int, kvHeads: Int? = nil, queryLength: Int, kvLength: Int, headDim: Int) {
        self.batch = batch
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads ?? queryHeads
        self.queryLength = queryLength
        self.kvLength = kvLength
        self.headDim = headDim
    }
}

/// Where the elements of one attention operand lie in its buffer: the element strides of
/// the batch, head and row axes (the `headDim` elements of a row are contiguous).
///
/// ```
///  head-major  [batch][head][row][d]:  headStride = rows·d,   rowStride = d
///  token-major [batch][row][head][d]:  headStride = d,        rowStride = heads·d
///  KV cache    [head][maxContext][d]:  headStride = maxContext·d, rowStride = d
/// ```
/// Strides must be >= 0; 0 repeats the same elements (e.g. one batch for all).
public struct AttentionLayout: Sendable, Equatable {
    /// Elements from one batch entry to the next (0: every entry reads the same elements).
    public var batchStride: Int
    /// Elements from one head to the next.
    public var headStride: Int
    /// Elements from one row (token) to the next; the row's `headDim` elements are contiguous.
    public var rowStride: Int
    /// Elements the buffer holds: when set (> 0), a call checks that every element it reads
    /// or writes lies in `0..<extent` and fails with `.outOfRange` otherwise; nil: unchecked.
    public var extent: Int?

    /// A layout with the given element strides (>= 0) and optional bounds check (`extent`).
    public init(batchStride: Int = 0, headStride: Int, rowStride: Int, extent: Int? = nil) {
        self.batchStride = batchStride
        self.headStride = headStride
        self.rowStride = rowStride
        self.extent = extent
    }

    /// Contiguous `[batch][heads][rows][headDim]` (the layout of ``Attention``'s tensors).
    public static func headMajor(batch: Int = 1, heads: Int, rows: Int, headDim: Int) -> AttentionLayout {
        AttentionLayout(batchStride: heads * rows * headDim, headStride: rows * headDim, rowStride: headDim,
                        extent: batch * heads * rows * headDim)
    }

    /// Contiguous `[batch][rows][heads][headDim]`: every row holds all heads side by side, as
    /// a projection writes them (`[token][head][d]`).
    public static func tokenMajor(batch: Int = 1, rows: Int, heads: Int, headDim: Int) -> AttentionLayout {
        AttentionLayout(batchStride: rows * heads * headDim, headStride: headDim, rowStride: heads * headDim,
                        extent: batch * rows * heads * headDim)
    }

    func cValue(_ what: String) throws(TesseraError) -> tsr_attn_layout {
        if let extent, extent <= 0 {
            throw .invalidArgument("Attention: \(what) extent must be > 0 when given (got \(extent))")
        }
        return tsr_attn_layout(stride_batch: Int64(batchStride), stride_head: Int64(headStride),
                               stride_row: Int64(rowStride), extent: Int64(extent ?? 0))
    }
}
