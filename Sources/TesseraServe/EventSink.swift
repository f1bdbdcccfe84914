/// Where the engine sends one request's events: the continuation of the stream its consumer
/// iterates. The public `ServeEngine.submit` hands out an `AsyncStream<EngineEvent>`; the
/// server's streamed responses use an `AsyncStream<EngineEvent?>` into which their own
/// keep-alive timer also yields (`nil`), so each token reaches the response writer in one hop
/// from the engine thread, not through a second stream that merges the two.
struct EventSink: Sendable {
    /// Delivers an event; false once the consumer has gone away.
    let yield: @Sendable (EngineEvent) -> Bool
    /// Ends the stream (after `finished`).
    let finish: @Sendable () -> Void
    /// Registers what runs when the consumer goes away (or the stream ends).
    let onTermination: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// Where the consumer counts the token events it has written (nil: the engine does not
    /// wait for this consumer; see `WriterPacing`).
    var pace: StreamPace? = nil

    /// A sink into a stream of events.
    static func events(_ c: AsyncStream<EngineEvent>.Continuation) -> EventSink {
        EventSink(yield: { e in
            if case .terminated = c.yield(e) { return false }
            return true
        }, finish: { c.finish() }, onTermination: { f in c.onTermination = { _ in f() } })
    }

    /// A sink into a stream that also carries `nil` (the keep-alive ticks of a streamed
    /// response), whose writer reports each token event it has written to `pace`.
    static func eventsAndTicks(_ c: AsyncStream<EngineEvent?>.Continuation, pace: StreamPace?) -> EventSink {
        EventSink(yield: { e in
            if case .terminated = c.yield(e) { return false }
            return true
        }, finish: { c.finish() }, onTermination: { f in c.onTermination = { _ in f() } }, pace: pace)
    }
}
