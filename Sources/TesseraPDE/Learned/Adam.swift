// Adam (Kingma & Ba 2015) with bias correction, on one flat parameter vector.

import Foundation

/// The Adam optimiser's state for one parameter vector.
public struct AdamOptimizer: Sendable {
    /// Exponential decay of the first and second moment estimates.
    public var beta1 = 0.9, beta2 = 0.999
    /// Added to √v̂ in the denominator.
    public var epsilon = 1e-8
    /// Steps taken.
    public private(set) var step = 0
    var m: [Double], v: [Double]

    /// Zero moments for `count` parameters.
    public init(count: Int) { m = [Double](repeating: 0, count: count); v = m }

    /// One update θ ← θ − lr·m̂/(√v̂ + ε) from `gradient`. Errors: `.invalidArgument` for a size
    /// mismatch, `.invalidState` (parameters untouched) for a non-finite gradient.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public mutating func update<T: NetScalar>(_ params: inout [T], gradient: [T], learningRate lr: Double) throws(TesseraError) {
        guard params.count == m.count, gradient.count == m.count else {
            throw .invalidArgument("Adam: \(params.count) parameters / \(gradient.count) gradients for state of \(m.count)")
        }
        if let bad = gradient.firstIndex(where: { !$0.isFinite }) {
            throw .invalidState("Adam: gradient entry \(bad) is \(gradient[bad]); parameters left unchanged")
        }
        step += 1
        let c1 = 1 - pow(beta1, Double(step)), c2 = 1 - pow(beta2, Double(step))
        for i in 0..<m.count {
            let g = Double(gradient[i])
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            params[i] -= T(lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + epsilon))
        }
    }
}
