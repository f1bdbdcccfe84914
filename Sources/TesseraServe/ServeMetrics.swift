import Prometheus

/// The server's Prometheus metrics (`GET /metrics`, text exposition format).
public final class ServeMetrics: Sendable {
    /// The registry every metric below lives in.
    public let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let rejected: Counter
    let promptTokens: Counter
    let cachedPromptTokens: Counter
    let copiedPromptTokens: Counter
    let generatedTokens: Counter
    let cancelled: Counter
    let queueDepth: Gauge
    let activeSequences: Gauge
    let batchSize: ValueHistogram
    let stepTokens: ValueHistogram
    let timeToFirstToken: ValueHistogram
    let interToken: ValueHistogram
    /// From a cancel (the client gone) to its slot or queue place freed.
    let cancelLatency: ValueHistogram
    /// When the last cancelled request was freed (Unix time, seconds).
    let lastCancelFreed: Gauge
    let steps: Counter
    /// Worker seconds per phase of a step: plan, forward, sample, emit, pace (waiting for the writers).
    let phaseSeconds: [Counter]
    /// Of the forward phase: projections, attention, other.
    let forwardSeconds: [Counter]

    /// A fresh set of metrics.
    public init() {
        let r = registry, d = ServeMetrics.d
        requests = r.makeCounter(descriptor: d("tessera_requests_total", "Generation requests accepted"))
        rejected = r.makeCounter(descriptor: d("tessera_requests_rejected_total", "Requests refused because the queue was full"))
        promptTokens = r.makeCounter(descriptor: d("tessera_prompt_tokens_total", "Prompt tokens of accepted requests"))
        cachedPromptTokens = r.makeCounter(descriptor: d("tessera_prompt_tokens_cached_total", "Prompt tokens whose K/V were reused from a slot's cache"))
        copiedPromptTokens = r.makeCounter(descriptor: d("tessera_prompt_tokens_copied_total", "Prompt tokens whose K/V were copied from another slot (a shared prefix; part of the cached ones)"))
        generatedTokens = r.makeCounter(descriptor: d("tessera_generated_tokens_total", "Tokens generated"))
        cancelled = r.makeCounter(descriptor: d("tessera_requests_cancelled_total", "Requests cancelled (client went away)"))
        queueDepth = r.makeGauge(descriptor: d("tessera_queue_depth", "Requests waiting for a slot"))
        activeSequences = r.makeGauge(descriptor: d("tessera_active_sequences", "Sequences holding a slot"))
        batchSize = r.makeValueHistogram(descriptor: d("tessera_batch_size", "Sequences advanced per engine step"), buckets: [1, 2, 4, 8, 16, 32, 64])
        stepTokens = r.makeValueHistogram(descriptor: d("tessera_step_tokens", "Tokens run per engine step (decode + prefill)"), buckets: [1, 4, 16, 64, 128, 256, 512])
        let secs: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        timeToFirstToken = r.makeValueHistogram(descriptor: d("tessera_time_to_first_token_seconds", "From arrival to the first generated token"), buckets: secs)
        interToken = r.makeValueHistogram(descriptor: d("tessera_inter_token_seconds", "Between consecutive tokens of one request"), buckets: secs)
        cancelLatency = r.makeValueHistogram(descriptor: d("tessera_cancel_seconds", "From a cancel (the client went away) to its slot or queue place freed"),
                                             buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1])
        lastCancelFreed = r.makeGauge(descriptor: d("tessera_last_cancel_freed_timestamp_seconds", "When the last cancelled request's slot or queue place was freed (Unix time)"))
        steps = r.makeCounter(descriptor: d("tessera_engine_steps_total", "Engine steps (one batched forward each)"))
        phaseSeconds = ["plan", "forward", "sample", "emit", "pace"].map {
            r.makeCounter(descriptor: d("tessera_engine_seconds_total", "Engine worker seconds per step phase"), labels: [("phase", $0)])
        }
        forwardSeconds = ["projections", "attention", "other"].map {
            r.makeCounter(descriptor: d("tessera_forward_seconds_total", "Seconds of the forward phase by part (weight projections, attention, the rest)"),
                          labels: [("part", $0)])
        }
    }

    private static func d(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, helpText: help)
    }

    /// The metrics in Prometheus' text format.
    public func exposition() -> String { registry.emitToString() }
}
