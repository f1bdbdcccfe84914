import Foundation
import Tessera
import TesseraModels

/// The continuous-batching engine: `parallel` slots, each a session with its own K/V cache of
/// `context` positions (allocated once: memory does not grow with load), a bounded queue of
/// waiting requests, and one worker thread that runs steps. Each step advances every sequence
/// that holds a slot in one forward: one token per decoding sequence (plus a prompt-lookup
/// draft where asked), and prefill chunks of newly admitted prompts filling the rest of the
/// step's token budget (Dynamic SplitFuse). A request's tokens depend only on its own prompt,
/// options and seed: its sampler and RNG are its own, and every forward row equals its
/// one-sequence computation.
public final class ServeEngine: @unchecked Sendable {
    // @unchecked: `queue`, `cancels`, `stopping` are guarded by `cond`; slots and sequences
    // belong to the worker thread.
    /// The model all slots run.
    public let model: LlamaModel
    /// The sizes this engine was made with (stepTokens after raising).
    public let options: EngineOptions
    let metrics: ServeMetrics
    private let forward: StepForward
    private let sessions: [LlamaSession]
    private var slotUsed: [UInt64]
    private var occupant: [ServeSequence?]
    private var active: [ServeSequence] = []
    private let cond = NSCondition()
    private var queue: [ServeSequence] = []
    /// Requests to cancel, with when each was asked (monotonic seconds).
    private var cancels: [UInt64: Double] = [:]
    private var stopping = false
    private var nextID: UInt64 = 1
    private var stepCounter: UInt64 = 0
    private var thread: Thread?
    private let profileLock = NSLock()
    private var stats = EngineProfile()
    /// The streamed responses' writers the engine waits for between steps.
    let pacing = WriterPacing()
    /// The paces of the writers handed a token in this step that were keeping up.
    private var paced: [StreamPace] = []
    /// The pool the sampling of a step runs on: the one the model's kernels use (its workers
    /// are awake between the step's parallel regions), not a second set of threads.
    private let pool: ThreadPool

    /// Allocates the slots and starts the worker thread.
    /// `pool` runs the parallel sampling of a step: give the pool the model runs on
    /// (`ModelOptions.pool`, by default `ThreadPool.shared`).
    public init(model: LlamaModel, options: EngineOptions, metrics: ServeMetrics = ServeMetrics(),
                pool: ThreadPool = .shared) throws(TesseraError) {
        guard options.parallel >= 1, options.parallel <= 256 else { throw .invalidArgument("parallel \(options.parallel) must be in 1...256") }
        guard options.context >= 2 else { throw .invalidArgument("context \(options.context) must be >= 2") }
        guard options.maxQueue >= 0 else { throw .invalidArgument("maxQueue must be >= 0") }
        var o = options
        o.stepTokens = max(o.stepTokens, o.parallel + 16)
        self.options = o
        self.model = model
        self.metrics = metrics
        self.pool = pool
        // a step holds at most stepTokens rows; logit rows: one per sequence, 17 with a draft
        forward = try StepForward(model: model, rows: o.stepTokens, logitRows: min(o.stepTokens, 17 * o.parallel))
        var s: [LlamaSession] = []
        for _ in 0..<o.parallel { s.append(try model.makeSession(contextLength: o.context, kvCache: o.kvCache)) }
        sessions = s
        slotUsed = Array(repeating: 0, count: o.parallel)
        occupant = Array(repeating: nil, count: o.parallel)
        // the thread holds the engine until `shutdown()` ends its loop
        let t = Thread { self.loop() }
        t.name = "tessera-serve-engine"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Stops the worker: waiting and running requests finish as cancelled. Call it when done
    /// with the engine (the worker thread keeps the engine alive until then).
    public func shutdown() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    /// Where the worker's time went since the engine started (steps, forward, sampling, ...).
    public var profile: EngineProfile { profileLock.lock(); defer { profileLock.unlock() }; return stats }

    /// Requests waiting for a slot.
    public var queueDepth: Int { cond.lock(); defer { cond.unlock() }; return queue.count }

    /// Queues a request; its events arrive on the returned stream (tokens, then `finished`).
    /// Dropping or cancelling the stream's consumer cancels the request within one step.
    public func submit(_ request: GenerationRequest) throws(SubmitError) -> (id: UInt64, events: AsyncStream<EngineEvent>) {
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream()
        do {
            return (try submit(request, sink: .events(continuation)), stream)
        } catch {
            continuation.finish()
            throw error
        }
    }

    /// Queues a request whose events go to `sink`; the consumer going away cancels it.
    func submit(_ request: GenerationRequest, sink: EventSink) throws(SubmitError) -> UInt64 {
        let vocab = model.config.vocabularySize
        guard !request.prompt.isEmpty else { throw .invalidPrompt("the prompt has no tokens") }
        if let bad = request.prompt.first(where: { $0 < 0 || $0 >= vocab }) {
            throw .invalidPrompt("token id \(bad) is not in 0..<\(vocab)")
        }
        guard request.prompt.count < options.context else {
            throw .promptTooLong(promptTokens: request.prompt.count, context: options.context)
        }
        cond.lock()
        defer { cond.unlock() }
        guard !stopping else { throw .shutDown }
        guard queue.count < options.maxQueue else {
            metrics.rejected.increment()
            throw .queueFull(retryAfter: max(1, queue.count / options.parallel))
        }
        let id = nextID
        nextID += 1
        let seq: ServeSequence
        do {
            seq = try ServeSequence(id: id, request: request, tokenizer: model.tokenizer, context: options.context,
                                    sink: sink, now: monotonicNow())
        } catch {
            throw .invalidSampling(error.message)
        }
        sink.onTermination { [weak self] in self?.cancel(id) }
        queue.append(seq)
        metrics.requests.increment()
        metrics.queueDepth.set(Double(queue.count))
        cond.signal()
        return id
    }

    /// Cancels a request (queued or running); its slot is free by the end of the next step.
    public func cancel(_ id: UInt64) {
        let now = monotonicNow()
        cond.lock()
        if cancels[id] == nil { cancels[id] = now }
        cond.signal()
        cond.unlock()
    }

    // MARK: the worker

    private func loop() {
        while true {
            cond.lock()
            while !stopping && queue.isEmpty && active.isEmpty && cancels.isEmpty { cond.wait() }
            if stopping {
                let waiting = queue
                queue.removeAll()
                cond.unlock()
                for s in waiting + active { finish(s, .cancelled) }
                return
            }
            let cancelled = cancels
            cancels.removeAll()
            // cancelled while waiting: never takes a slot
            var dropped: [ServeSequence] = []
            queue.removeAll { s in
                if cancelled[s.id] != nil { dropped.append(s); return true }
                return false
            }
            var admitted: [ServeSequence] = []
            while !queue.isEmpty && active.count + admitted.count < sessions.count {
                admitted.append(queue.removeFirst())
            }
            metrics.queueDepth.set(Double(queue.count))
            cond.unlock()

            for s in dropped { finish(s, .cancelled, askedAt: cancelled[s.id]) }
            for s in active where cancelled[s.id] != nil { finish(s, .cancelled, askedAt: cancelled[s.id]) }
            for s in admitted { admit(s) }
            metrics.activeSequences.set(Double(active.count))
            if !active.isEmpty { step() }
        }
    }

    /// Gives `s` the free slot whose cached tokens share the longest prefix with its prompt
    /// (least recently used among equals). When another slot — free or running a request —
    /// holds a longer shared prefix (a common system prompt), its keys and values are copied
    /// into the chosen slot: a prefix is computed once, whichever slots its requests land in.
    private func admit(_ s: ServeSequence) {
        let prompt = s.request.prompt
        // at least one prompt token is always run: its logits give the first token
        func common(_ i: Int) -> Int {
            let cached = sessions[i].tokens
            var c = 0
            let limit = min(cached.count, prompt.count - 1)
            while c < limit && cached[c] == prompt[c] { c += 1 }
            return c
        }
        var best = -1, bestCommon = -1
        for i in sessions.indices where occupant[i] == nil {
            let c = common(i)
            if c > bestCommon || (c == bestCommon && slotUsed[i] < slotUsed[best]) { best = i; bestCommon = c }
        }
        precondition(best >= 0, "admit: no free slot")
        var donor = -1, donorCommon = bestCommon
        for i in sessions.indices where i != best {
            let c = common(i)
            if c > donorCommon { donor = i; donorCommon = c }
        }
        stepCounter += 1
        slotUsed[best] = stepCounter
        sessions[best].truncate(to: bestCommon)
        if donor >= 0 && donorCommon - bestCommon >= Self.minimumPrefixCopy {
            // a failed copy (it cannot fail for the engine's own f32 slots) only means a longer prefill
            if let copied = try? sessions[best].adoptPrefix(of: sessions[donor], count: donorCommon) {
                bestCommon += copied
                metrics.copiedPromptTokens.increment(by: Int64(copied))
            }
        }
        occupant[best] = s
        s.slot = best
        s.fed = bestCommon
        s.cached = bestCommon
        metrics.promptTokens.increment(by: Int64(prompt.count))
        metrics.cachedPromptTokens.increment(by: Int64(bestCommon))
        if s.maxTokens == 0 { finish(s, .length); return }
        active.append(s)
    }

    /// The shortest shared prefix worth copying from another slot (shorter ones are prefilled:
    /// a few rows of a step cost less than the copy's bookkeeping).
    static let minimumPrefixCopy = 4

    /// One step: plan each active sequence's tokens under the budget, one forward, then sample.
    private func step() {
        let t0 = monotonicNow()
        var entries: [StepEntry] = []
        var owners: [(ServeSequence, draft: [Int])] = []
        var budget = options.stepTokens
        // decoding sequences first: each one token (plus its draft)
        for s in active where !s.prefilling {
            var draft: [Int] = []
            if s.request.speculative {
                let room = min(16, s.maxTokens - s.generated.count - 1, budget - 1)
                if room >= 2 { draft = PromptLookup.draft(s.history, maxNgram: 8, minNgram: 2, count: room) }
            }
            entries.append(StepEntry(session: sessions[s.slot], tokens: [s.next] + draft,
                                     logits: draft.isEmpty ? .last : .all))
            owners.append((s, draft))
            budget -= 1 + draft.count
        }
        // then prefill chunks, oldest first, in what is left
        for s in active where s.prefilling && budget > 0 {
            let n = min(s.remainingPrompt, budget)
            let chunk = Array(s.request.prompt[s.fed..<(s.fed + n)])
            entries.append(StepEntry(session: sessions[s.slot], tokens: chunk,
                                     logits: n == s.remainingPrompt ? .last : .none))
            owners.append((s, []))
            budget -= n
        }
        metrics.batchSize.record(Double(entries.count))
        metrics.stepTokens.record(Double(options.stepTokens - budget))

        let t1 = monotonicNow()
        let split0 = Self.forwardSplit(entries)
        let results = forward.run(entries)
        let t2 = monotonicNow()
        let split = Self.forwardSplit(entries) - split0
        // sample every sequence that gets one token this step, in parallel (each sequence's
        // sampler and RNG are its own: the tokens do not depend on how the work is split)
        let width = model.config.vocabularySize
        var jobs: [Int] = []
        for (k, e) in entries.enumerated() where e.logits == .last {
            if case .success = results[k] { jobs.append(k) }
        }
        let drawn = sampleAll(jobs.map { k in
            let s = owners[k].0
            guard case .success(let rows) = results[k] else { preconditionFailure() }
            return SampleJob(sequence: s, logits: rows.row(0, width: width))
        })
        let t3 = monotonicNow()
        var next = 0
        for (k, result) in results.enumerated() {
            let (s, draft) = owners[k]
            switch result {
            case .failure(let e):
                finish(s, .error, error: e.message)
            case .success(let rows):
                if s.prefilling {
                    s.fed += entries[k].tokens.count
                    if s.prefilling { continue }
                }
                if draft.isEmpty {
                    let d = drawn[next]
                    next += 1
                    _ = accept(s, d.token, d.logprob)
                } else {
                    verify(s, rows: rows, width: width, draft: draft)
                }
            }
        }
        let t4 = monotonicNow()
        if !paced.isEmpty {
            if options.writerPaceSeconds > 0 { pacing.wait(for: paced, seconds: options.writerPaceSeconds) }
            paced.removeAll(keepingCapacity: true)
        }
        let t5 = monotonicNow()
        profileLock.lock()
        stats.steps += 1
        stats.rows += options.stepTokens - budget
        stats.sampled += jobs.count
        stats.planSeconds += t1 - t0
        stats.forwardSeconds += t2 - t1
        stats.sampleSeconds += t3 - t2
        stats.emitSeconds += t4 - t3
        stats.paceSeconds += t5 - t4
        stats.projectionSeconds += split.projections
        stats.attentionSeconds += split.attention
        profileLock.unlock()
        metrics.steps.increment()
        for (i, dt) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4].enumerated() { metrics.phaseSeconds[i].increment(by: dt) }
        for (i, dt) in [split.projections, split.attention, split.other].enumerated() { metrics.forwardSeconds[i].increment(by: dt) }
    }

    /// The forward seconds the step's sessions have been charged so far, by part (the model
    /// charges each session its share of a batched forward by rows).
    private static func forwardSplit(_ entries: [StepEntry]) -> ForwardSplit {
        var s = ForwardSplit()
        for e in entries {
            let p = e.session.profile
            s.projections += p.projections
            s.attention += p.attention
            s.other += p.rest
        }
        return s
    }

    /// Draws the token (and its log-probabilities, where asked) of every job, spread over the
    /// pool's workers: the forward is done, and the sampling of one sequence costs about as much
    /// as a quarter of a decode row. (Dispatch's threads would be a second set competing for the
    /// same cores with the pool's, whose workers still spin after the forward's last region.)
    private func sampleAll(_ jobs: [SampleJob]) -> [(token: Int, logprob: TokenLogprob?)] {
        let out = DrawnTokens(count: jobs.count)
        func draw(_ j: Int) {
            let job = jobs[j], s = job.sequence
            let t = s.sampler.sample(job.logits, history: s.history[...])
            out.set(j, (t, s.request.topLogprobs.map { RequestSampler.logprobs(job.logits, chosen: t, top: $0) }))
        }
        if jobs.count <= 1 || pool.threadCount <= 1 {
            for j in jobs.indices { draw(j) }
        } else {
            pool.parallelFor(jobs.indices, schedule: .dynamic(chunk: 1)) { range, _ in
                for j in range { draw(j) }
            }
        }
        return out.values
    }

    /// Checks the draft row by row with the request's sampler (lossless), keeps the accepted
    /// part in the cache, and emits the accepted tokens and the correction (or bonus) token.
    private func verify(_ s: ServeSequence, rows: StepLogits, width: Int, draft: [Int]) {
        let session = sessions[s.slot]
        let base = session.tokens.count - 1 - draft.count
        var accepted = 0
        var going = true
        func lp(_ row: UnsafeBufferPointer<Float>, _ t: Int) -> TokenLogprob? {
            s.request.topLogprobs.map { RequestSampler.logprobs(row, chosen: t, top: $0) }
        }
        for (i, d) in draft.enumerated() {
            let row = rows.row(i, width: width)
            let (t, ok) = s.sampler.verify(row, history: s.history[...], draft: d)
            going = accept(s, t, lp(row, t))
            if !ok { break }
            accepted += 1
            if !going { break }
        }
        if going && accepted == draft.count {
            let row = rows.row(draft.count, width: width)
            let t = s.sampler.sample(row, history: s.history[...])
            going = accept(s, t, lp(row, t))
        }
        // keep `next` and the accepted drafts; the rejected rows are dead. (A finished sequence
        // may leave them: a session's token list always names what its cache holds.)
        if going { session.truncate(to: base + 1 + accepted) }
    }

    private func accept(_ s: ServeSequence, _ t: Int, _ lp: TokenLogprob?) -> Bool {
        let now = monotonicNow()
        if s.generated.isEmpty { metrics.timeToFirstToken.record(now - s.arrival) } else {
            metrics.interToken.record(now - s.lastTokenAt)
        }
        s.lastTokenAt = now
        s.generated.append(t)
        s.history.append(t)
        s.sampler.record(t)
        s.next = t
        metrics.generatedTokens.increment()
        if s.stopTokens.contains(t) {
            if lp != nil { _ = s.sink.yield(.token(TokenPiece(id: t, text: "", logprob: lp))) }
            finish(s, .stop)
            return false
        }
        let (piece, hitStop) = s.text.push(t)
        if let pace = s.sink.pace, pacing.handed(pace) { paced.append(pace) }
        if !s.sink.yield(.token(TokenPiece(id: t, text: piece, logprob: lp))) {
            finish(s, .cancelled)
            return false
        }
        if hitStop { finish(s, .stop); return false }
        if s.generated.count >= s.maxTokens { finish(s, .length); return false }
        return true
    }

    /// Ends a request: the last text and the completion go to the client, the slot is freed
    /// (its cache kept for prefix reuse by the next request).
    /// `askedAt`: when a cancel was asked for it (the cancel's latency is recorded).
    private func finish(_ s: ServeSequence, _ reason: FinishReason, error: String? = nil, askedAt: Double? = nil) {
        if let i = active.firstIndex(where: { $0 === s }) { active.remove(at: i) }
        if s.slot >= 0, occupant[s.slot] === s {
            occupant[s.slot] = nil
        }
        if reason == .cancelled {
            if let askedAt { metrics.cancelLatency.record(monotonicNow() - askedAt) }
            metrics.lastCancelFreed.set(Date().timeIntervalSince1970)
            metrics.cancelled.increment()
        }
        let tail = reason == .stop || reason == .cancelled ? "" : (s.text.flushAll() ?? "")
        _ = s.sink.yield(.finished(s.completion(reason, tail: tail, error: error)))
        s.sink.finish()
    }
}

/// Where the engine's worker spent its time: totals since the engine started.
public struct EngineProfile: Sendable {
    /// Steps run.
    public var steps = 0
    /// Token rows run (decode tokens, drafts and prefill chunks).
    public var rows = 0
    /// Tokens sampled in the parallel sampling phase.
    public var sampled = 0
    /// Seconds planning steps (drafts, chunks).
    public var planSeconds = 0.0
    /// Seconds in the batched forward.
    public var forwardSeconds = 0.0
    /// Seconds sampling (and computing log-probabilities).
    public var sampleSeconds = 0.0
    /// Seconds handing tokens to the clients' streams (text, stop strings, speculative checks).
    public var emitSeconds = 0.0
    /// Seconds waiting for the streamed responses' writers between steps (`WriterPacing`).
    public var paceSeconds = 0.0
    /// Of `forwardSeconds`: the weight projections (every M-row quantized product).
    public var projectionSeconds = 0.0
    /// Of `forwardSeconds`: attention over the sequences' caches.
    public var attentionSeconds = 0.0
}

/// Forward seconds by part: projections, attention, the rest (norms, RoPE, activations, adds).
struct ForwardSplit {
    var projections = 0.0, attention = 0.0, other = 0.0

    static func - (a: ForwardSplit, b: ForwardSplit) -> ForwardSplit {
        ForwardSplit(projections: a.projections - b.projections, attention: a.attention - b.attention, other: a.other - b.other)
    }
}

/// A sequence to sample and its logit row.
struct SampleJob: @unchecked Sendable {
    // @unchecked: each job's sequence is touched by one sampling worker only.
    let sequence: ServeSequence
    let logits: UnsafeBufferPointer<Float>
}

/// The tokens the sampling workers draw, one slot per job (each written by one worker).
final class DrawnTokens: @unchecked Sendable {
    // @unchecked: workers write disjoint indices; read after all of them are done.
    private let slots: UnsafeMutablePointer<(token: Int, logprob: TokenLogprob?)>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(count, 1))
        slots.initialize(repeating: (-1, nil), count: max(count, 1))
    }

    func set(_ i: Int, _ v: (token: Int, logprob: TokenLogprob?)) { slots[i] = v }

    var values: [(token: Int, logprob: TokenLogprob?)] { Array(UnsafeBufferPointer(start: slots, count: count)) }

    deinit {
        slots.deinitialize(count: max(count, 1))
        slots.deallocate()
    }
}

@inline(__always) func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
