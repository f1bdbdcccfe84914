import ArgumentParser
import Foundation
import TesseraModels

/// Options shared by `tessera generate` and `tessera chat`.
struct ModelArguments: ParsableArguments {
    @Option(help: "GGUF model file (default: the reference model fetched by scripts/fetch-model).")
    var model: String?

    @Option(help: "Maximum tokens to generate.")
    var maxTokens = 256

    @Option(help: "Sampling temperature (0 = greedy).")
    var temperature: Float = 0

    @Option(help: "Top-k filter (0 = off).")
    var topK = 0

    @Option(help: "Top-p (nucleus) filter (1 = off).")
    var topP: Float = 1

    @Option(help: "Min-p filter (0 = off).")
    var minP: Float = 0

    @Option(help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(help: "Prompt-lookup speculative decoding (lossless: same output, fewer forward passes).")
    var speculative = false

    @Option(help: "Context length (KV cache positions; default min(model context, 4096)).")
    var context: Int?

    @Option(help: "Stop when the output contains this text (repeatable).")
    var stop: [String] = []

    @Flag(help: "Use the Swift reference kernels instead of Tessera's C kernels (slow; for checking).")
    var reference = false

    func resolvedModelPath() throws -> String {
        if let model { return model }
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
        return try LlamaModel(path: path, options: ModelOptions(backend: reference ? .reference : .kernels))
    }

    var generationOptions: GenerationOptions {
        var o = GenerationOptions(maxTokens: maxTokens)
        o.sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                     repetitionPenalty: repeatPenalty, seed: seed)
        o.stopStrings = stop
        o.speculative = speculative ? SpeculativeOptions() : nil
        return o
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
        Prints the text on stdout as tokens arrive; at the end, prompt and generation speed \
        (and with --speculative the draft acceptance rate) on stderr. With --chat the prompt \
        is the user's message, formatted with the model's chat template.
        """
    )

    @OptionGroup var args: ModelArguments

    @Option(help: "The prompt text.")
    var prompt: String

    @Flag(help: "Treat the prompt as a chat message (apply the chat template).")
    var chat = false

    @Option(help: "System prompt for --chat (default: the template's own, if any).")
    var system: String?

    @Flag(help: "With --speculative: first generate without speculation (output not printed), then report the decode speed-up and whether the outputs are identical.")
    var comparePlain = false

    func run() throws {
        let model = try args.loadModel()
        FileHandle.standardError.write(Data(String(format: "[%@: %d layers, %d-dim, %@; loaded in %.2f s; kernels: %@]\n",
            model.config.name, model.config.layers, model.config.embeddingLength,
            model.config.architecture, model.loadSeconds, model.kernelDescription).utf8))
        let gen = try Generator(model: model, contextLength: args.context)
        let options = args.generationOptions
        let printer: (GeneratedToken) -> Bool = { tok in
            FileHandle.standardOutput.write(Data(tok.text.utf8))
            return true
        }
        var messages = [ChatMessage]()
        if let system { messages.append(.system(system)) }
        messages.append(.user(prompt))
        var plain: GenerationResult? = nil
        if comparePlain {
            var o = options
            o.speculative = nil
            plain = chat ? try gen.respond(to: messages, options: o) : try gen.generate(prompt: prompt, options: o)
            gen.session.reset()
        }
        let result: GenerationResult
        if chat {
            result = try gen.respond(to: messages, options: options, onToken: printer)
        } else {
            FileHandle.standardOutput.write(Data(prompt.utf8))
            result = try gen.generate(prompt: prompt, options: options, onToken: printer)
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
        printStats(result.stats, speculative: args.speculative)
        if let plain {
            let same = plain.tokens == result.tokens
            FileHandle.standardError.write(Data(String(format: "[plain: %.1f tokens/s; this run %.2fx; outputs %@]\n",
                plain.stats.tokensPerSecond, result.stats.tokensPerSecond / max(plain.stats.tokensPerSecond, 1e-9),
                same ? "identical" : "DIFFER").utf8))
        }
    }
}
