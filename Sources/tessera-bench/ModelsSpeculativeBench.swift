import Foundation
import Tessera
import TesseraModels

/// `tessera bench llm`, speculative part: the cost of a k-row verification pass against a
/// 1-row decode pass (what makes drafting pay), then plain vs speculative greedy decoding
/// (same generator, interleaved A/B) on two copy-heavy chats: editing a code snippet (the
/// headline case, 128+ generated tokens) and rewriting a paragraph with names changed (harder:
/// every edit breaks the copy). Each reports acceptance and an output-identity check.
/// TESSERA_BENCH_LLM_SPEC_REPEATS overrides the number of A/B pairs.
func runModelsSpeculativeCase(_ ctx: BenchContext, generator gen: Generator, threads: Int) throws {
    try runVerificationCost(ctx, generator: gen, threads: threads)

    let code = """
    def summarize(records):
        count = 0
        total = 0.0
        largest = None
        smallest = None
        for record in records:
            if record.amount is None:
                continue
            count += 1
            total += record.amount
            if largest is None or record.amount > largest.amount:
                largest = record
            if smallest is None or record.amount < smallest.amount:
                smallest = record
        average = total / count if count else 0.0
        return {"count": count, "total": total, "average": average, "largest": largest, "smallest": smallest}
    """
    try runSpeculativePair(ctx, generator: gen, threads: threads, label: "code edit (rename a variable)",
                           messages: [.user("Rename the variable `count` to `n` in this Python function and reply with the whole function only:\n\n\(code)")],
                           maxTokens: 256)

    let paragraph = "Alice and Bob walked to the old mill by the river, where Alice told Bob about the summer she spent in Lisbon with her cousin Maria, who worked at a bakery near the cathedral. Every morning Maria baked bread for the whole street, and Alice helped her carry the baskets to the market."
    try runSpeculativePair(ctx, generator: gen, threads: threads, label: "paragraph with names changed",
                           messages: [.user("Repeat the following paragraph with every name changed (Alice to Emma, Bob to Tom, Maria to Sofia, Lisbon to Porto): \(paragraph)")],
                           maxTokens: 200)
}

/// Time of one forward pass of k tokens with all k logit rows (a verification of k-1 drafts)
/// relative to a 1-token pass, at a context of ~300 positions.
private func runVerificationCost(_ ctx: BenchContext, generator gen: Generator, threads: Int) throws {
    let s = gen.session
    s.reset()
    let prefix = (0..<300).map { 100 + ($0 * 37) % 5000 }
    try s.forward(prefix, logits: .none) { (_: UnsafeBufferPointer<Float>, _: Int) in }
    let base = s.tokens.count
    // all row counts timed in turn within each repeat, so load changes hit them alike
    let ks = [1, 2, 4, 8, 12, 16, 24, 32].filter { $0 <= s.maxLogitRows }
    var times = [[Double]](repeating: [], count: ks.count)
    for rep in 0..<(ctx.quick ? 8 : 16) {
        for (i, k) in ks.enumerated() {
            let toks = Array(prefix[0..<k])
            let t0 = specNow()
            try s.forward(toks, logits: .all) { (_: UnsafeBufferPointer<Float>, _: Int) in }
            if rep > 0 { times[i].append(specNow() - t0) }
            s.truncate(to: base)
        }
    }
    let one = summarize(times[0]).median
    for (i, k) in ks.enumerated().dropFirst() {
        let tk = summarize(times[i]).median
        ctx.output.emit(BenchRecord(name: "llm verification pass \(k) rows vs 1 row (context 300)", unit: "s",
                                    ours: tk, baselineName: "1-row decode pass", baseline: one, threads: threads,
                                    extra: ["cost_ratio": tk / one, "rows": Double(k)]))
    }
    s.reset()
}

private func runSpeculativePair(_ ctx: BenchContext, generator gen: Generator, threads: Int, label: String,
                                messages: [ChatMessage], maxTokens: Int) throws {
    let out = ctx.output
    let opts = GenerationOptions(maxTokens: maxTokens)
    var plainTokens = [Int](), specTokens = [Int]()
    var specStats = GenerationStats()
    var specDecode = [Double](), plainDecode = [Double]()
    let env = ProcessInfo.processInfo.environment
    let repeats = env["TESSERA_BENCH_LLM_SPEC_REPEATS"].flatMap { Int($0) } ?? (ctx.quick ? 3 : 5)
    // decode phase only (prefill is the same for both and reported above)
    _ = try measurePairs(repeats: repeats, warmup: 1, ours: {
        var o = opts
        o.speculative = SpeculativeOptions()
        gen.session.reset()
        let r = try gen.respond(to: messages, options: o)
        specTokens = r.tokens
        specStats = r.stats
        specDecode.append(r.stats.decodeSeconds)
    }, baseline: {
        gen.session.reset()
        let r = try gen.respond(to: messages, options: opts)
        plainTokens = r.tokens
        plainDecode.append(r.stats.decodeSeconds)
    })
    let specT = summarize(Array(specDecode.dropFirst())), plainT = summarize(Array(plainDecode.dropFirst()))
    let identical = specTokens == plainTokens
    let n = Double(max(specTokens.count - 1, 1))
    out.emit(BenchRecord(name: "llm speculative vs plain greedy decode, \(label) (\(specTokens.count) tokens)", unit: "s",
                         ours: specT.median, baselineName: "plain greedy decode", baseline: plainT.median,
                         threads: threads,
                         extra: ["tokens_per_s": n / specT.median, "baseline_tokens_per_s": n / plainT.median,
                                 "acceptance_rate": specStats.acceptanceRate, "identical_output": identical ? 1 : 0,
                                 "forwards": Double(specStats.decodeForwards), "drafted": Double(specStats.draftedTokens),
                                 "tokens_per_forward": Double(specStats.generatedTokens - 1) / Double(max(specStats.decodeForwards, 1)),
                                 "min": specT.min, "max": specT.max]))
    if !identical { out.note("llm: WARNING speculative output differs from plain greedy (\(label))") }
}

private func specNow() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
