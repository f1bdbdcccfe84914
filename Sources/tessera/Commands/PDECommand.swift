import ArgumentParser
import Foundation
import TesseraCLICore
import TesseraPDE

struct PDECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pde",
        abstract: "PDE solvers: spectral 2-D Navier–Stokes, finite-difference heat and Poisson, Burgers.",
        subcommands: [NS2DRun.self, HeatRun.self, PoissonRun.self, BurgersRun.self]
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
