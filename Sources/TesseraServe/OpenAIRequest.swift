import TesseraModels

/// What the server knows of its model when it reads a request.
struct ServedModel: Sendable {
    /// The id clients name in `model` (and `GET /v1/models` lists).
    let id: String
    let tokenizer: Tokenizer
    let template: ChatTemplate
    /// Context of one slot.
    let context: Int
    /// Whether `--speculative` made prompt-lookup decoding the default.
    let speculativeDefault: Bool
}

/// A `/v1/chat/completions` or `/v1/completions` body, checked and tokenized.
struct CompletionCall: Sendable {
    var request: GenerationRequest
    var chat: Bool
    var stream: Bool
    var includeUsage: Bool
    /// `max_tokens` as asked (nil: not given); `request.maxTokens` is what will run.
    var askedMaxTokens: Int?

    /// Whether the cap by the context lowered what the client asked for.
    var capped: Bool { askedMaxTokens.map { $0 > request.maxTokens } ?? false }

    /// Reads the body. Errors name the field; a prompt over the context is a 400 with the counts.
    init(_ f: RequestFields, chat: Bool, model: ServedModel) throws(APIError) {
        self.chat = chat
        guard let name = try f.string("model") else { throw APIError.field("model", "is required") }
        guard name == model.id || name == model.id + ".gguf" else {
            throw APIError(.notFound, "The model '\(name)' does not exist; this server serves '\(model.id)'",
                           param: "model", code: "model_not_found")
        }
        if let n = try f.int("n", in: 1...1_000_000), n != 1 { throw APIError.field("n", "only n = 1 is supported") }
        let prompt: [Int]
        if chat {
            prompt = try CompletionCall.chatPrompt(f, model: model)
        } else {
            prompt = try CompletionCall.textPrompt(f, model: model)
        }
        let promptField = chat ? "messages" : "prompt"
        guard !prompt.isEmpty else { throw APIError.field(promptField, "gives no tokens") }
        guard prompt.count < model.context else {
            throw APIError(.badRequest,
                           "This model's context is \(model.context) tokens per request; the prompt has \(prompt.count) tokens, which leaves no room for a completion. Shorten the \(promptField).",
                           param: promptField, code: "context_length_exceeded")
        }
        let room = model.context - prompt.count
        var asked = try f.int("max_completion_tokens", in: 0...Int(Int32.max))
        if asked == nil { asked = try f.int("max_tokens", in: 0...Int(Int32.max)) }
        askedMaxTokens = asked
        let maxTokens = min(asked ?? (chat ? room : 16), room)

        var s = SamplingOptions()
        s.temperature = Float(try f.number("temperature", { $0 >= 0 && $0 <= 2 }, "must be in 0...2") ?? 1)
        s.topP = Float(try f.number("top_p", { $0 > 0 && $0 <= 1 }, "must be in (0, 1]") ?? 1)
        s.topK = try f.int("top_k", in: 0...1_000_000) ?? 0
        s.minP = Float(try f.number("min_p", { $0 >= 0 && $0 < 1 }, "must be in [0, 1)") ?? 0)
        s.repetitionPenalty = Float(try f.number("repetition_penalty", { $0 > 0 && $0 <= 10 }, "must be in (0, 10]") ?? 1)
        s.seed = try f.seed("seed") ?? (s.temperature > 0 ? UInt64.random(in: 0...UInt64.max) : 0)
        let presence = Float(try f.number("presence_penalty", { abs($0) <= 2 }, "must be in -2...2") ?? 0)
        let frequency = Float(try f.number("frequency_penalty", { abs($0) <= 2 }, "must be in -2...2") ?? 0)

        var top: Int? = nil
        if chat {
            if try f.bool("logprobs") == true { top = try f.int("top_logprobs", in: 0...20) ?? 0 } else if f.has("top_logprobs") {
                _ = try f.int("top_logprobs", in: 0...20)
            }
        } else {
            top = try f.int("logprobs", in: 0...20)
        }
        stream = try f.bool("stream") ?? false
        includeUsage = try f.object("stream_options")?.bool("include_usage") ?? false
        let speculative = try f.bool("speculative") ?? model.speculativeDefault
        let stops = try f.stops("stop")
        var stopTokens: Set<Int>? = nil
        if try f.bool("ignore_eos") == true { stopTokens = [] }
        request = GenerationRequest(prompt: prompt, maxTokens: maxTokens, sampling: s, presencePenalty: presence,
                                    frequencyPenalty: frequency, stop: stops, stopTokens: stopTokens,
                                    topLogprobs: top, speculative: speculative)
    }

    /// `messages`: roles system/developer/user/assistant; content a string or text parts.
    static func chatPrompt(_ f: RequestFields, model: ServedModel) throws(APIError) -> [Int] {
        guard f.has("messages") else { throw APIError.field("messages", "is required") }
        guard let raw = f.object["messages"] as? [Any], !raw.isEmpty else {
            throw APIError.field("messages", "must be a non-empty array of messages")
        }
        var messages: [ChatMessage] = []
        for (i, m) in raw.enumerated() {
            let at = "messages[\(i)]"
            guard let o = m as? [String: Any] else { throw APIError.field(at, "must be an object") }
            let mf = RequestFields(object: o)
            let roleName = try mf.string("role")
            let role: ChatMessage.Role
            switch roleName {
            case "system", "developer": role = .system
            case "user": role = .user
            case "assistant": role = .assistant
            default: throw APIError.field(at + ".role", "must be system, developer, user or assistant")
            }
            var text = ""
            if let s = o["content"] as? String {
                text = s
            } else if let parts = o["content"] as? [Any] {
                for (j, p) in parts.enumerated() {
                    guard let po = p as? [String: Any], po["type"] as? String == "text", let t = po["text"] as? String else {
                        throw APIError.field(at + ".content[\(j)]", "only text parts ({\"type\": \"text\", \"text\": ...}) are supported")
                    }
                    text += t
                }
            } else if !(role == .assistant && !mf.has("content")) {
                throw APIError.field(at + ".content", "must be a string or an array of text parts")
            }
            messages.append(ChatMessage(role: role, content: text))
        }
        let text = model.template.render(messages)
        try refuseIfSurelyOverContext(text, field: "messages", model: model)
        return model.tokenizer.encode(text, addBOS: false, parseSpecial: true)
    }

    /// A prompt text whose byte count alone shows it cannot fit the context is refused before it
    /// is tokenized: a body of up to the size limit takes seconds to tokenize, on the one thread
    /// that large bodies share (`ServeServer.parsingPool`).
    static func refuseIfSurelyOverContext(_ text: String, field: String, model: ServedModel) throws(APIError) {
        let bytes = text.utf8.count, atLeast = model.tokenizer.fewestTokens(utf8Count: bytes)
        guard atLeast < model.context else {
            throw APIError(.badRequest,
                           "This model's context is \(model.context) tokens per request; the prompt has at least \(atLeast) tokens (\(bytes) bytes, and no token of this model stands for more than \(model.tokenizer.longestTokenBytes) bytes), which leaves no room for a completion. Shorten the \(field).",
                           param: field, code: "context_length_exceeded")
        }
    }

    /// `prompt`: a string, an array of one string, or an array of token ids.
    static func textPrompt(_ f: RequestFields, model: ServedModel) throws(APIError) -> [Int] {
        guard f.has("prompt") else { throw APIError.field("prompt", "is required") }
        let v = f.object["prompt"]!
        if let s = v as? String {
            try refuseIfSurelyOverContext(s, field: "prompt", model: model)
            return model.tokenizer.encode(s, parseSpecial: true)
        }
        guard let a = v as? [Any], !a.isEmpty else { throw APIError.field("prompt", "must be a string, or an array of token ids") }
        if a.count == 1, let s = a[0] as? String {
            try refuseIfSurelyOverContext(s, field: "prompt", model: model)
            return model.tokenizer.encode(s, parseSpecial: true)
        }
        var ids: [Int] = []
        let vocab = model.tokenizer.vocabularySize
        for e in a {
            guard !(e is String), let n = e as? Int, n >= 0, n < vocab else {
                throw APIError.field("prompt", "must be a string or an array of token ids in 0..<\(vocab) (only one prompt per request)")
            }
            ids.append(n)
        }
        return ids
    }
}
