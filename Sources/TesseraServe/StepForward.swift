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

/// The model call of one engine step: every active sequence's tokens in one forward
/// (`LlamaModel.forward(batch:)`: each projection one M-row quantized product over all rows,
/// attention per sequence on its own cache). This is the one place the engine touches the
/// model's forward pass.
struct StepForward {
    let model: LlamaModel
    /// The engine's own buffers for a step of up to `rows` token rows.
    let workspace: ForwardWorkspace

    init(model: LlamaModel, rows: Int, logitRows: Int) throws(TesseraError) {
        self.model = model
        workspace = try ForwardWorkspace(model: model, rows: rows, logitRows: logitRows)
    }

    /// Runs all entries; returns each entry's logit rows (row-major, `vocabularySize` each),
    /// or the error that entry alone hit. Each entry's rows are bit-identical to its session's
    /// solo forward (the batched forward's promise), so a sequence's logits do not depend on
    /// which others share the step. The rows of a batched step point into the workspace and
    /// stay valid until the next `run`.
    func run(_ entries: [StepEntry]) -> [Result<StepLogits, TesseraError>] {
        let batch = entries.map { BatchEntry(session: $0.session, tokens: $0.tokens, logits: $0.logits) }
        do throws(TesseraError) {
            return try model.forwardStep(batch: batch, workspace: workspace).map { .success(.view($0)) }
        } catch {
            // a failed batch ran nothing (every session rolled back): run the entries one by
            // one so that only the one at fault fails
            return entries.map { e in
                do throws(TesseraError) {
                    return .success(.owned(RowStorage(try e.session.forward(e.tokens, logits: e.logits).flatMap { $0 })))
                } catch {
                    return .failure(error)
                }
            }
        }
    }
}

/// One entry's logit rows from a step: a view into the step's workspace, or (when the batch
/// failed and the entries ran one by one) storage of their own.
enum StepLogits: @unchecked Sendable {
    // @unchecked: the rows are only read (by the sampling workers) until the next step.
    case view(UnsafeBufferPointer<Float>)
    case owned(RowStorage)

    /// Row `r` of `width` values (valid while this value and the step's workspace are).
    func row(_ r: Int, width: Int) -> UnsafeBufferPointer<Float> {
        let b: UnsafeBufferPointer<Float>
        switch self {
        case .view(let v): b = v
        case .owned(let o): b = UnsafeBufferPointer(o.buffer)
        }
        return UnsafeBufferPointer(rebasing: b[(r * width)..<((r + 1) * width)])
    }
}

/// Logit rows copied out of an entry's solo forward.
final class RowStorage {
    let buffer: UnsafeMutableBufferPointer<Float>

    init(_ values: [Float]) {
        buffer = .allocate(capacity: values.count)
        _ = buffer.initialize(from: values)
    }

    deinit { buffer.deallocate() }
}
