import Foundation

/// Who receives a published contribution (used for routing and for counting bytes).
public enum PatchPeers: Sendable, Equatable {
    /// every other patch (an all-gather)
    case all
    /// the patch above (p−1) only
    case above
    /// the patch below (p+1) only
    case below
}

/// The communication layer of patch parallelism. Patch `p` publishes what other patches need at
/// exchange point `key` of the current denoiser call; readers ask for a patch's contribution from
/// the current call (fresh; after the producer published) or from the previous call (stale).
/// `SharedMemoryExchange` implements it for pool threads; an MPI implementation maps `publish` to
/// non-blocking sends and `contribution` to the matching receives.
///
/// Contract for a rank-based implementation (one patch per process, `PatchParallelDenoiser.localPatch`):
/// * keys: layer `k` uses `8k + part` (conv halo: part 0 = first row, sent `.above`, stride-1 convs
///   only; part 1 = last row, sent `.below`; GroupNorm: part 0 = [Σx per group, Σx² per group] as
///   Double, `.all`; attention K/V: parts 0/1 = whole K/V, `.all` (synchronous and DistriFusion),
///   parts 2/3 = first/last `portion` tokens of K sent `.above`/`.below`, 4/5 the same of V (PCPP));
///   key −8 = the call's output rows, `.all`, read fresh by every rank. Payloads are Float32 unless said.
/// * `contribution(fresh: true)` of another patch must wait until that patch's message of this call
///   arrives (the synchronous/warm-up calls read halos, statistics and K/V fresh); `fresh: false`
///   returns the previous call's message (nil before the first call). A rank may run one call ahead
///   of a neighbour in the stale modes, so messages must be filed by call.
/// * `finishCall()` is called once per denoiser call by each rank, after its last read of the call;
///   `reset()` at the start of every sampling run.
/// * byte counting: `publish` counts `bytes × receivers` (`.all` = patches − 1, `.above`/`.below` = 1
///   if that neighbour exists), `recordBytes` adds collectives done outside `publish`.
/// * one exchange object per guidance stream (class label): the denoiser asks its factory once per stream.
public protocol PatchExchange: AnyObject, Sendable {
    /// Number of patches P (patch indices run over 0..<P).
    var patches: Int { get }
    /// Copies `bytes` as patch `patch`'s contribution to `key` for this call, destined for `peers`.
    /// Safe to call concurrently for different patches.
    func publish(key: Int, from patch: Int, to peers: PatchPeers, bytes: UnsafeRawBufferPointer)
    /// Patch `patch`'s contribution to `key`, from this call (`fresh`) or the previous one; nil if none.
    /// The buffer stays valid until `finishCall`.
    func contribution(key: Int, of patch: Int, fresh: Bool) -> UnsafeRawBufferPointer?
    /// Ends a denoiser call: this call's contributions become the previous call's.
    func finishCall()
    /// Forgets everything (a new sampling run) and zeroes the counters.
    func reset()
    /// Bytes sent since the last `takeBytesSent()`.
    func takeBytesSent() -> Int
    /// Counts bytes moved by a collective outside `publish` (the all-gather of each call's output rows).
    func recordBytes(_ n: Int)
}

/// `PatchExchange` over shared memory: double-buffered slots per (key, patch), byte counting as if
/// each contribution were sent to its peers.
public final class SharedMemoryExchange: PatchExchange, @unchecked Sendable {
    /// Number of patches P.
    public let patches: Int
    private final class Slot {
        var cur: UnsafeMutableRawBufferPointer? = nil
        var prev: UnsafeMutableRawBufferPointer? = nil
        var curValid = false, prevValid = false
        deinit { cur?.deallocate(); prev?.deallocate() }
    }
    private var slots: [Int: [Slot]] = [:]
    private let lock = NSLock()
    private var bytes = 0

    /// An exchange among `patches` patches in this process.
    public init(patches: Int) { self.patches = patches }

    private func slots(_ key: Int) -> [Slot] {
        lock.lock(); defer { lock.unlock() }
        if let s = slots[key] { return s }
        let s = (0..<patches).map { _ in Slot() }
        slots[key] = s
        return s
    }

    /// Copies `src` into patch `patch`'s slot for `key` and counts the bytes as sent to `peers`.
    public func publish(key: Int, from patch: Int, to peers: PatchPeers, bytes src: UnsafeRawBufferPointer) {
        let slot = slots(key)[patch]
        if slot.cur == nil || slot.cur!.count != src.count {
            slot.cur?.deallocate()
            slot.cur = UnsafeMutableRawBufferPointer.allocate(byteCount: src.count, alignment: 64)
        }
        slot.cur!.copyMemory(from: src)
        slot.curValid = true
        let n: Int
        switch peers {
        case .all: n = patches - 1
        case .above: n = patch > 0 ? 1 : 0
        case .below: n = patch + 1 < patches ? 1 : 0
        }
        lock.lock(); bytes += n * src.count; lock.unlock()
    }

    /// Patch `patch`'s contribution to `key` from this call (`fresh`) or the previous one; nil if none.
    public func contribution(key: Int, of patch: Int, fresh: Bool) -> UnsafeRawBufferPointer? {
        lock.lock(); let s = slots[key]; lock.unlock()
        guard let s, patch >= 0, patch < patches else { return nil }
        let slot = s[patch]
        if fresh { return slot.curValid ? UnsafeRawBufferPointer(slot.cur!) : nil }
        return slot.prevValid ? UnsafeRawBufferPointer(slot.prev!) : nil
    }

    /// This call's contributions become the previous call's.
    public func finishCall() {
        lock.lock(); defer { lock.unlock() }
        for (_, arr) in slots {
            for s in arr where s.curValid {
                swap(&s.cur, &s.prev)
                s.prevValid = true; s.curValid = false
            }
        }
    }

    /// Drops every contribution and zeroes the byte counter.
    public func reset() {
        lock.lock(); slots = [:]; bytes = 0; lock.unlock()
    }

    /// Adds `n` bytes moved outside `publish`.
    public func recordBytes(_ n: Int) { lock.lock(); bytes += n; lock.unlock() }

    /// Bytes counted since the last call, then zero.
    public func takeBytesSent() -> Int {
        lock.lock(); defer { lock.unlock() }
        let b = bytes; bytes = 0; return b
    }
}

/// How patches see each other's data in one denoiser call.
struct PatchPolicy: Sendable, Equatable {
    enum Halo: Sendable { case fresh, stale, zero }
    enum Norm: Sendable { case fresh, corrected, local }
    enum KV: Sendable { case fresh, stale, partial(Double), own }
    var halo: Halo
    var norm: Norm
    var kv: KV
    /// Whether any op reads fresh data of other patches (then ops run in barrier-separated phases).
    var needsBarriers: Bool {
        if case .fresh = halo { return true }
        if case .fresh = norm { return true }
        if case .fresh = kv { return true }
        return false
    }
    static let synchronous = PatchPolicy(halo: .fresh, norm: .fresh, kv: .fresh)
    static let displaced = PatchPolicy(halo: .stale, norm: .corrected, kv: .stale)
    static func pcpp(_ portion: Double) -> PatchPolicy { PatchPolicy(halo: .stale, norm: .corrected, kv: .partial(portion)) }
    static let independent = PatchPolicy(halo: .zero, norm: .local, kv: .own)
}

extension PatchPolicy.KV: Equatable {}
