import TesseraPDE

/// ‖a − b‖ / max(‖a‖, ‖b‖) (the absolute difference when both are zero): the gradient checks' measure.
func relErr(_ a: [Double], _ b: [Double]) -> Double {
    let num = zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    let den = Swift.max(a.reduce(0) { $0 + $1 * $1 }, b.reduce(0) { $0 + $1 * $1 }).squareRoot()
    return den > 0 ? num / den : num
}

/// Central finite differences, step `eps`, of the model's loss on `batch` with respect to every
/// parameter of sub-task network `net`: the reference the hand-written backward is checked against.
func finiteDifferenceGradient(_ model: LearnedStagger<Double>, net: Int, batch: [[Double]],
                              residual: any StepResidual, eps: Double = 1e-6, integral: Double = 0, smoothing: Double = 0,
                              decay: Double = 0, floor: Double = 0) throws -> [Double] {
    var none: [[Double]]? = nil
    var fd = [Double](repeating: 0, count: model.nets[net].parameters.count)
    for i in fd.indices {
        var mp = model, mm = model
        mp.nets[net].parameters[i] += eps; mm.nets[net].parameters[i] -= eps
        fd[i] = (try mp.loss(batch, residual: residual, gradient: &none, integral: integral, smoothing: smoothing, decay: decay, decayFloor: floor)
                 - mm.loss(batch, residual: residual, gradient: &none, integral: integral, smoothing: smoothing, decay: decay, decayFloor: floor)) / (2 * eps)
    }
    return fd
}

/// The hand-written gradient of the plain loss (no integral, smoothing or decay) on `batch`
/// against `finiteDifferenceGradient`, per sub-task network: relErr for each net.
func lossGradientErrors(_ model: LearnedStagger<Double>, batch: [[Double]], residual: any StepResidual) throws -> [Double] {
    var grads: [[Double]]? = model.nets.map { [Double](repeating: 0, count: $0.parameters.count) }
    _ = try model.loss(batch, residual: residual, gradient: &grads)
    return try model.nets.indices.map { j in
        relErr(grads![j], try finiteDifferenceGradient(model, net: j, batch: batch, residual: residual))
    }
}
