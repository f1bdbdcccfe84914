import ArgumentParser
import Foundation
import TesseraModels

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Interactive chat with a GGUF model (type /reset to start over, /exit or EOF to quit).",
        discussion: """
        Each reply is streamed as it is generated. The conversation stays in the KV cache, so \
        every turn only computes the new tokens. Speed figures go to stderr after each reply.
        """
    )

    @OptionGroup var args: ModelArguments

    @Option(help: "System prompt (default: the template's own, if any).")
    var system: String?

    func run() throws {
        let model = try args.loadModel()
        let gen = try Generator(model: model, contextLength: args.context)
        var messages = [ChatMessage]()
        if let system { messages.append(.system(system)) }
        let start = messages
        let interactive = isatty(0) != 0
        FileHandle.standardError.write(Data("[\(model.config.name) ready; /reset clears the conversation, /exit quits]\n".utf8))
        while true {
            if interactive { FileHandle.standardOutput.write(Data("> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" { messages = start; gen.session.reset(); continue }
            messages.append(.user(text))
            var outcome = reply(gen, messages)
            if case .failure(.outOfRange) = outcome {
                FileHandle.standardError.write(Data("[context full: starting a new conversation]\n".utf8))
                messages = start + [.user(text)]
                gen.session.reset()
                outcome = reply(gen, messages)
            }
            switch outcome {
            case .success(let r):
                FileHandle.standardOutput.write(Data("\n".utf8))
                messages.append(.assistant(r.text))
                printStats(r.stats, speculative: args.speculative)
            case .failure(let e):
                throw e
            }
        }
    }

    /// One streamed reply (a Result, so the caller can recover from a full context).
    private func reply(_ gen: Generator, _ messages: [ChatMessage]) -> Result<GenerationResult, TesseraError> {
        Result { () throws(TesseraError) -> GenerationResult in
            try gen.respond(to: messages, options: args.generationOptions) { tok in
                FileHandle.standardOutput.write(Data(tok.text.utf8))
                return true
            }
        }
    }
}
