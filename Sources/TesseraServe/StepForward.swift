import TesseraModels

/// One sequence's share of a batched step: the tokens it feeds after its cached ones and
/// which logit rows it wants back.
struct StepEntry {
    /// The sequence's session (its own K/V cache).
    let session: LlamaSession
    /// Tokens appended this step (a decode token, a prefill chunk, or a token plus a draft).
    let tokens: [Int]
    /// `.none` for a prefill chunk that is not the prompt's last, `.last` to sample, `.all` to verify a draft.
    let logits: LlamaSession.LogitRows
}

/// The model call of one engine step: every active sequence's tokens in one forward. This is
/// the one place the engine touches the model's forward pass.
struct StepForward {
    let model: LlamaModel

    /// Runs all entries; returns each entry's logit rows, or the error that entry alone hit
    /// (the others still advance).
    func run(_ entries: [StepEntry]) -> [Result<[[Float]], TesseraError>] {
        // One sequence at a time through its own session. Each row of a multi-row kernel call
        // equals its one-row call (the kernels' batch invariance), so a sequence's logits do not
        // depend on which other sequences share the step.
        entries.map { e in
            do throws(TesseraError) {
                return .success(try e.session.forward(e.tokens, logits: e.logits))
            } catch {
                return .failure(error)
            }
        }
    }
}
