import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import TesseraModels

/// Settings of the HTTP side of `tessera serve`.
public struct ServerOptions: Sendable {
    /// Address to bind (127.0.0.1 by default: loopback only).
    public var host = "127.0.0.1"
    /// Port (0: any free port; `onListening` tells which).
    public var port = 8080
    /// Clients must send `Authorization: Bearer <apiKey>` (nil: no key needed).
    public var apiKey: String? = nil
    /// The id clients name in `model` (default: the file name without `.gguf`).
    public var modelID: String
    /// Largest request body, bytes (more: 413).
    public var maxBodyBytes = 1 << 20
    /// A connection that sends nothing for this long while its request is read (or idles
    /// between requests) is closed; a body must arrive within it (408).
    public var readTimeoutSeconds = 30.0
    /// Prompt-lookup speculative decoding for requests that do not say (`"speculative"`).
    public var speculative = false

    /// Options for a model served under `modelID`.
    public init(modelID: String) { self.modelID = modelID }
}

/// The OpenAI-compatible HTTP API over a `ServeEngine`.
public struct ServeServer: Sendable {
    /// The engine requests go to.
    public let engine: ServeEngine
    /// The HTTP settings.
    public let options: ServerOptions
    let served: ServedModel

    /// A server for `engine` with `options`.
    public init(engine: ServeEngine, options: ServerOptions) {
        self.engine = engine
        self.options = options
        served = ServedModel(id: options.modelID, tokenizer: engine.model.tokenizer, template: engine.model.chatTemplate,
                             context: engine.options.context, speculativeDefault: options.speculative)
    }

    /// The router with every endpoint (also what the in-process tests drive).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: OpenAIErrorMiddleware())
        router.add(middleware: APIKeyMiddleware(key: options.apiKey))
        let s = self
        router.get("/health") { _, _ in s.health() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: s.engine.metrics.exposition())))
        }
        router.get("/v1/models") { _, _ in s.models() }
        router.get("/v1/models/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard id == s.options.modelID else {
                throw APIError(.notFound, "The model '\(id)' does not exist", param: "model", code: "model_not_found")
            }
            return JSON.response(s.modelObject)
        }
        router.post("/v1/chat/completions") { req, _ in try await s.complete(req, chat: true) }
        router.post("/v1/completions") { req, _ in try await s.complete(req, chat: false) }
        router.post("/tokenize") { req, _ in try await s.tokenize(req) }
        router.post("/detokenize") { req, _ in try await s.detokenize(req) }
        return router
    }

    /// Makes the event loop that serves the connections Swift concurrency's global executor, so a
    /// streamed token goes from the engine to the socket through one thread (the connection's
    /// loop) instead of a concurrency thread and then the loop: fewer threads woken per token
    /// beside the forward. The group has one loop (unless `NIO_SINGLETON_GROUP_LOOP_COUNT` says
    /// otherwise): a task the engine resumes goes to any loop of the group, so with two loops half
    /// the tokens were written by one loop and handed to the connection's other loop — two
    /// threads woken per token where one does, on a machine whose cores run the forward. The HTTP
    /// side costs well under a tenth of a core even at 16 streams, so one loop is not a limit.
    /// Call it once, on the main thread, before any task or event loop has started
    /// (`tessera serve` does); false when that was too late or is not supported here.
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool {
        if ProcessInfo.processInfo.environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] == nil {
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Runs the server until the process gets SIGINT/SIGTERM; `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(options.readTimeoutSeconds * 1000)))),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "tessera"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) })
        try await app.runService()
    }

    // MARK: endpoints

    var modelObject: [String: Any] {
        ["id": options.modelID, "object": "model", "created": 0, "owned_by": "tessera",
         "context_length": engine.options.context, "parallel": engine.options.parallel]
    }

    func models() -> Response { JSON.response(["object": "list", "data": [modelObject]]) }

    func health() -> Response {
        JSON.response(["status": "ok", "model": options.modelID, "slots": engine.options.parallel,
                       "queue": engine.queueDepth])
    }

    /// The body's bytes, within the size limit (413) and the read timeout (408).
    func body(_ requestBody: RequestBody) async throws -> ByteBuffer {
        let limit = options.maxBodyBytes, timeout = options.readTimeoutSeconds
        let buffer: ByteBuffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do { return try await requestBody.collect(upTo: limit) } catch let e as HTTPError where e.status == .contentTooLarge {
                    throw APIError(.contentTooLarge, "the request body is larger than \(limit) bytes", code: "body_too_large")
                }
            }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let b = first else { throw APIError(.requestTimeout, "the request body did not arrive in \(Int(timeout)) s", code: "timeout") }
            return b
        }
        return buffer
    }

    /// Bodies of at least this many bytes are parsed and tokenized on `parsingPool`, off the
    /// event loop. The connections' one loop also writes every streamed token: a 900 KiB
    /// `/tokenize` body held it, and every stream with it, for 3–6 s. Smaller bodies (a chat turn)
    /// stay on the loop, where the hop to another thread would cost more than the work.
    static let offloadBodyBytes = 4096

    /// Nice value of `parsingPool`'s thread. The forward runs on every core; a large body parsed
    /// at the same priority takes a core from it (and, with barriers between the forward's
    /// regions, slows the whole step), so large bodies get the cores' spare time first.
    static let parsingNice: Int32 = 10

    /// One thread, niced: large bodies are parsed one at a time, so however many arrive at once
    /// they take at most one core's spare time, and queue behind each other, not behind the
    /// streams.
    static let parsingPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// `work` on the body as a JSON object: on the calling task below `offloadBodyBytes`, on
    /// `parsingPool` at or above it (the event loop serves the other connections meanwhile).
    /// Errors are `work`'s or the JSON's own `APIError`s either way.
    static func parsing<T: Sendable>(_ buffer: ByteBuffer,
                                     _ work: @escaping @Sendable (RequestFields) throws(APIError) -> T) async throws -> T {
        let run: @Sendable () throws(APIError) -> T = { try work(RequestFields(object: try JSON.object(buffer))) }
        if buffer.readableBytes < offloadBodyBytes { return try run() }
        return try await parsingPool.runIfActive {
            lowerThisThreadsPriority(to: parsingNice)
            return try run()
        }
    }

    /// Sets the calling thread's nice value (Linux: the value is per thread, and `who` 0 is the
    /// calling thread). Raising it needs no privilege; it is never lowered again, so setting it
    /// on every call is idempotent. Elsewhere, nothing.
    static func lowerThisThreadsPriority(to nice: Int32) {
        #if os(Linux)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        if getpriority(which, 0) < nice { _ = setpriority(which, 0, nice) }
        #endif
    }

    func tokenize(_ req: Request) async throws -> Response {
        let served = self.served, modelID = options.modelID
        return try await ServeServer.parsing(try await body(req.body)) { f throws(APIError) in
            JSON.response(try ServeServer.tokenized(f, served: served, modelID: modelID))
        }
    }

    func detokenize(_ req: Request) async throws -> Response {
        let served = self.served
        return try await ServeServer.parsing(try await body(req.body)) { f throws(APIError) in
            JSON.response(try ServeServer.detokenized(f, served: served))
        }
    }

    /// The `/tokenize` response for a request body: `content` (or `prompt`) as token ids.
    static func tokenized(_ f: RequestFields, served: ServedModel, modelID: String) throws(APIError) -> [String: Any] {
        let content = try f.string("content"), prompt = try f.string("prompt")
        guard let text = content ?? prompt else { throw APIError.field("content", "is required") }
        let special = try f.bool("add_special"), parseSpecial = try f.bool("parse_special")
        let ids = served.tokenizer.encode(text, addBOS: special ?? false, parseSpecial: parseSpecial ?? true)
        return ["tokens": ids, "count": ids.count, "model": modelID]
    }

    /// The `/detokenize` response for a request body: the text of `tokens`, every id checked.
    static func detokenized(_ f: RequestFields, served: ServedModel) throws(APIError) -> [String: Any] {
        guard let raw = f.object["tokens"] as? [Any] else { throw APIError.field("tokens", "must be an array of token ids") }
        let vocab = served.tokenizer.vocabularySize
        var ids: [Int] = []
        for e in raw {
            guard !(e is String), let n = e as? Int, n >= 0, n < vocab else {
                throw APIError.field("tokens", "every token id must be an integer in 0..<\(vocab)")
            }
            ids.append(n)
        }
        return ["content": served.tokenizer.decode(ids, skipSpecial: false)]
    }

    /// A completion. The body is read first (within the size limit and the read timeout); then
    /// the generation — a whole response, or the Server-Sent Events of a streamed one — runs
    /// inside Hummingbird's inbound-close watch, so a client that goes away cancels its
    /// sequence at once (the engine frees its slot within one step), streamed or not.
    /// Hummingbird closes the connection after a response made under that watch: the response
    /// says so (`Connection: close`), or a client would send its next request on a closing socket.
    func complete(_ req: Request, chat: Bool) async throws -> Response {
        var request = req
        let bytes = try await body(request.body)
        // the collected bytes replace the body; the request keeps the connection's inbound
        // stream, which the watch below reads to the end (a close ends it)
        request.body = RequestBody(buffer: ByteBuffer())
        let served = self.served
        let call = try await ServeServer.parsing(bytes) { f throws(APIError) in try CompletionCall(f, chat: chat, model: served) }
        var headers: HTTPFields = [.connection: "close"]
        if call.capped, let name = HTTPFields.cappedName { headers[name] = String(call.request.maxTokens) }
        let engine = self.engine
        if call.stream {
            // the engine's events and the keep-alive ticks share one stream: a token reaches
            // the writer in one hop from the engine thread
            let (events, sink) = AsyncStream<EngineEvent?>.makeStream()
            let pace = StreamPace(engine.pacing)
            let id: UInt64
            do {
                id = try engine.submit(call.request, sink: .eventsAndTicks(sink, pace: pace))
            } catch {
                throw ServeServer.apiError(error)
            }
            let shaper = ResponseShaper(call: call, modelID: options.modelID, tokenizer: served.tokenizer, serial: id)
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            let watched = request.body
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                try await watched.consumeWithInboundCloseHandler { _ in
                    try await SSEStream(shaper: shaper, events: events, ticks: sink, pace: pace).write(to: &writer)
                } onInboundClosed: {
                    engine.cancel(id)
                }
            })
        }
        let submitted: (id: UInt64, events: AsyncStream<EngineEvent>)
        do {
            submitted = try engine.submit(call.request)
        } catch {
            throw ServeServer.apiError(error)
        }
        let id = submitted.id, events = submitted.events
        let shaper = ResponseShaper(call: call, modelID: options.modelID, tokenizer: served.tokenizer, serial: id)
        let (completion, logprobs) = try await request.body.consumeWithInboundCloseHandler { _ in
            await ServeServer.collect(events)
        } onInboundClosed: {
            engine.cancel(id)
        }
        if completion.reason == .error {
            var e = APIError(.internalServerError, "generation failed: \(completion.error ?? "unknown")", type: "server_error")
            e.closesConnection = true
            throw e
        }
        return JSON.response(shaper.full(completion, logprobs: logprobs), headers: headers)
    }

    static func collect(_ events: AsyncStream<EngineEvent>) async -> (Completion, [TokenLogprob]) {
        var lps: [TokenLogprob] = []
        for await e in events {
            switch e {
            case .token(let t): if let lp = t.logprob { lps.append(lp) }
            case .finished(let c): return (c, lps)
            }
        }
        return (Completion(reason: .cancelled, promptTokens: 0, cachedTokens: 0, completionTokens: 0, tokens: [],
                           text: "", tail: "", maxTokens: 0, error: nil), lps)
    }

    static func apiError(_ e: SubmitError) -> APIError {
        switch e {
        case .queueFull(let after):
            return APIError(.tooManyRequests, "the server is busy: every slot is taken and the queue is full; retry after \(after) s",
                            type: "server_overloaded", code: "queue_full", retryAfter: after)
        case .promptTooLong(let n, let ctx):
            return APIError(.badRequest, "This model's context is \(ctx) tokens per request; the prompt has \(n) tokens.",
                            param: "messages", code: "context_length_exceeded")
        case .invalidPrompt(let m): return APIError(.badRequest, m, param: "prompt")
        case .invalidSampling(let m): return APIError(.badRequest, m, code: "invalid_value")
        case .shutDown: return APIError(.serviceUnavailable, "the server is shutting down", type: "server_error", retryAfter: 5)
        }
    }
}

/// Writes the engine's events as Server-Sent Events, ending with `data: [DONE]`. While no token
/// comes for a second (the request waits for a slot, or its prompt is being read) an SSE comment
/// goes out, which keeps proxies from timing the stream out: a timer yields `nil` into the
/// events' own stream (`ticks`) every second. A plain token's chunk is the request's chunk
/// bytes around the escaped text (`ResponseShaper.textChunk`), not a dictionary serialised per
/// token. (A client that goes away is seen by the inbound-close watch around this writer; a
/// failed write also drops the event stream, which cancels the request as well.)
struct SSEStream {
    let shaper: ResponseShaper
    let events: AsyncStream<EngineEvent?>
    let ticks: AsyncStream<EngineEvent?>.Continuation
    /// Told after each token event is written (the engine waits for it between steps).
    let pace: StreamPace

    func write(to writer: inout any ResponseBodyWriter) async throws {
        func send(_ o: Any) async throws {
            var b = ByteBuffer(string: "data: ")
            b.writeBytes(JSON.encode(o))
            b.writeString("\n\n")
            try await writer.write(b)
        }
        let ticks = self.ticks
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: 1_000_000_000)
                ticks.yield(nil)
            }
        }
        defer { heartbeat.cancel() }
        if shaper.call.chat { try await send(shaper.chunk(text: "", role: true)) }
        let plain = TextChunkTemplate(shaper)
        var offset = 0, sinceLastWrite = 0
        for await item in events {
            guard let e = item else {
                sinceLastWrite += 1
                if sinceLastWrite >= 1 { try await writer.write(ByteBuffer(string: ": keep-alive\n\n")) }
                continue
            }
            sinceLastWrite = -1
            switch e {
            case .token(let t):
                defer { pace.wrote() }
                // a token whose text is held back (stop-string prefix, partial character) still carries its logprobs
                if t.text.isEmpty && t.logprob == nil { continue }
                if let lp = t.logprob {
                    try await send(shaper.chunk(text: t.text, logprobs: [lp], textOffset: offset))
                } else {
                    try await writer.write(plain.event(t.text))
                }
                offset += t.text.utf16.count
            case .finished(let c):
                if c.reason == .cancelled { return }
                if c.reason == .error {
                    try await send(APIError(.internalServerError, "generation failed: \(c.error ?? "unknown")", type: "server_error").body)
                } else {
                    if !c.tail.isEmpty { try await send(shaper.chunk(text: c.tail, textOffset: offset)) }
                    try await send(shaper.chunk(text: nil, finish: c.reason, usage: c))
                    if shaper.call.includeUsage { try await send(shaper.usageChunk(c)) }
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
                return
            }
        }
    }
}

extension HTTPFields {
    /// The header that states a `max_tokens` capped by the context.
    static let cappedName = Element.Name("X-Max-Tokens-Capped")
}
