import Foundation
import Tessera
import TesseraModels

/// `tessera bench llm`, speculative part: plain vs speculative greedy decoding on a copy-heavy
/// prompt (same generator, interleaved A/B), with the acceptance rate and an output-identity check.
func runModelsSpeculativeCase(_ ctx: BenchContext, generator gen: Generator, threads: Int) throws {
    let out = ctx.output
    // ---- plain vs speculative greedy on a copy-heavy prompt
    let paragraph = "Alice and Bob walked to the old mill by the river, where Alice told Bob about the summer she spent in Lisbon with her cousin Maria, who worked at a bakery near the cathedral. Every morning Maria baked bread for the whole street, and Alice helped her carry the baskets to the market."
    let messages: [ChatMessage] = [.user("Repeat the following paragraph with every name changed (Alice to Emma, Bob to Tom, Maria to Sofia, Lisbon to Porto): \(paragraph)")]
    var opts = GenerationOptions(maxTokens: ctx.quick ? 48 : 128)
    var plainTokens = [Int](), specTokens = [Int]()
    var specStats = GenerationStats()
    var specDecode = [Double](), plainDecode = [Double]()
    // decode phase only (prefill is the same for both and reported above)
    _ = try measurePairs(repeats: ctx.quick ? 2 : 5, warmup: 1, ours: {
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
    out.emit(BenchRecord(name: "llm speculative vs plain greedy decode, copy-heavy chat (\(specTokens.count) tokens)", unit: "s",
                         ours: specT.median, baselineName: "plain greedy decode", baseline: plainT.median,
                         threads: threads,
                         extra: ["tokens_per_s": n / specT.median, "baseline_tokens_per_s": n / plainT.median,
                                 "acceptance_rate": specStats.acceptanceRate, "identical_output": identical ? 1 : 0,
                                 "forwards": Double(specStats.decodeForwards), "drafted": Double(specStats.draftedTokens),
                                 "min": specT.min, "max": specT.max]))
    if !identical { out.note("llm: WARNING speculative output differs from plain greedy") }
}
