import ArgumentParser
import Foundation
import Synchronization
import TesseraModels

/// Set by SIGINT while a reply is being generated (the reply stops; the chat goes on).
private let replyInterrupted = Atomic<Bool>(false)

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Interactive chat with a GGUF model (/help lists the commands; /exit or EOF quits).",
        discussion: """
        Each reply is streamed as it is generated; Ctrl-C stops the reply (not the chat). The \
        conversation stays in the KV cache, so every turn only computes the new tokens. On a \
        terminal, lines can be edited and earlier ones recalled with the arrow keys (libedit, \
        Debian package libedit2, when installed). Lines starting with / are commands, never \
        sent to the model (start a message with // to send a literal /). Speed figures go to \
        stderr after each reply.
        """
    )

    @OptionGroup var args: ModelArguments

    @Option(parsing: .unconditional, help: "System prompt (default: the template's own, if any).")
    var system: String?

    static let help = """
        /help    this list
        /reset   forget the conversation (start over)
        /exit    quit (also /quit, or end of input: Ctrl-D)
        Ctrl-C   stop the reply being generated
        //text   send "/text" to the model
        """

    func run() throws {
        let model = try args.loadModel()
        let gen = try Generator(model: model, contextLength: args.context)
        var messages = [ChatMessage]()
        if let system { messages.append(.system(system)) }
        let start = messages
        let interactive = isatty(0) != 0
        let editor = LineEditor(interactive: interactive)
        FileHandle.standardError.write(Data("[\(model.config.name) ready; /help lists the commands, /exit quits]\n".utf8))
        while true {
            guard let line = editor.next(prompt: interactive ? "> " : "") else { break }
            var text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text.hasPrefix("//") {
                text.removeFirst()
            } else if text.hasPrefix("/") {
                switch text.split(separator: " ").first.map(String.init) ?? text {
                case "/exit", "/quit": return
                case "/reset": messages = start; gen.session.reset(); FileHandle.standardError.write(Data("[conversation cleared]\n".utf8))
                case "/help": print(Self.help)
                default: FileHandle.standardError.write(Data("[unknown command \(text); /help lists them]\n".utf8))
                }
                continue
            }
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

    /// One streamed reply (a Result, so the caller can recover from a full context). SIGINT
    /// during it stops the reply at the next token (stop reason `cancelled`).
    private func reply(_ gen: Generator, _ messages: [ChatMessage]) -> Result<GenerationResult, TesseraError> {
        replyInterrupted.store(false, ordering: .relaxed)
        let previous = signal(SIGINT) { _ in replyInterrupted.store(true, ordering: .relaxed) }
        // a parent may have started us with SIGINT blocked (threads of libdispatch block it)
        var sigint = sigset_t(), mask = sigset_t()
        sigemptyset(&sigint)
        sigaddset(&sigint, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &sigint, &mask)
        defer {
            signal(SIGINT, previous)
            pthread_sigmask(SIG_SETMASK, &mask, nil)
        }
        return Result { () throws(TesseraError) -> GenerationResult in
            try gen.respond(to: messages, options: args.generationOptions) { tok in
                if replyInterrupted.load(ordering: .relaxed) { return false }
                FileHandle.standardOutput.write(Data(tok.text.utf8))
                return true
            }
        }
    }
}
