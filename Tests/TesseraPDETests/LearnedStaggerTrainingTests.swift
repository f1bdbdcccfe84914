import Foundation
import Testing
import TesseraPDE

/// Training of the learned NeuralStagger heat model on a tiny grid, weight files, bad input.
@Suite("Learned NeuralStagger: training, weights, bad input")
struct LearnedStaggerTrainingTests {
    func tinyConfig(_ sharing: StaggerSharing = .separate) -> LearnedStaggerConfig {
        let n = 16, h = 2 * Double.pi / Double(n)
        var c = LearnedStaggerConfig(n: n, factor: 2, dt: 0.5 * h * h)   // κΔt/h² = 0.5: explicit Euler would blow up
        c.width = 6; c.blocks = 1; c.sharing = sharing; c.activation = .identity
        return c
    }

    func tempDir(_ tag: String) -> String {
        let d = NSTemporaryDirectory() + "stagger-\(tag)-\(UUID().uuidString)"
        try? FileManager.default.removeItem(atPath: d)
        return d
    }

    /// Trained only on the fine CN residual, the model's 10-step rollout is within 2 % of
    /// FDHeat(.crankNicolson) on an unseen field, and ≥ 5× better than not moving.
    @Test func trainedHeatModelBeatsBound() throws {
        var model = try LearnedStagger<Float>(config: tinyConfig(), seed: 3)
        var o = StaggerTrainingOptions()
        o.steps = 600; o.batch = 4; o.learningRate = 1e-2; o.maxWavenumber = 3
        let rep = try model.train(options: o)
        #expect(!rep.diverged && rep.steps == 600)
        #expect(rep.losses.last! < rep.losses.first! * 1e-2, "loss \(rep.losses.first!) → \(rep.losses.last!)")
        let u0 = try Field<Double>(grid: try tinyConfig().grid(), values: randomSmoothField(n: 16, maxWavenumber: 3, seed: 999))
        let c = try model.compareHeatRollout(u0, steps: 10)
        print("tiny heat: loss \(rep.losses.first!) → \(rep.losses.last!), rel. L2 \(c.relativeL2), persistence \(c.persistenceL2)")
        #expect(c.relativeL2.last! < 0.02, "rel. L2 \(c.relativeL2)")
        #expect(c.relativeL2.last! * 5 < c.persistenceL2, "learned \(c.relativeL2.last!) vs persistence \(c.persistenceL2)")
        // any single coarse field is the matching sub-lattice of the fine rollout
        let coarse = try model.coarseRollout(u0, steps: 10, index: 3)
        #expect(try coarse.maxDifference(try Stagger.decompose(c.learned, factors: [2, 2])[3]) == 0)
    }

    /// Sub-tasks on a 2-worker pool give the same bits as one after another.
    @Test func parallelStepMatchesSerial() throws {
        for sharing in StaggerSharing.allCases {
            let model = try LearnedStagger<Float>(config: tinyConfig(sharing), seed: 5)
            let u0 = try Field<Double>(grid: try tinyConfig().grid(), values: randomSmoothField(n: 16, maxWavenumber: 3, seed: 1))
            let a = try model.rollout(u0, steps: 3, pool: try ThreadPool(threads: 2))
            let b = try model.rollout(u0, steps: 3, pool: nil)
            #expect(a.toArray() == b.toArray())
        }
    }

    @Test func saveLoadRoundTripIsBitwise() throws {
        for sharing in StaggerSharing.allCases {
            var model = try LearnedStagger<Float>(config: tinyConfig(sharing), seed: 8)
            var o = StaggerTrainingOptions(); o.steps = 3
            _ = try model.train(options: o)
            let dir = tempDir("rt-\(sharing)")
            try model.save(to: dir)
            let back = try LearnedStagger<Float>(contentsOf: dir)
            #expect(back.config == model.config)
            for j in model.nets.indices {
                #expect(back.nets[j].parameters.map(\.bitPattern) == model.nets[j].parameters.map(\.bitPattern))
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func mismatchedWeightFilesAreRefused() throws {
        let model = try LearnedStagger<Float>(config: tinyConfig(), seed: 8)
        let tensors = model.namedTensors
        func refuse(_ t: [(name: String, shape: [Int], values: [Float])], _ what: String) throws {
            let file = try SafeTensorsFile(data: SafeTensorsFile.serialize(t))
            #expect(throws: TesseraError.self, "\(what)") { _ = try LearnedStagger<Float>(config: tinyConfig(), weights: file) }
        }
        try refuse(Array(tensors.dropLast()), "missing tensor")
        var wrong = tensors
        wrong[0] = (name: wrong[0].name, shape: [wrong[0].values.count], values: wrong[0].values)
        try refuse(wrong, "wrong shape")
        var nan = tensors
        nan[1].values[0] = .nan
        try refuse(nan, "NaN weight")
        try refuse(tensors + [(name: "net9.layers.0.weight", shape: [1], values: [0])], "extra tensor")
        // a shared config does not accept separate weights
        let file = try SafeTensorsFile(data: SafeTensorsFile.serialize(tensors))
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: tinyConfig(.shared), weights: file) }
        // missing directory, broken config
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(contentsOf: "/nonexistent/stagger") }
        let dir = tempDir("bad")
        try model.save(to: dir)
        try "{\"n\": 16}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(contentsOf: dir) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Sizes a config.json can ask for: refused with a reason before anything that large is
    /// allocated (found by the swift-stagger fuzzer: `n >= 2 * factor` trapped on overflow).
    @Test func hostileConfigSizesAreRefusedBeforeAllocating() throws {
        func refused(_ edit: (inout LearnedStaggerConfig) -> Void, _ what: String) {
            var c = tinyConfig()
            edit(&c)
            #expect(throws: TesseraError.self, "\(what)") { try c.validate() }
            #expect(throws: TesseraError.self, "\(what)") { _ = try LearnedStagger<Float>(config: c, seed: 1) }
        }
        refused({ $0.factor = 1 << 62; $0.n = 1 << 62 }, "a factor whose double overflows")
        refused({ $0.factor = 128; $0.n = 256 }, "s = 128: 16 384 networks")
        refused({ $0.width = 1024; $0.blocks = 64 }, "1.2e9 parameters in one network")
        refused({ $0.factor = 64; $0.n = 128; $0.width = 64 }, "4096 networks of 4096 inputs")
        #expect(throws: TesseraError.self) {
            _ = try ConvNet<Float>(layers: [.conv(inChannels: 1 << 40, outChannels: 1 << 40, kernel: 3)], padding: .periodic)
        }
        let counted = try ConvNet<Float>.parameterCount(tinyConfig().layers)
        let built = try ConvNet<Float>(layers: tinyConfig().layers, padding: .periodic)
        #expect(counted == built.parameters.count)
        // a large but allowed config with a weight file that lacks its tensors: refused by name,
        // without building the 16 networks of width 256 (75M parameters) first
        var big = tinyConfig(); big.factor = 4; big.width = 256; big.blocks = 4
        try big.validate()
        let small = try LearnedStagger<Float>(config: tinyConfig(), seed: 2)
        let file = try SafeTensorsFile(data: SafeTensorsFile.serialize(small.namedTensors))
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: big, weights: file) }
    }

    /// Weights that blow the field up to huge but finite values: the coarse spectral base step
    /// stops with the reason instead of taking ~10¹⁰ CFL steps (found by the swift-stagger fuzzer).
    @Test func blownUpFieldStopsTheSpectralBaseStep() throws {
        var c = LearnedStaggerConfig(n: 16, factor: 2, dt: 0.05)
        c.equation = "ns2d"; c.width = 2; c.blocks = 0; c.sharing = .shared; c.normalization = .fixed(1)
        c.base = .coarseSpectral; c.diffusivity = 1e-3
        var model = try LearnedStagger<Float>(config: c, seed: 3)
        // (the output convolution starts at zero with a base step: every weight is set)
        model.nets[0].parameters = model.nets[0].parameters.indices.map { $0 % 2 == 0 ? 3e4 : -2e4 }
        let u0 = try Field<Double>(grid: try c.grid()) { x in sin(x[1]) * cos(x[0]) }
        var reason = ""
        do { _ = try model.rollout(u0, steps: 3) } catch { reason = "\(error)" }
        #expect(["blown up", "too large", "not finite", "blow-up"].contains { reason.contains($0) }, "reason: \(reason)")
    }

    @Test func badShapesAndDivergence() throws {
        var c = tinyConfig(); c.n = 18; c.factor = 4
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: c, seed: 1) }   // 18 % 4 ≠ 0
        let model = try LearnedStagger<Float>(config: tinyConfig(), seed: 1)
        let other = try Field<Double>(grid: try Grid.periodic(20), values: randomSmoothField(n: 20, maxWavenumber: 2, seed: 1))
        #expect(throws: TesseraError.self) { _ = try model.rollout(other, steps: 1) }
        var nanField = randomSmoothField(n: 16, maxWavenumber: 2, seed: 1)
        nanField[5] = .nan
        #expect(throws: TesseraError.self) { _ = try model.rollout(try Field<Double>(grid: try tinyConfig().grid(), values: nanField), steps: 1) }
        // a learning rate far too large: training stops with the reason, weights stay finite
        var wild = model
        var o = StaggerTrainingOptions(); o.steps = 200; o.learningRate = 1e6
        let rep = try wild.train(options: o)
        #expect(rep.diverged || rep.losses.allSatisfy(\.isFinite))
        if rep.diverged { #expect(rep.stopReason.contains("diverged")) }
        #expect(wild.nets.allSatisfy { $0.parameters.allSatisfy(\.isFinite) })
        // NaN weights are refused at save time and caught by the rollout
        var broken = model
        broken.nets[0].parameters[0] = .nan
        #expect(throws: TesseraError.self) { try broken.save(to: tempDir("nan")) }
        let u0 = try Field<Double>(grid: try tinyConfig().grid(), values: randomSmoothField(n: 16, maxWavenumber: 2, seed: 2))
        #expect(throws: TesseraError.self) { _ = try broken.rollout(u0, steps: 2) }
    }
}
