import ArgumentParser
import Foundation
import TesseraModels
import TesseraServe

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a GGUF model over an OpenAI-compatible HTTP API, with continuous batching.",
        discussion: """
        Endpoints: POST /v1/chat/completions, POST /v1/completions (stream: true for Server-Sent \
        Events), GET /v1/models, GET /health, GET /metrics (Prometheus), POST /tokenize, \
        POST /detokenize. All active requests decode together, one forward per step; a new \
        prompt's prefill is chunked into the steps (--step-tokens). Each of the --parallel slots \
        holds a K/V cache of --ctx positions; requests beyond them wait (up to --queue), then get \
        429 with Retry-After. A request's tokens (greedy, or sampled with a seed) do not depend on \
        the other requests. Binds 127.0.0.1 unless --host says otherwise. Prints \
        "listening on http://HOST:PORT" on stdout once it accepts connections.
        """
    )

    @Option(help: "GGUF model file (default: the reference model fetched by scripts/fetch-model).")
    var model: String?

    @Option(help: "Address to bind (use 0.0.0.0 to accept other machines).")
    var host = "127.0.0.1"

    @Option(help: "TCP port (0: any free port).")
    var port = 8080

    @Option(help: "Sequences decoding at once (K/V slots).")
    var parallel = 4

    @Option(help: "Context length of each slot (prompt + completion tokens).")
    var ctx = 2048

    @Option(help: "Tokens per engine step: one per decoding sequence, the rest for prefill chunks.")
    var stepTokens = 128

    @Option(help: "Requests that may wait for a slot before the server answers 429.")
    var queue = 64

    @Option(help: "Require 'Authorization: Bearer KEY' (default: the TESSERA_API_KEY environment variable, else none).")
    var apiKey: String?

    @Option(help: "Model id clients name in 'model' (default: the file name without .gguf).")
    var modelName: String?

    @Option(help: "Largest request body in bytes (413 beyond).")
    var maxBodyBytes = 1 << 20

    @Option(help: "Seconds a client may take to send its request (or idle between requests) before it is disconnected.")
    var readTimeout = 30.0

    @Flag(help: "Prompt-lookup speculative decoding for requests that do not set \"speculative\" (lossless).")
    var speculative = false

    @Option(help: ArgumentHelp(KVCacheOption.help, valueName: "f32|f16|bf16"))
    var kvCache: String = ModelOptions.defaultKVCache.name

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard parallel >= 1, parallel <= 256 else { throw ValidationError("--parallel must be in 1...256") }
        guard ctx >= 16 else { throw ValidationError("--ctx must be >= 16") }
        guard stepTokens >= 1 else { throw ValidationError("--step-tokens must be >= 1") }
        guard queue >= 0 else { throw ValidationError("--queue must be >= 0") }
        guard readTimeout > 0, readTimeout <= 3600 else { throw ValidationError("--read-timeout must be in (0, 3600]") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be >= 1024") }
        _ = try KVCacheOption.parse(kvCache)
    }

    func run() throws {
        // before any task: the connections' event loops run the server's tasks too
        ServeServer.runTasksOnEventLoops()
        // the same model lookup as `tessera generate` (--model, else the fetched reference model)
        let path = try ModelArguments.parse(model.map { ["--model", $0] } ?? []).resolvedModelPath()
        var modelOptions = ModelOptions()
        modelOptions.kvCache = try KVCacheOption.parse(kvCache)
        let llm = try LlamaModel(path: path, options: modelOptions)
        let engine = try ServeEngine(model: llm, options: EngineOptions(parallel: parallel, context: min(ctx, llm.config.contextLength),
                                                                        stepTokens: stepTokens, maxQueue: queue))
        var o = ServerOptions(modelID: modelName ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent)
        o.host = host
        o.port = port
        o.apiKey = apiKey ?? ProcessInfo.processInfo.environment["TESSERA_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        o.maxBodyBytes = maxBodyBytes
        o.speculative = speculative
        o.readTimeoutSeconds = readTimeout
        let server = ServeServer(engine: engine, options: o)
        let host = self.host, id = o.modelID, slots = parallel, context = engine.options.context, cacheType = llm.kvCache.name
        let done = DispatchSemaphore(value: 0)
        let failure = LockedError()
        Task.detached {
            do {
                try await server.run { port in
                    // one write, unbuffered: scripts wait for this line
                    FileHandle.standardOutput.write(Data("listening on http://\(host):\(port) (model \(id), \(slots) slots x \(context) tokens, kv cache \(cacheType))\n".utf8))
                }
            } catch {
                failure.set(error)
            }
            engine.shutdown()
            done.signal()
        }
        done.wait()
        if let e = failure.get() { throw e }
    }
}

/// An error handed from the server task to the command's thread.
final class LockedError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?
    func set(_ e: Error) { lock.lock(); error = e; lock.unlock() }
    func get() -> Error? { lock.lock(); defer { lock.unlock() }; return error }
}
