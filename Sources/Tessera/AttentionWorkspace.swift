internal import CTessera

/// Scratch memory of attention's split-decode schedule, kept from one call to the next.
///
/// A few query rows against a long KV cache are split into chunks of keys whose partial
/// results are merged afterwards; they need
/// `ceil(kvLength / 1024) × batch × queryHeads × queryLength × (headDim + 2)` floats.
/// Without a workspace the kernel allocates that at every call. Pass the same workspace to
/// every decode step: it grows when the context does (to at least twice its size, so
/// rarely), never per token, and is freed with the object.
///
/// Not thread-safe (and not `Sendable`): one workspace per thread of attention calls.
public final class AttentionWorkspace {
    private var pointer: UnsafeMutableRawPointer?
    /// Bytes held now.
    public private(set) var byteCount = 0

    /// An empty workspace; the first call that needs memory allocates it.
    public init() {}

    /// A workspace of `byteCount` bytes allocated now. Errors: `.invalidArgument` for a
    /// negative size, `.outOfMemory`.
    public convenience init(byteCount: Int) throws(TesseraError) {
        guard byteCount >= 0 else { throw .invalidArgument("AttentionWorkspace: negative size \(byteCount)") }
        self.init()
        _ = try reserve(byteCount)
    }

    deinit { tsr_free(pointer) }

    /// At least `bytes` of 64-byte aligned memory (nil for 0). When short it grows to
    /// max(bytes, 2 × current size); contents are not kept.
    func reserve(_ bytes: Int) throws(TesseraError) -> UnsafeMutableRawPointer? {
        if bytes <= 0 { return nil }
        if bytes > byteCount {
            let (doubled, overflow) = byteCount.multipliedReportingOverflow(by: 2)
            let n = overflow ? bytes : max(bytes, doubled)
            guard let p = tsr_malloc(n) else {
                throw .outOfMemory("AttentionWorkspace: cannot allocate \(n) bytes: \(String(cString: tsr_last_error()))")
            }
            tsr_free(pointer)
            pointer = p
            byteCount = n
        }
        return pointer
    }
}
