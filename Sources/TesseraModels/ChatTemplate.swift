import Foundation

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable {
    /// Who speaks: the system prompt, the user, or the model.
    public enum Role: String, Sendable { case system, user, assistant }
    /// Who speaks.
    public var role: Role
    /// What is said.
    public var content: String
    /// A message of `role` with `content`.
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
    /// A system message.
    public static func system(_ s: String) -> ChatMessage { .init(role: .system, content: s) }
    /// A user message.
    public static func user(_ s: String) -> ChatMessage { .init(role: .user, content: s) }
    /// An assistant message.
    public static func assistant(_ s: String) -> ChatMessage { .init(role: .assistant, content: s) }
}

/// Formats conversations the way the model was trained, recognised from the GGUF's
/// `tokenizer.chat_template` (a Jinja template, which we do not interpret in general):
///
/// * ChatML (`<|im_start|>role\ncontent<|im_end|>\n`, SmolLM2, Qwen, ...), including a default
///   system prompt written into the template (SmolLM2 adds one when the conversation has none);
/// * Llama 3 (`<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`);
/// * Gemma (`<bos><start_of_turn>user\ncontent<end_of_turn>\n`, the assistant's role called
///   `model`, a system prompt put in front of the first user turn, contents trimmed);
/// * Llama 2 / Mistral (`[INST] ... [/INST]`).
/// A file without a template is recognised by its vocabulary (`<|im_start|>`: ChatML,
/// `<start_of_turn>`: Gemma, `<|start_header_id|>`: Llama 3), else gets a plain "role: content"
/// transcript.
public struct ChatTemplate: Sendable, Equatable {
    /// The conversation formats recognised: ChatML, Llama 3, Gemma, Llama 2 / Mistral, and a plain transcript.
    public enum Style: String, Sendable { case chatML, llama3, gemma, llama2, plain }
    /// The format used.
    public var style: Style
    /// System prompt inserted when the conversation starts without one (from the template).
    public var defaultSystemPrompt: String?
    /// Text to add before the conversation (e.g. the BOS token text for Llama 3).
    public var prefix: String

    /// A template of `style` with an optional default system prompt and prefix.
    public init(style: Style, defaultSystemPrompt: String? = nil, prefix: String = "") {
        self.style = style
        self.defaultSystemPrompt = defaultSystemPrompt
        self.prefix = prefix
    }

    /// The template of a model file (its `tokenizer.chat_template`, else from the vocabulary).
    public init(gguf: GGUFFile, tokenizer: Tokenizer) {
        let template = (try? gguf.string("tokenizer.chat_template")) ?? nil
        self.init(template: template, tokenizer: tokenizer)
    }

    /// The template recognised from Jinja `template` text (nil: none), falling back on the vocabulary.
    public init(template: String?, tokenizer: Tokenizer?) {
        prefix = ""
        defaultSystemPrompt = nil
        if let t = template {
            if t.contains("<|im_start|>") {
                style = .chatML
                // the default system prompt is the literal between "<|im_start|>system\n" and "<|im_end|>"
                if let r = t.range(of: "<|im_start|>system\n") {
                    let rest = t[r.upperBound...]
                    if let e = rest.range(of: "<|im_end|>") {
                        let s = String(rest[..<e.lowerBound])
                        if !s.contains("{{") && !s.contains("{%") && !s.isEmpty { defaultSystemPrompt = s }
                    }
                }
            } else if t.contains("<|start_header_id|>") {
                style = .llama3
                if let tok = tokenizer, let b = tok.bosToken, t.contains("bos_token") {
                    prefix = tok.tokens[b]
                }
            } else if t.contains("<start_of_turn>") {
                style = .gemma
                if let tok = tokenizer, let b = tok.bosToken, t.contains("bos_token") {
                    prefix = tok.tokens[b]
                }
            } else if t.contains("[INST]") {
                style = .llama2
                if let tok = tokenizer, let b = tok.bosToken { prefix = tok.tokens[b] }
            } else {
                style = .plain
            }
        } else if let tok = tokenizer, tok.id(of: "<|im_start|>") != nil {
            style = .chatML
        } else if let tok = tokenizer, tok.id(of: "<start_of_turn>") != nil {
            // Gemma's template starts with the BOS token
            style = .gemma
            if let b = tok.bosToken { prefix = tok.tokens[b] }
        } else if let tok = tokenizer, tok.id(of: "<|start_header_id|>") != nil {
            style = .llama3
            if let b = tok.bosToken { prefix = tok.tokens[b] }
        } else {
            style = .plain
        }
    }

    /// The prompt text for `messages`, ending with the assistant's turn opener when
    /// `addGenerationPrompt` is true.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var msgs = messages
        if let sys = defaultSystemPrompt, msgs.first?.role != .system {
            msgs.insert(.system(sys), at: 0)
        }
        var out = prefix
        switch style {
        case .chatML:
            for m in msgs { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for m in msgs { out += "<|start_header_id|>\(m.role.rawValue)<|end_header_id|>\n\n\(m.content)<|eot_id|>" }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            // no system role: the system prompt opens the first user turn
            var system: String? = nil
            for m in msgs {
                let trimmed = m.content.trimmingCharacters(in: .whitespacesAndNewlines)
                switch m.role {
                case .system:
                    system = trimmed
                    continue
                case .user:
                    let text = system.map { $0 + "\n\n" + trimmed } ?? trimmed
                    system = nil
                    out += "<start_of_turn>user\n\(text)<end_of_turn>\n"
                case .assistant:
                    out += "<start_of_turn>model\n\(trimmed)<end_of_turn>\n"
                }
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        case .llama2:
            var system: String? = nil
            var first = true
            for m in msgs {
                switch m.role {
                case .system: system = m.content
                case .user:
                    let content = first && system != nil ? "<<SYS>>\n\(system!)\n<</SYS>>\n\n\(m.content)" : m.content
                    out += "[INST] \(content) [/INST]"
                    first = false
                case .assistant: out += " \(m.content) "
                }
            }
        case .plain:
            for m in msgs { out += "\(m.role.rawValue): \(m.content)\n" }
            if addGenerationPrompt { out += "assistant:" }
        }
        return out
    }
}
