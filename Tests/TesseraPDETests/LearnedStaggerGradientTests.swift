import Foundation
import Testing
import TesseraPDE

/// Finite-difference checks (float64, central differences) of every layer's hand-written
/// backward and of the whole NeuralStagger physics loss.
@Suite("Learned NeuralStagger: gradient checks")
struct LearnedStaggerGradientTests {
    /// ‖a − b‖ / max(‖a‖, ‖b‖).

    func randoms(_ n: Int, _ seed: UInt64) -> [Double] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Double(Int64(bitPattern: s >> 11) % 2_000_000) / 1_000_000 - 0.5 + 0.1 * Double((s >> 7) & 1)
        }
    }

    /// Checks the input and parameter gradients of `net` under the loss L = Σ cᵢ yᵢ.
    func check(_ net: ConvNet<Double>, batch: Int = 2, h: Int = 5, w: Int = 4) throws {
        let x = randoms(net.inChannels * batch * h * w, 3)
        var tape: ConvNet<Double>.Tape? = ConvNet<Double>.Tape(batch: batch, height: h, width: w)
        let y = try net.forward(x, batch: batch, height: h, width: w, tape: &tape)
        let c = randoms(y.count, 5)
        var grad = [Double](repeating: 0, count: net.parameters.count)
        let dx = net.backward(c, tape: tape!, grad: &grad)
        func lossAt(_ n: ConvNet<Double>, _ xx: [Double]) throws -> Double {
            zip(try n(xx, batch: batch, height: h, width: w), c).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let eps = 1e-6
        var fdx = [Double](repeating: 0, count: x.count)
        for i in x.indices {
            var xp = x, xm = x
            xp[i] += eps; xm[i] -= eps
            fdx[i] = (try lossAt(net, xp) - lossAt(net, xm)) / (2 * eps)
        }
        #expect(relErr(dx, fdx) <= 1e-5, "input gradient rel. error \(relErr(dx, fdx)) for \(net.layers)")
        var fdp = [Double](repeating: 0, count: grad.count)
        for i in grad.indices {
            var pp = net.parameters, pm = net.parameters
            pp[i] += eps; pm[i] -= eps
            fdp[i] = (try lossAt(net.with(parameters: pp), x) - lossAt(net.with(parameters: pm), x)) / (2 * eps)
        }
        #expect(relErr(grad, fdp) <= 1e-5, "parameter gradient rel. error \(relErr(grad, fdp)) for \(net.layers)")
        #expect(grad.contains { $0 != 0 })
    }

    @Test func conv3x3PeriodicAndZero() throws {
        for pad in ConvPadding.allCases {
            var net = try ConvNet<Double>(layers: [.conv(inChannels: 3, outChannels: 2, kernel: 3)], padding: pad, seed: 4)
            net.parameters = net.parameters.indices.map { Double($0 % 7) * 0.1 - 0.3 }   // non-zero bias too
            try check(net)
        }
    }

    @Test func conv1x1() throws {
        try check(try ConvNet<Double>(layers: [.conv(inChannels: 4, outChannels: 3, kernel: 1)], padding: .zero, seed: 2))
    }

    @Test func activations() throws {
        for a in NetActivation.allCases {
            try check(try ConvNet<Double>(layers: [.conv(inChannels: 2, outChannels: 3, kernel: 1), .activation(a)],
                                          padding: .periodic, seed: 9))
        }
    }

    @Test func residualBlock() throws {
        let body: [NetLayer] = [.activation(.gelu), .conv(inChannels: 3, outChannels: 3, kernel: 3),
                                .activation(.tanh), .conv(inChannels: 3, outChannels: 3, kernel: 3)]
        try check(try ConvNet<Double>(layers: [.conv(inChannels: 2, outChannels: 3, kernel: 3), .residual(body),
                                               .conv(inChannels: 3, outChannels: 1, kernel: 1)],
                                      padding: .periodic, seed: 11))
    }

    /// Conv 3×3 against a direct float64 evaluation of the convolution sum (periodic and zero).
    @Test func conv3x3MatchesDirectSum() throws {
        for pad in ConvPadding.allCases {
            let net = try ConvNet<Double>(layers: [.conv(inChannels: 2, outChannels: 2, kernel: 3)], padding: pad, seed: 8)
            let (b, h, w) = (1, 4, 5)
            let x = randoms(2 * h * w, 1)
            let y = try net(x, batch: b, height: h, width: w)
            let p = net.parameters
            for o in 0..<2 { for yy in 0..<h { for xx in 0..<w {
                var s = p[net.convolutions[0].biasOffset + o]
                for ci in 0..<2 { for ky in 0..<3 { for kx in 0..<3 {
                    var sy = yy + ky - 1, sx = xx + kx - 1
                    if pad == .zero && (sy < 0 || sy >= h || sx < 0 || sx >= w) { continue }
                    sy = (sy + h) % h; sx = (sx + w) % w
                    s += p[((o * 2 + ci) * 3 + ky) * 3 + kx] * x[ci * h * w + sy * w + sx]
                } } }
                #expect(abs(s - y[o * h * w + yy * w + xx]) < 1e-13)
            } } }
        }
    }

    /// The whole loss: fine Crank–Nicolson residual of the unstaggered prediction, both sharing
    /// modes, with and without the coarse explicit base step; the gradient computed with the
    /// sub-tasks on two workers is bitwise the serial one.
    @Test func wholePhysicsLoss() throws {
        let pool2 = try ThreadPool(threads: 2)
        for sharing in StaggerSharing.allCases { for base in [StaggerBase.none, .coarseExplicit] {
            var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.4)
            cfg.width = 3; cfg.blocks = 1; cfg.sharing = sharing; cfg.activation = .gelu; cfg.base = base
            var model = try LearnedStagger<Double>(config: cfg, seed: 5)
            for j in model.nets.indices {   // a non-trivial point: nets not near zero output
                model.nets[j].parameters = model.nets[j].parameters.enumerated().map { $1 + 0.05 * sin(Double($0 + 7 * j)) }
            }
            let residual = try cfg.residual()
            let batch = [randomSmoothField(n: 8, maxWavenumber: 2, seed: 1), randomSmoothField(n: 8, maxWavenumber: 2, seed: 2)]
            var grads: [[Double]]? = model.nets.map { [Double](repeating: 0, count: $0.parameters.count) }
            let l = try model.loss(batch, residual: residual, gradient: &grads)
            var grads2: [[Double]]? = model.nets.map { [Double](repeating: 0, count: $0.parameters.count) }
            #expect(try model.loss(batch, residual: residual, gradient: &grads2, pool: pool2) == l)
            #expect(grads2! == grads!, "\(sharing) \(base): gradient on 2 workers differs from the serial one")
            for j in model.nets.indices {
                let fd = try finiteDifferenceGradient(model, net: j, batch: batch, residual: residual)
                #expect(relErr(grads![j], fd) <= 1e-5, "\(sharing) \(base) net \(j): rel. error \(relErr(grads![j], fd))")
            }
        } }
    }

    /// With all weights zero the model is its base step: each coarse field of a cos mode decays
    /// by the explicit multiplier (1 − (r/m)(2 − 2cos θ))^m, r = κΔt/(s·h)², m sub-steps.
    @Test func coarseExplicitBaseIsTheCoarseHeatStep() throws {
        var cfg = LearnedStaggerConfig(n: 16, factor: 2, dt: 0)
        let hc = 2 * Double.pi / 8
        cfg.dt = 0.5 * hc * hc   // r = 0.5 → 3 sub-steps of 1/6
        cfg.base = .coarseExplicit; cfg.width = 2; cfg.blocks = 0
        var model = try LearnedStagger<Double>(config: cfg)
        for j in model.nets.indices { model.nets[j].parameters = [Double](repeating: 0, count: model.nets[j].parameters.count) }
        let g = try cfg.grid()
        let u0 = try Field<Double>(grid: g, values: (0..<256).map { cos(2 * Double.pi * Double($0 % 16) / 16) + 0.5 })
        let u1 = try model.rollout(u0, steps: 2)
        let mult = pow(1 - (0.5 / 3) * (2 - 2 * cos(hc)), 3)
        let want = (0..<256).map { 0.5 + mult * mult * cos(2 * Double.pi * Double($0 % 16) / 16) }
        #expect(zip(u1.toArray(), want).map { abs($0 - $1) }.max()! < 1e-12)
    }

    /// The CN residual vanishes on the fine Crank–Nicolson solver's own step (FDHeat).
    @Test func residualIsZeroOnFDHeatStep() throws {
        let g = try Grid.periodic(16)
        let u0 = try Field<Double>(grid: g, values: randomSmoothField(n: 16, maxWavenumber: 3, seed: 4))
        let heat = try FDHeat(initial: u0, diffusivity: 0.7, dt: 0.02, scheme: .crankNicolson)
        try heat.advance(steps: 1, tolerance: 1e-14)
        let r = try HeatCNResidual(grid: g, diffusivity: 0.7, dt: 0.02).residual(u0: u0.toArray(), u1: heat.solution().toArray())
        #expect(r.map(abs).max()! < 1e-11 * u0.maxAbs)
    }
}
