import Foundation
import TesseraModels

/// The JSON objects of OpenAI's completion API, for one request.
struct ResponseShaper {
    let call: CompletionCall
    let modelID: String
    let tokenizer: Tokenizer
    let id: String
    let created = Int(Date().timeIntervalSince1970)

    init(call: CompletionCall, modelID: String, tokenizer: Tokenizer, serial: UInt64) {
        self.call = call
        self.modelID = modelID
        self.tokenizer = tokenizer
        id = (call.chat ? "chatcmpl-" : "cmpl-") + String(serial, radix: 16) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
    }


    func finishReason(_ r: FinishReason) -> Any {
        switch r {
        case .stop: return "stop"
        case .length: return "length"
        case .cancelled, .error: return NSNull()
        }
    }

    func usage(_ c: Completion) -> [String: Any] {
        ["prompt_tokens": c.promptTokens, "completion_tokens": c.completionTokens,
         "total_tokens": c.promptTokens + c.completionTokens,
         "prompt_tokens_details": ["cached_tokens": c.cachedTokens]]
    }

    private func tokenText(_ id: Int) -> (String, [UInt8]) {
        let b = tokenizer.bytes(of: id)
        return (String(decoding: b, as: UTF8.self), b)
    }

    /// Chat's `logprobs.content` entries.
    func chatLogprobs(_ lps: [TokenLogprob]) -> [String: Any] {
        ["content": lps.map { lp -> [String: Any] in
            let (t, b) = tokenText(lp.id)
            return ["token": t, "logprob": lp.logprob, "bytes": b.map(Int.init),
                    "top_logprobs": lp.top.map { e -> [String: Any] in
                        let (tt, tb) = tokenText(e.id)
                        return ["token": tt, "logprob": e.logprob, "bytes": tb.map(Int.init)]
                    }]
        }]
    }

    /// Completions' legacy `logprobs` object; `offset` is the text offset of the first token.
    func textLogprobs(_ lps: [TokenLogprob], offset: Int) -> [String: Any] {
        var tokens: [String] = [], values: [Double] = [], tops: [[String: Double]] = [], offsets: [Int] = []
        var at = offset
        for lp in lps {
            let (t, _) = tokenText(lp.id)
            tokens.append(t)
            values.append(lp.logprob)
            var d: [String: Double] = [:]
            for e in lp.top { d[tokenText(e.id).0] = e.logprob }
            tops.append(d)
            offsets.append(at)
            at += t.utf16.count
        }
        return ["tokens": tokens, "token_logprobs": values, "top_logprobs": tops, "text_offset": offsets]
    }

    /// The whole (non-streamed) response.
    func full(_ c: Completion, logprobs: [TokenLogprob]) -> [String: Any] {
        let text = c.text
        var choice: [String: Any] = ["index": 0, "finish_reason": finishReason(c.reason)]
        if call.chat {
            choice["message"] = ["role": "assistant", "content": text]
            choice["logprobs"] = call.request.topLogprobs == nil ? NSNull() : chatLogprobs(logprobs)
        } else {
            choice["text"] = text
            choice["logprobs"] = call.request.topLogprobs == nil ? NSNull() : textLogprobs(logprobs, offset: 0)
        }
        var o: [String: Any] = ["id": id, "object": call.chat ? "chat.completion" : "text_completion", "created": created,
                                "model": modelID, "choices": [choice], "usage": usage(c)]
        if call.capped { o["max_tokens_capped"] = c.maxTokens }
        return o
    }

    /// One streamed chunk: `text` as a delta, with log-probabilities and, on the last chunk, the finish reason.
    func chunk(text: String?, role: Bool = false, logprobs: [TokenLogprob] = [], textOffset: Int = 0,
               finish: FinishReason? = nil, usage u: Completion? = nil) -> [String: Any] {
        var choice: [String: Any] = ["index": 0, "finish_reason": finish.map(finishReason) ?? NSNull()]
        let wantLogprobs = call.request.topLogprobs != nil && !logprobs.isEmpty
        if call.chat {
            var delta: [String: Any] = [:]
            if role { delta["role"] = "assistant" }
            if let text { delta["content"] = text }
            choice["delta"] = delta
            choice["logprobs"] = wantLogprobs ? chatLogprobs(logprobs) : NSNull()
        } else {
            choice["text"] = text ?? ""
            choice["logprobs"] = wantLogprobs ? textLogprobs(logprobs, offset: textOffset) : NSNull()
        }
        var o: [String: Any] = ["id": id, "object": call.chat ? "chat.completion.chunk" : "text_completion",
                                "created": created, "model": modelID, "choices": [choice]]
        if let u { o["usage"] = usage(u) }
        if finish != nil, call.capped, let u { o["max_tokens_capped"] = u.maxTokens }
        return o
    }

    /// The usage-only chunk of `stream_options.include_usage` (no choices).
    func usageChunk(_ c: Completion) -> [String: Any] {
        ["id": id, "object": call.chat ? "chat.completion.chunk" : "text_completion", "created": created,
         "model": modelID, "choices": [Any](), "usage": usage(c)]
    }
}
