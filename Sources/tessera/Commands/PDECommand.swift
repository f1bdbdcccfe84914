import ArgumentParser
import Foundation
import TesseraCLICore
import TesseraPDE

struct PDECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pde",
        abstract: "PDE solvers: spectral 2-D Navier–Stokes, finite-difference heat and Poisson, Burgers; learned NeuralStagger.",
        subcommands: [NS2DRun.self, HeatRun.self, PoissonRun.self, BurgersRun.self, StaggerTrain.self, StaggerRun.self]
    )
}

struct NS2DRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns2d",
        abstract: "Decaying 2-D turbulence (vorticity form, IF-RK4, 2/3 rule); .npy snapshots and PNG frames.")

    @Option(parsing: .unconditional, help: "Grid points per axis.") var n = 256
    @Option(parsing: .unconditional, help: "Time steps.") var steps = 500
    @Option(parsing: .unconditional, help: "Viscosity.") var nu = 1e-4
    @Option(parsing: .unconditional, help: "CFL number of the adaptive step.") var cfl = 0.5
    @Option(parsing: .unconditional, help: "Peak wavenumber of the random initial spectrum.") var k0 = 8.0
    @Option(parsing: .unconditional, help: "Random seed of the initial condition.") var seed: UInt64 = 1
    @Option(help: "Output directory.") var out = "run"
    @Option(parsing: .unconditional, help: "Write a snapshot every this many steps (0: only the last).") var every = 0
    @Option(help: "FFTW wisdom file: loaded if present, saved at the end.") var wisdom: String?

    func validate() throws {
        guard n >= 8, steps >= 0 else { throw ValidationError("need --n ≥ 8 and --steps ≥ 0") }
        guard nu > 0, cfl > 0, every >= 0 else { throw ValidationError("need --nu > 0, --cfl > 0 and --every ≥ 0") }
    }

    func run() throws {
        try makeDirectory(out)
        if let wisdom, FileManager.default.fileExists(atPath: wisdom) { try FFTWisdom.load(from: wisdom) }
        let grid = try Grid.periodic(n)
        let w0 = try NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: k0, seed: seed)
        var o = NS2DOptions(viscosity: nu)
        o.cfl = cfl
        let ns = try NavierStokes2D(vorticity: w0, options: o)
        let d0 = ns.diagnostics
        print(String(format: "ns2d %d² ν=%.3g: E=%.6f Z=%.4f at t=0", n, nu, d0.energy, d0.enstrophy))
        func snapshot(_ tag: String) throws {
            let w = try ns.vorticity()
            try w.save(npy: "\(out)/vorticity_\(tag).npy")
            try w.plot(title: String(format: "Decaying 2-D turbulence: vorticity at t = %.3f", ns.time),
                       subtitle: String(format: "spectral Navier–Stokes, %d² periodic grid, ν = %.3g, step %d", n, nu, ns.steps),
                       valueLabel: "vorticity ω (dimensionless)", colormap: .tide, range: .symmetric,
                       xLabel: "x (dimensionless)", yLabel: "y (dimensionless)").writePNG(to: "\(out)/vorticity_\(tag).png")
        }
        var bar = ProgressBar(total: steps)
        let t0 = Date()
        for s in 1...max(steps, 1) where steps > 0 {
            try ns.step()
            if every > 0 && s % every == 0 { try snapshot(String(format: "%06d", s)) }
            bar.update(s, String(format: "t=%.3f dt=%.2e", ns.time, ns.lastDt))
        }
        let wall = Date().timeIntervalSince(t0)
        try snapshot("final")
        let d = ns.diagnostics
        print(String(format: "t=%.4f after %d steps (%.3f s, %.2f ms/step): E=%.6f Z=%.4f max|u|=%.3f",
                     ns.time, ns.steps, wall, 1000 * wall / Double(max(steps, 1)), d.energy, d.enstrophy, d.maxVelocity))
        print("wrote \(out)/vorticity_final.png and .npy")
        if let wisdom { try FFTWisdom.save(to: wisdom) }
    }
}

struct HeatRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heat",
        abstract: "Finite-difference heat equation on [0,1]^D from a hot box, on tiles over the pool (or on MPI ranks: --distributed).")

    @OptionGroup var options: HeatOptions

    func validate() throws { try options.validate(distributedRun: false) }

    func run() throws {
        let o = options
        let (_, u0, dt) = try o.problem()
        let heat = try FDHeat(initial: u0, diffusivity: o.nu, dt: dt, scheme: o.fdScheme)
        var bar = ProgressBar(total: o.steps)
        let t0 = Date()
        for s in stride(from: 0, to: o.steps, by: 10) {
            try heat.advance(steps: min(10, o.steps - s))
            bar.update(min(s + 10, o.steps))
        }
        let wall = Date().timeIntervalSince(t0)
        try HeatOutput.write(try heat.solution(), options: o, dt: dt, seconds: wall, ranOn: countedNoun(heat.tiled.tileCount, "tile"))
    }
}

struct PoissonRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poisson",
        abstract: "Poisson ∇²u = f on [0,1]^D with a manufactured solution: FD + PCG on tiles (or on MPI ranks: --distributed), and the spectral solver on the periodic box.")

    @OptionGroup var options: PoissonOptions

    func validate() throws { try options.validate(distributedRun: false) }

    func run() throws {
        let o = options
        let problem = try PoissonProblem(grid: try o.grid.grid())
        let solver = try FDPoisson(grid: problem.grid)
        let t0 = Date()
        let (u, rep) = try solver.solve(problem.rhs, tolerance: o.tol)
        let wall = Date().timeIntervalSince(t0)
        try PoissonOutput.write(u, problem: problem, options: o, iterations: rep.iterations, residual: rep.relativeResidual,
                                seconds: wall, ranOn: countedNoun(solver.tiled.tileCount, "tile"))
        // the spectral solver on the periodic box of the same size (2-D)
        let n = o.grid.n
        let gp = try Grid.periodic(n)
        let fp = try Field<Double>(grid: gp) { c in -5 * sin(c[1]) * cos(2 * c[0]) }
        let ep = try Field<Double>(grid: gp) { c in sin(c[1]) * cos(2 * c[0]) }
        let t1 = Date()
        let up = try SpectralPoisson(grid: gp).solve(fp)
        print(String(format: "spectral periodic %d²: max error %.3e, %.4f s", n, try up.maxDifference(ep), Date().timeIntervalSince(t1)))
    }
}

struct BurgersRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "burgers",
        abstract: "Viscous Burgers u_t + u·u_x = ν·u_xx from u₀ = sin x (shock formation); space-time PNG.")

    @Option(parsing: .unconditional, help: "Grid points.") var n = 1024
    @Option(parsing: .unconditional, help: "Viscosity.") var nu = 0.01
    @Option(parsing: .unconditional, help: "Final time.") var t = 2.0
    @Option(parsing: .unconditional, help: "Time step.") var dt = 1e-3
    @Option(help: "Output directory.") var out = "run"

    func validate() throws {
        guard n >= 4, nu > 0, t >= 0, dt > 0 else { throw ValidationError("need --n ≥ 4, --nu > 0, --t ≥ 0 and --dt > 0") }
    }

    func run() throws {
        try makeDirectory(out)
        let g = try Grid(shape: [n])
        let b = try Burgers1D(initial: try Field(grid: g) { c in sin(c[0]) }, viscosity: nu)
        let frames = 200
        var rows: [Double] = []
        var bar = ProgressBar(total: frames)
        for k in 1...frames {
            try b.advance(to: t * Double(k) / Double(frames), dt: dt)
            rows += try b.solution().toArray()
            bar.update(k)
        }
        let u = try b.solution()
        try u.save(npy: "\(out)/burgers_final.npy")
        let h = g.spacing(0)
        var xt = FieldPlot(title: "Viscous Burgers equation: u(x, t) from u(x, 0) = sin x",
                           xAxis: PlotAxis("x (periodic, dimensionless)", range: (-h / 2)...(2 * Double.pi - h / 2)),
                           yAxis: PlotAxis("time t (dimensionless)", range: 0...t),
                           valueLabel: "velocity u", colormap: .tide, range: .symmetric)
        xt.subtitle = String(format: "ν = %.3g, %d grid points, %d time rows: the steepening front is the shock", nu, n, frames)
        (xt.plotWidth, xt.plotHeight) = (640, 400)
        try xt.render(rows, rows: frames, cols: n).writePNG(to: "\(out)/burgers_xt.png")
        print(String(format: "burgers n=%d ν=%.3g t=%.2f: max|u| = %.4f; wrote %@/burgers_xt.png (x → right, t ↑)", n, nu, t, u.maxAbs, out))
    }
}

struct StaggerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagger-train",
        abstract: "Train learned NeuralStagger coarse solvers (heat equation or 2-D turbulence) on the fine discretisation's residual; no solver labels.")

    @OptionGroup var options: StaggerTrainOptions
    @Option(help: "Output directory: config.json, model.safetensors, loss.png, loss.csv.") var out = "stagger-model"
    @Option(name: .customLong("validate"), parsing: .unconditional,
            help: "Validation rollout steps against the fine solver (0: none).") var validationSteps = 50

    func validate() throws { guard validationSteps >= 0 else { throw ValidationError("--validate must be ≥ 0") } }

    func run() throws {
        try makeDirectory(out)
        let cfg = try options.config()
        var model = try LearnedStagger<Float>(config: cfg, seed: options.seed)
        print(String(format: "stagger-train %@ %d² s=%d (%d sub-tasks, %@), %d parameters, dt=%.4g (κdt/h²=%.3g), T=%d (one network call: %.4g)",
                     cfg.equation, cfg.n, cfg.factor, cfg.subtasks, cfg.sharing.rawValue, model.parameterCount, cfg.dt,
                     cfg.diffusivity * cfg.dt / pow(cfg.length / Double(cfg.n), 2), cfg.temporalSteps, cfg.learnedStep))
        var bar = ProgressBar(total: options.steps)
        let blas = blasThreads
        setBLASThreads(1)   // the sub-task networks run on the pool's workers, one BLAS thread each
        defer { setBLASThreads(blas) }
        let report = try model.train(options: options.training) { step, loss, lr in
            bar.update(step, String(format: "loss %.3e lr %.1e", loss, lr))
        }
        bar.update(options.steps, "")
        print(String(format: "trained %d steps in %.1f s (%.1f fields/s, %.2f conv GFLOP/s): %@; final loss %.3e",
                     report.steps, report.seconds, report.samplesPerSecond,
                     report.samplesPerSecond * report.convFlopsPerSample / 1e9, report.stopReason, report.losses.last ?? .nan))
        if let v0 = report.initialValidationLoss, let vb = report.bestValidationLoss, let kept = report.bestStep {
            print(String(format: "held-out physics loss %.3e untrained, best %.3e: kept the parameters of step %d", v0, vb, kept))
        }
        try model.save(to: out)
        let csv = report.losses.enumerated().map { "\($0.offset + 1),\($0.element)" }.joined(separator: "\n")
        try ("step,loss\n" + csv + "\n").write(toFile: "\(out)/loss.csv", atomically: true, encoding: .utf8)
        if !report.losses.isEmpty {
            try report.lossCurve(title: "NeuralStagger training: fine \(cfg.equation == "ns2d" ? "implicit-midpoint vorticity" : "Crank–Nicolson") residual, \(cfg.equation) \(cfg.n)², s = \(cfg.factor)")
                .writePNG(to: "\(out)/loss.png")
        }
        print("wrote \(out)/config.json, model.safetensors, loss.csv, loss.png")
        if report.diverged { throw ValidationError("training stopped early: \(report.stopReason) (weights of the last finite step saved)") }
        if validationSteps > 0, cfg.equation == "ns2d" {
            let w0 = try NavierStokes2D.randomTurbulence(grid: try cfg.grid(), peakWavenumber: 4, seed: 424_242)
            let c = try model.compareNS2DRollout(w0, steps: validationSteps, pool: .shared)
            print(String(format: "validation, %d steps (t = %.3g) vs NavierStokes2D: rel. L2 %.3e (not moving: %.3e); energy spectrum within %.2fx",
                         validationSteps, cfg.learnedStep * Double(validationSteps), c.relativeL2.last ?? .nan, c.persistenceL2, c.worstSpectrumRatio))
        } else if validationSteps > 0 {
            let u0 = try Field<Double>(grid: try cfg.grid(), values: randomSmoothField(n: cfg.n, maxWavenumber: max(1, cfg.n / 8), seed: 424_242))
            let c = try model.compareHeatRollout(u0, steps: validationSteps, pool: .shared)
            print(String(format: "validation, %d steps vs FDHeat Crank–Nicolson: rel. L2 %.3e (vs exact %.3e; not moving: %.3e)",
                         validationSteps, c.relativeL2.last ?? .nan, c.relativeL2VsExact, c.persistenceL2))
        }
    }
}

struct StaggerRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagger-run",
        abstract: "Roll a trained NeuralStagger model out (sub-tasks in parallel) and compare it with the fine solver in one picture.")

    @Option(help: "Model directory written by stagger-train.") var model = "stagger-model"
    @Option(parsing: .unconditional, help: "Learned steps.") var steps = 50
    @Option(parsing: .unconditional, help: "Seed of the random initial field.") var seed: UInt64 = 424_242
    @Option(help: "Initial field as .npy (n×n float64); default: a random smooth field.") var initial: String?
    @Option(parsing: .unconditional, help: "Also write this coarse sub-field alone (a valid coarse solution), 0 ..< s².") var coarse: Int?
    @Option(help: "Output directory.") var out = "stagger-run"

    func validate() throws { guard steps >= 1 else { throw ValidationError("--steps must be ≥ 1") } }

    func run() throws {
        try makeDirectory(out)
        let m = try LearnedStagger<Float>(contentsOf: model)
        let cfg = m.config
        let grid = try cfg.grid()
        if cfg.equation == "ns2d" {
            let w0 = try initial.map { try Field<Double>(grid: grid, npy: $0) }
                ?? NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: 4, seed: seed)
            let c = try m.compareNS2DRollout(w0, steps: steps, pool: .shared)
            try c.learned.save(npy: "\(out)/learned.npy")
            try c.fine.save(npy: "\(out)/fine.npy")
            let sub = String(format: "2-D turbulence %d² s=%d, %d steps of dt=%.3g: rel. L2 vs fine %.2e, spectrum within %.2fx; learned %.3f s, fine %.3f s",
                             cfg.n, cfg.factor, steps, cfg.learnedStep, c.relativeL2.last ?? .nan, c.worstSpectrumRatio, c.learnedSeconds, c.fineSeconds)
            try c.figure(initial: w0, title: "Learned NeuralStagger rollout vs the fine spectral solver (vorticity)", subtitle: sub)
                .writePNG(to: "\(out)/compare.png")
            if let k = coarse { try m.coarseRollout(w0, steps: steps, index: k, pool: .shared).save(npy: "\(out)/coarse_\(k).npy") }
            print(sub + "; wrote \(out)/compare.png, learned.npy, fine.npy")
            return
        }
        let u0 = try initial.map { try Field<Double>(grid: grid, npy: $0) }
            ?? Field<Double>(grid: grid, values: randomSmoothField(n: cfg.n, maxWavenumber: max(1, cfg.n / 8), seed: seed))
        let c = try m.compareHeatRollout(u0, steps: steps, pool: .shared)
        try c.learned.save(npy: "\(out)/learned.npy")
        try c.fine.save(npy: "\(out)/fine.npy")
        let sub = String(format: "heat %d² s=%d (%@), %d steps of dt=%.3g: rel. L2 vs fine %.2e; learned %.3f s, fine CN %.3f s",
                         cfg.n, cfg.factor, cfg.sharing.rawValue, steps, cfg.learnedStep, c.relativeL2.last ?? .nan, c.learnedSeconds, c.fineSeconds)
        try c.figure(initial: u0, title: "Learned NeuralStagger rollout vs the fine Crank–Nicolson solver", subtitle: sub)
            .writePNG(to: "\(out)/compare.png")
        if let k = coarse {
            try m.coarseRollout(u0, steps: steps, index: k, pool: .shared).save(npy: "\(out)/coarse_\(k).npy")
        }
        print(sub)
        print(String(format: "exact heat flow: rel. L2 %.3e; not moving: %.3e; wrote %@/compare.png, learned.npy, fine.npy",
                     c.relativeL2VsExact, c.persistenceL2, out))
    }
}
