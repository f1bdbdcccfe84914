/// A sink for the page-touching reads (a store the optimiser cannot drop).
private final class ReadSink: @unchecked Sendable { var value: UInt8 = 0 }

extension LlamaModel {
    /// Opens `path` and builds the model without blocking the caller's thread.
    ///
    /// The model is the one ``init(path:options:)`` builds. Loading runs in two phases:
    /// 1. the GGUF header is parsed and every tensor's bytes are read once, tensor by tensor,
    ///    so the weights are in memory (the page cache) before they are used — on a cold
    ///    file this is most of the load time;
    /// 2. the runner is built (weight repacking for the kernels, the tokenizer).
    ///
    /// `progress` gets one report per tensor read and one for the build ("model load
    /// (tensors read, then build)", total = tensor count + 1). Cancellation is checked
    /// between tensors and before the build (`CancellationError`); the build itself runs to
    /// its end once started. Other errors are the `TesseraError`s of ``init(path:options:)``.
    public static func load(path: String, options: ModelOptions = ModelOptions(),
                            progress: ProgressHandler? = nil) async throws -> LlamaModel {
        try await runCancellable(name: "LlamaModel.load") { flag in
            let file = try GGUFFile(path: path)
            let counter = ProgressCounter(progress, total: file.tensors.count + 1, what: "model load (tensors read, then build)")
            let sink = ReadSink()
            let page = 4096
            for (i, info) in file.tensors.enumerated() {
                if flag.isCancelled { throw CancellationError() }
                sink.value ^= file.withTensorBytes(info) { bytes in
                    var x: UInt8 = 0
                    var o = 0
                    while o < bytes.count { x ^= bytes[o]; o += page }
                    if let last = bytes.last { x ^= last }
                    return x
                }
                counter.report(i + 1)
            }
            if flag.isCancelled { throw CancellationError() }
            let model = try LlamaModel(file: file, options: options)
            counter.finish()
            return model
        }
    }
}
