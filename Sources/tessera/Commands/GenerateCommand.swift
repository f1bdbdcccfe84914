import ArgumentParser
import Foundation
import TesseraCLICore
import TesseraModels

/// Options shared by `tessera generate` and `tessera chat`.
struct ModelArguments: ParsableArguments {
    @Option(help: "GGUF model file (default: the reference model fetched by scripts/fetch-model).")
    var model: String?

    @Option(parsing: .unconditional, help: "Maximum tokens to generate.")
    var maxTokens = 256

    @Option(parsing: .unconditional, help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(parsing: .unconditional, help: "Top-k filter (0 = off).")
    var topK = 0

    @Option(parsing: .unconditional, help: "Top-p (nucleus) filter (1 = off).")
    var topP: Float = 1

    @Option(parsing: .unconditional, help: "Min-p filter (0 = off).")
    var minP: Float = 0

    @Option(parsing: .unconditional, help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1

    @Option(parsing: .unconditional, help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(help: "Prompt-lookup speculative decoding (lossless: same output, fewer forward passes).")
    var speculative = false

    @Option(parsing: .unconditional, help: "Context length (KV cache positions; default min(model context, 4096)).")
    var context: Int?

    @Option(parsing: .unconditionalSingleValue, help: "Stop when the output contains this text (repeatable).")
    var stop: [String] = []

    @Flag(help: "Keep generating past the model's end-of-turn tokens (until --max-tokens or the context is full).")
    var ignoreEos = false

    @Flag(help: "Use the Swift reference kernels instead of Tessera's C kernels (slow; for checking).")
    var reference = false

    @Option(help: ArgumentHelp(KVCacheOption.help, valueName: "f32|f16|bf16"))
    var kvCache: String = ModelOptions.defaultKVCache.name

    /// Everything that can be checked before the model is loaded.
    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be >= 0 (got \(maxTokens))") }
        if let context { guard context >= 2 else { throw ValidationError("--context must be >= 2 (got \(context))") } }
        _ = try KVCacheOption.parse(kvCache)
        do {
            _ = try Sampler(options: sampling)
        } catch {
            throw ValidationError("sampling options: \(error.message)")
        }
        _ = try resolvedModelPath()
    }

    var sampling: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP, repetitionPenalty: repeatPenalty, seed: seed)
    }

    func resolvedModelPath() throws -> String {
        if let model {
            guard FileManager.default.isReadableFile(atPath: model) else { throw ValidationError("cannot read the model file '\(model)'") }
            return model
        }
        let env = ProcessInfo.processInfo.environment
        let dir = env["TESSERA_MODEL_DIR"] ?? (NSHomeDirectory() + "/.cache/tessera/models")
        let path = dir + "/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no --model given and \(path) does not exist; run scripts/fetch-model first")
        }
        return path
    }

    func loadModel() throws -> LlamaModel {
        let path = try resolvedModelPath()
        var options = ModelOptions(backend: reference ? .reference : .kernels)
        options.kvCache = try KVCacheOption.parse(kvCache)
        return try LlamaModel(path: path, options: options)
    }

    var generationOptions: GenerationOptions {
        var o = GenerationOptions(maxTokens: maxTokens)
        o.sampling = sampling
        o.stopStrings = stop
        o.stopTokens = ignoreEos ? [] : nil
        o.speculative = speculative ? SpeculativeOptions() : nil
        return o
    }
}

/// `--kv-cache` of `tessera generate`, `chat` and `serve`.
enum KVCacheOption {
    static let help = "Element type of the K/V cache: f32, f16 (half the memory and attention reads) or bf16 (default \(ModelOptions.defaultKVCache.name))."

    /// The storage `value` names, or a ValidationError that lists the accepted values.
    static func parse(_ value: String) throws -> AttentionStorage {
        guard let s = AttentionStorage(name: value) else {
            throw ValidationError("--kv-cache must be f32, f16 or bf16 (got '\(value)')")
        }
        return s
    }
}

func printStats(_ s: GenerationStats, speculative: Bool) {
    var line = String(format: "\n[prompt %d tokens (%d cached), %.1f tokens/s | generated %d tokens, %.1f tokens/s",
                      s.promptTokens, s.cachedPromptTokens, s.promptTokensPerSecond, s.generatedTokens, s.tokensPerSecond)
    if speculative {
        line += String(format: " | speculative: %d forwards, acceptance %.0f%% (%d/%d drafted)",
                       s.decodeForwards, 100 * s.acceptanceRate, s.acceptedDraftTokens, s.draftedTokens)
    }
    line += " | stop: \(s.stopReason.rawValue)]\n"
    FileHandle.standardError.write(Data(line.utf8))
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with a GGUF Llama-family model, printing it as it is produced.",
        discussion: """
        Plain mode continues the prompt: stdout gets the prompt itself first (an echo, so the \
        output reads as one text), then the continuation as tokens arrive. With --chat the prompt \
        is the user's message, formatted with the model's chat template, and only the reply is \
        printed. At the end, prompt and generation speed (and with --speculative the draft \
        acceptance rate) go to stderr.
        For checking a model against another implementation: --ids gives the prompt as token ids \
        (no tokenizer), --print-ids prints the prompt's and the generated token ids instead of \
        text, --logits-top K prints the K largest raw logits of every generated position, and \
        --ignore-eos keeps going past end-of-turn tokens.
        """
    )

    @OptionGroup var args: ModelArguments

    @Option(parsing: .unconditional, help: "The prompt text.")
    var prompt: String?

    @Option(help: "The prompt as token ids, comma- or blank-separated (instead of --prompt; the tokenizer is not used, no BOS is added).")
    var ids: String?

    @Flag(help: "Print token ids instead of text: a 'prompt:' line and an 'output:' line (space-separated ids).")
    var printIds = false

    @Option(parsing: .unconditional, help: "After generating, print the K largest raw logits (id, piece, value) of every generated position.")
    var logitsTop: Int?

    @Flag(help: "Treat the prompt as a chat message (apply the chat template).")
    var chat = false

    @Option(parsing: .unconditional, help: "System prompt for --chat (default: the template's own, if any).")
    var system: String?

    @Flag(help: "With --speculative: first generate without speculation (output not printed), then report the decode speed-up and whether the outputs are identical.")
    var comparePlain = false

    func validate() throws {
        guard (prompt == nil) != (ids == nil) else { throw ValidationError("give the prompt as --prompt TEXT or as --ids 1,2,3 (one of them)") }
        if ids != nil {
            _ = try promptIDs()
            try refuse(chat, "--ids is the whole prompt as token ids; --chat applies a template to text (use --prompt)")
        }
        try refuse(system != nil && !chat, "--system applies to --chat")
        try refuse(comparePlain && !args.speculative, "--compare-plain compares --speculative with plain decoding; add --speculative")
        if let logitsTop { guard logitsTop >= 1 else { throw ValidationError("--logits-top must be >= 1 (got \(logitsTop))") } }
    }

    /// --ids parsed.
    func promptIDs() throws -> [Int] {
        let words = (ids ?? "").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "\n" })
        let v = words.map { Int($0) }
        guard !v.isEmpty, v.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw ValidationError("--ids '\(ids ?? "")': non-negative token ids, comma- or blank-separated")
        }
        return v.map { $0! }
    }

    func run() throws {
        let model = try args.loadModel()
        FileHandle.standardError.write(Data(String(format: "[%@: %d layers, %d-dim, %@; loaded in %.2f s; kernels: %@]\n",
            model.config.name, model.config.layers, model.config.embeddingLength,
            model.config.architecture, model.loadSeconds, model.kernelDescription).utf8))
        let gen = try Generator(model: model, contextLength: args.context)
        let options = args.generationOptions
        let promptTokens: [Int]
        if ids != nil {
            promptTokens = try promptIDs()
            if let bad = promptTokens.first(where: { $0 >= model.config.vocabularySize }) {
                throw ValidationError("--ids: token id \(bad) is outside the model's vocabulary (0..<\(model.config.vocabularySize))")
            }
        } else if chat {
            var messages = [ChatMessage]()
            if let system { messages.append(.system(system)) }
            messages.append(.user(prompt!))
            promptTokens = gen.chatTokens(messages)
        } else {
            promptTokens = gen.tokenizer.encode(prompt!, parseSpecial: options.parseSpecialTokens)
        }
        let printer: (GeneratedToken) -> Bool = { tok in
            if !printIds { FileHandle.standardOutput.write(Data(tok.text.utf8)) }
            return true
        }
        var plain: GenerationResult? = nil
        if comparePlain {
            var o = options
            o.speculative = nil
            plain = try gen.generate(tokens: promptTokens, options: o, onToken: { _ in true })
            gen.session.reset()
        }
        if printIds {
            print("prompt: " + promptTokens.map(String.init).joined(separator: " "))
        } else if !chat {
            // plain mode echoes the prompt, so that stdout reads as one text
            FileHandle.standardOutput.write(Data((prompt ?? gen.tokenizer.decode(promptTokens)).utf8))
        }
        let result = try gen.generate(tokens: promptTokens, options: options, onToken: printer)
        if printIds {
            print("output: " + result.tokens.map(String.init).joined(separator: " "))
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
        if let k = logitsTop { try printTopLogits(gen, prompt: promptTokens, generated: result.tokens, k: k) }
        printStats(result.stats, speculative: args.speculative)
        if let plain {
            let same = plain.tokens == result.tokens
            FileHandle.standardError.write(Data(String(format: "[plain: %.1f tokens/s; this run %.2fx; outputs %@]\n",
                plain.stats.tokensPerSecond, result.stats.tokensPerSecond / max(plain.stats.tokensPerSecond, 1e-9),
                same ? "identical" : "DIFFER").utf8))
        }
    }

    /// The K largest raw logits at every generated position, recomputed one token at a time over
    /// the same session (batch-invariant kernels: the logits generation saw).
    private func printTopLogits(_ gen: Generator, prompt: [Int], generated: [Int], k: Int) throws {
        guard !generated.isEmpty else { return }
        let session = gen.session
        session.reset()
        let vocab = session.vocabularySize
        var step = 0
        func report(_ l: UnsafeBufferPointer<Float>) {
            let top = (0..<vocab).sorted { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) }.prefix(k)
            let items = top.map { id in "\(id) \(gen.tokenizer.decode([id]).debugDescription) \(String(format: "%.4f", l[id]))" }
            print("logits \(step) (chose \(generated[step])): " + items.joined(separator: ", "))
            step += 1
        }
        try session.forward(prompt, logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in report(l) }
        for t in generated.dropLast() {
            try session.forward([t], logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in report(l) }
        }
    }
}
