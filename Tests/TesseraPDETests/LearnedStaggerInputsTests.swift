import Foundation
import Testing
import TesseraPDE

/// Laplacian inputs (`StaggerInputs`), the sub-task split of a step (`subtaskStep` + `assemble`,
/// what `DistributedStagger` runs on ranks) and `infer(lastChannels:)`.
@Suite("Learned NeuralStagger: Laplacian inputs, sub-task groups, last-channel inference")
struct LearnedStaggerInputsTests {
    /// A small heat model with non-zero networks (base none, fixed scale 1: the step is then
    /// u + N(features(u)) − mean).
    func model(_ inputs: StaggerInputs, sharing: StaggerSharing = .equivariant, n: Int = 8, s: Int = 2) throws -> LearnedStagger<Double> {
        var cfg = LearnedStaggerConfig(n: n, factor: s, dt: 0.01)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.biases = false; cfg.sharing = sharing
        cfg.normalization = .fixed(1); cfg.inputs = inputs; cfg.temporal = 2
        return try LearnedStagger<Double>(config: cfg, seed: 3)
    }

    /// The fine periodic 5-point Laplacian times h², in float64, written out independently.
    func laplacian(_ u: [Double], _ n: Int) -> [Double] {
        (0..<(n * n)).map { i in
            let (y, x) = (i / n, i % n)
            return u[((y + 1) % n) * n + x] + u[((y + n - 1) % n) * n + x] + u[y * n + (x + 1) % n] + u[y * n + (x + n - 1) % n] - 4 * u[i]
        }
    }

    /// With Laplacian inputs the correction of u is the field-input model's correction of h²Lu
    /// (same weights): the networks read exactly the staggered fine Laplacian; twice for
    /// bilaplacian. Both sharing kinds that read plain fields.
    @Test func inputsAreTheStaggeredFineLaplacian() throws {
        for sharing in [StaggerSharing.separate, .equivariant] {
            for (inputs, order) in [(StaggerInputs.laplacian, 1), (.bilaplacian, 2)] {
                let lap = try model(inputs, sharing: sharing), plain = try LearnedStagger<Double>(
                    config: { var c = lap.config; c.inputs = .field; return c }(), nets: lap.nets)
                let g = try lap.config.grid()
                let u = randomSmoothField(n: 8, maxWavenumber: 3, seed: 5)
                var v = u
                for _ in 0..<order { v = laplacian(v, 8) }
                let du = try lap.join(try lap.step(coarse: [try lap.split(try Field(grid: g, values: u)).coarse])[0], scale: 1, grid: g).toArray()
                let dv = try plain.join(try plain.step(coarse: [try plain.split(try Field(grid: g, values: v)).coarse])[0], scale: 1, grid: g).toArray()
                let corrU = zip(du, u).map { $0 - $1 }, corrV = zip(dv, v).map { $0 - $1 }
                #expect(corrU.map(abs).max()! > 1e-6, "\(sharing) \(inputs): the networks must not be zero")
                #expect(relErr(corrU, corrV) < 1e-12, "\(sharing) \(inputs): \(relErr(corrU, corrV))")
            }
        }
    }

    /// `.aliasFilteredLaplacian`: the networks read h²L B u with B the centred s-box filter
    /// ([1,2,1]/4 at s = 2, [1,2,2,2,1]/8 at s = 4, [1,1,1]/3 at s = 3), written out here
    /// independently as a direct 2-D sum, for s = 2, 3 and 4.
    @Test func aliasFilteredInputsAreTheFilteredLaplacian() throws {
        let taps: [Int: [Double]] = [2: [1, 2, 1].map { $0 / 4 }, 3: [1, 1, 1].map { $0 / 3 }, 4: [1, 2, 2, 2, 1].map { $0 / 8 }]
        for (s, w) in taps {
            let n = 4 * s
            let lap = try model(.aliasFilteredLaplacian, n: n, s: s), plain = try LearnedStagger<Double>(
                config: { var c = lap.config; c.inputs = .field; return c }(), nets: lap.nets)
            let g = try lap.config.grid()
            let u = randomSmoothField(n: n, maxWavenumber: 3, seed: 6).enumerated().map { $1 + 0.1 * sin(Double($0 * $0)) }
            let r = (w.count - 1) / 2
            let bu = (0..<(n * n)).map { i -> Double in
                let (y, x) = (i / n, i % n)
                var acc = 0.0
                for (a, wa) in w.enumerated() { for (b, wb) in w.enumerated() {
                    acc += wa * wb * u[((y + a - r + n) % n) * n + (x + b - r + n) % n]
                } }
                return acc
            }
            let v = laplacian(bu, n)
            let du = try lap.join(try lap.step(coarse: [try lap.split(try Field(grid: g, values: u)).coarse])[0], scale: 1, grid: g).toArray()
            let dv = try plain.join(try plain.step(coarse: [try plain.split(try Field(grid: g, values: v)).coarse])[0], scale: 1, grid: g).toArray()
            let corrU = zip(du, u).map { $0 - $1 }, corrV = zip(dv, v).map { $0 - $1 }
            #expect(corrU.map(abs).max()! > 1e-6)
            #expect(relErr(corrU, corrV) < 1e-12, "s \(s): \(relErr(corrU, corrV))")
        }
    }

    /// With random weights (a trained model's worst case), the modes constant on every coarse
    /// grid keep exactly the base step's gain 1 with alias-filtered inputs, and the gain on their
    /// neighbourhoods moves far less than with plain Laplacian inputs and the same weights.
    @Test func aliasFilterShieldsTheCoarseMeanAliases() throws {
        let n = 32, s = 4, h = 2 * Double.pi / Double(n)
        var cfg = LearnedStaggerConfig(n: n, factor: s, dt: 0.5 * h * h)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
        cfg.sharing = .equivariant; cfg.temporal = 2; cfg.inputs = .aliasFilteredLaplacian
        var filtered = try LearnedStagger<Float>(config: cfg, seed: 4)
        filtered.nets[0].parameters = filtered.nets[0].parameters.enumerated().map { $1 + 0.2 * Float(sin(Double($0))) }
        for c in filtered.nets[0].convolutions { for i in 0..<c.outChannels { filtered.nets[0].parameters[c.biasOffset + i] = 0 } }
        cfg.inputs = .laplacian
        let plain = try LearnedStagger<Float>(config: cfg, nets: filtered.nets)
        let gf = try filtered.gainSpectrum(), gp = try plain.gainSpectrum()
        #expect(abs(gf.maxAliasGain - 1) <= 1e-5, "filtered alias gain \(gf.maxAliasGain)")
        #expect(abs(gp.maxAliasGain - 1) > 1e-2, "plain Laplacian inputs must move the aliases: \(gp.maxAliasGain)")
        // the neighbourhood (n/s ± 1, ky) of the first alias line: distance of the gain from 1
        let ncx = n / 2 + 1
        let base = try LearnedStagger<Float>(config: cfg, seed: 4).gainSpectrum()
        func moved(_ g: StaggerGainSpectrum) -> Double {
            var d = 0.0
            for kx in [n / s - 1, n / s + 1] { for iy in 0..<n { d = max(d, abs(g.gains[iy * ncx + kx] - base.gains[iy * ncx + kx])) } }
            return d
        }
        #expect(moved(gf) < 0.25 * moved(gp), "filtered \(moved(gf)) vs plain \(moved(gp))")
    }

    /// A constant field has zero Laplacian: the learned correction is exactly zero (random
    /// weights, no biases), so the mean is conserved by construction.
    @Test func constantFieldIsLeftAlone() throws {
        let m = try model(.laplacian)
        let g = try m.config.grid()
        let u = try Field<Double>(grid: g, values: [Double](repeating: 0.75, count: 64))
        #expect(try m.rollout(u, steps: 3).toArray().allSatisfy { $0 == 0.75 })
    }

    /// The whole loss with Laplacian and bilaplacian inputs: the hand-written gradient against
    /// float64 central differences (relative error ≤ 1e-5), separate and equivariant networks,
    /// with the coarse explicit base step.
    @Test func wholeLossGradient() throws {
        for inputs in [StaggerInputs.laplacian, .bilaplacian, .aliasFilteredLaplacian] { for sharing in [StaggerSharing.separate, .equivariant] {
            var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.4)
            cfg.width = 3; cfg.blocks = 1; cfg.sharing = sharing; cfg.activation = .gelu; cfg.base = .coarseExplicit; cfg.inputs = inputs
            var m = try LearnedStagger<Double>(config: cfg, seed: 5)
            for j in m.nets.indices {
                m.nets[j].parameters = m.nets[j].parameters.enumerated().map { $1 + 0.05 * sin(Double($0 + 7 * j)) }
            }
            let residual = try cfg.residual()
            let batch = [randomSmoothField(n: 8, maxWavenumber: 3, seed: 1), randomSmoothField(n: 8, maxWavenumber: 3, seed: 2)]
            for (j, err) in try lossGradientErrors(m, batch: batch, residual: residual).enumerated() {
                #expect(err <= 1e-5, "\(inputs) \(sharing) net \(j): \(err)")
            }
        } }
    }

    /// Derivative inputs are for the heat equation; a saved configuration keeps them, and one
    /// written before the field existed loads as `.field`.
    @Test func configurationChecksAndRoundTrip() throws {
        var ns = LearnedStaggerConfig(n: 16, factor: 2, dt: 0.05)
        ns.equation = "ns2d"; ns.normalization = .fixed(1); ns.inputs = .laplacian
        #expect(throws: TesseraError.self) { try ns.validate() }
        let m = try LearnedStagger<Float>(config: try model(.bilaplacian).config, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stagger-inputs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try m.save(to: dir)
        let back = try LearnedStagger<Float>(contentsOf: dir)
        #expect(back.config.inputs == StaggerInputs.bilaplacian)
        let url = URL(fileURLWithPath: "\(dir)/config.json")
        var dict = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        #expect(dict.removeValue(forKey: "inputs") != nil)
        try JSONSerialization.data(withJSONObject: dict).write(to: url)
        #expect(try LearnedStagger<Float>(contentsOf: dir).config.inputs == nil)
    }

    /// Any split of the sub-tasks into groups, assembled, is bitwise the whole step (batch of 2,
    /// s = 2 and 3, on 2 workers, field and alias-filtered inputs: the filter's rows are split over
    /// the workers, the single groups run serially); parts that miss or repeat a sub-task, and bad
    /// indices, are refused.
    @Test(arguments: [StaggerInputs.field, .aliasFilteredLaplacian]) func subtaskGroupsAssembleToTheStep(inputs: StaggerInputs) throws {
        let pool2 = try ThreadPool(threads: 2)
        for s in [2, 3] {
            var cfg = LearnedStaggerConfig(n: 12, factor: s, dt: 0.01)
            cfg.width = 3; cfg.blocks = 1; cfg.sharing = .separate; cfg.temporal = 3; cfg.inputs = inputs
            let m = try LearnedStagger<Float>(config: cfg, seed: 9)
            let g = try cfg.grid()
            let c = try [1, 2].map { (seed: UInt64) in try m.split(try Field(grid: g, values: randomSmoothField(n: 12, maxWavenumber: 3, seed: seed))).coarse }
            let whole = try m.step(coarse: c, pool: pool2)
            let s2 = s * s
            let groups = [Array(0..<(s2 / 2)), Array((s2 / 2)..<s2)]
            let parts = try groups.reversed().map { try m.subtaskStep(coarse: c, subtasks: $0, pool: pool2) }
            #expect(try m.assemble(parts) == whole)
            let single = try (0..<s2).map { try m.subtaskStep(coarse: c, subtasks: [$0]) }
            #expect(try m.assemble(single) == whole)
            #expect(throws: TesseraError.self) { try m.assemble([parts[0]]) }
            #expect(throws: TesseraError.self) { try m.assemble(parts + [parts[0]]) }
            #expect(throws: TesseraError.self) { try m.subtaskStep(coarse: c, subtasks: [0, 0]) }
            #expect(throws: TesseraError.self) { try m.subtaskStep(coarse: c, subtasks: [s2]) }
            #expect(throws: TesseraError.self) { try m.subtaskStep(coarse: c, subtasks: []) }
        }
    }

    /// `infer(lastChannels:)` gives the full pass's last channels (to float rounding), with or
    /// without an activation after the last conv; out-of-range counts are refused.
    @Test func lastChannelsInference() throws {
        for tail in [[NetLayer](), [.activation(.tanh)]] {
            let layers: [NetLayer] = [.conv(inChannels: 2, outChannels: 4, kernel: 3), .activation(.gelu),
                                      .conv(inChannels: 4, outChannels: 5, kernel: 1)] + tail
            let net = try ConvNet<Float>(layers: layers, padding: .periodic, seed: 2)
            let (b, h, w) = (2, 5, 6), n = b * h * w
            let x = randomSmoothField(n: 16, maxWavenumber: 3, seed: 8).prefix(2 * n).map { Float($0) }
            let ws = try net.makeWorkspace(batch: b, height: h, width: w)
            let full = try net(x, batch: b, height: h, width: w)
            for keep in 1...5 {
                var y = [Float](repeating: .nan, count: keep * n)
                try x.withUnsafeBufferPointer { xp in try y.withUnsafeMutableBufferPointer { yp in
                    try net.infer(xp.baseAddress!, batch: b, height: h, width: w, into: yp.baseAddress!, workspace: ws, lastChannels: keep) } }
                let want = Array(full[((5 - keep) * n)...])
                #expect(relErr(y.map(Double.init), want.map(Double.init)) < 1e-6, "keep \(keep)")
            }
            var y = [Float](repeating: 0, count: 6 * n)
            for bad in [0, 6] {
                #expect(throws: TesseraError.self) {
                    try x.withUnsafeBufferPointer { xp in try y.withUnsafeMutableBufferPointer { yp in
                        try net.infer(xp.baseAddress!, batch: b, height: h, width: w, into: yp.baseAddress!, workspace: ws, lastChannels: bad) } }
                }
            }
        }
    }
}
