import ArgumentParser
import Foundation
import TesseraPDE

struct PDECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pde",
        abstract: "PDE solvers: spectral 2-D Navier–Stokes, finite-difference heat and Poisson, Burgers.",
        subcommands: [NS2DRun.self, HeatRun.self, PoissonRun.self, BurgersRun.self]
    )
}

/// A one-line progress bar on stderr.
struct ProgressBar {
    let total: Int
    var last = -1
    mutating func update(_ done: Int, _ note: String = "") {
        let pct = total > 0 ? 100 * done / total : 100
        guard pct != last || done == total else { return }
        last = pct
        let w = 30, filled = w * pct / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: w - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(pct)% \(note)   ".utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

struct NS2DRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ns2d",
        abstract: "Decaying 2-D turbulence (vorticity form, IF-RK4, 2/3 rule); .npy snapshots and PNG frames.")

    @Option(help: "Grid points per axis.") var n = 256
    @Option(help: "Time steps.") var steps = 500
    @Option(help: "Viscosity.") var nu = 1e-4
    @Option(help: "CFL number of the adaptive step.") var cfl = 0.5
    @Option(help: "Peak wavenumber of the random initial spectrum.") var k0 = 8.0
    @Option(help: "Random seed of the initial condition.") var seed: UInt64 = 1
    @Option(help: "Output directory.") var out = "run"
    @Option(help: "Write a snapshot every this many steps (0: only the last).") var every = 0
    @Option(help: "FFTW wisdom file: loaded if present, saved at the end.") var wisdom: String?

    func run() throws {
        guard n >= 8, steps >= 0 else { throw ValidationError("need --n ≥ 8 and --steps ≥ 0") }
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
        abstract: "Finite-difference heat equation on [0,1]² (Dirichlet 0) from a hot square, on tiles over the pool.")

    @Option(help: "Grid points per axis.") var n = 256
    @Option(help: "Time steps.") var steps = 200
    @Option(help: "Diffusivity.") var nu = 1.0
    @Option(help: "explicit or crankNicolson.") var scheme = "explicit"
    @Option(help: "Time step (default: 0.9 × the explicit stability limit).") var dt: Double?
    @Option(help: "Output directory.") var out = "run"

    func run() throws {
        guard let sch = FDHeatScheme(rawValue: scheme) else { throw ValidationError("--scheme explicit|crankNicolson") }
        try makeDirectory(out)
        let g = try Grid(shape: [n, n], lengths: [1, 1], boundaries: [.dirichlet(0), .dirichlet(0)])
        let u0 = try Field<Double>(grid: g) { c in abs(c[0] - 0.5) < 0.2 && abs(c[1] - 0.5) < 0.2 ? 1 : 0 }
        let step = dt ?? 0.9 * FDHeat.explicitLimit(grid: g, diffusivity: nu)
        let heat = try FDHeat(initial: u0, diffusivity: nu, dt: step, scheme: sch)
        var bar = ProgressBar(total: steps)
        let t0 = Date()
        for s in stride(from: 0, to: steps, by: 10) {
            try heat.advance(steps: min(10, steps - s))
            bar.update(min(s + 10, steps))
        }
        let wall = Date().timeIntervalSince(t0)
        let u = try heat.solution()
        try u.save(npy: "\(out)/heat_final.npy")
        try u.plot(title: String(format: "Heat equation: temperature after %d steps (t = %.3g)", steps, Double(steps) * step),
                   subtitle: "finite differences (\(scheme)), \(n)² grid on the unit square, u = 0 on the boundary, u = 1 in the centre square at t = 0",
                   valueLabel: "temperature u (initial value 1)", colormap: .ember, range: .fixed(0, 1),
                   xLabel: "x (unit square)", yLabel: "y (unit square)").writePNG(to: "\(out)/heat_final.png")
        print(String(format: "heat %d² %@ dt=%.3g, %d steps on %d tiles: %.3f s, max u = %.4f; wrote %@/heat_final.png",
                     n, scheme, step, steps, heat.tiled.tileCount, wall, u.maxAbs, out))
    }
}

struct PoissonRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poisson",
        abstract: "Poisson ∇²u = f on [0,1]² with a manufactured solution: FD + PCG on tiles, and the spectral solver on the periodic box.")

    @Option(help: "Grid points per axis.") var n = 256
    @Option(help: "dirichlet or neumann (FD solve).") var bc = "dirichlet"
    @Option(help: "Relative residual tolerance.") var tol = 1e-10
    @Option(help: "Output directory.") var out = "run"

    func run() throws {
        try makeDirectory(out)
        let pi = Double.pi
        let neumann = bc == "neumann"
        guard neumann || bc == "dirichlet" else { throw ValidationError("--bc dirichlet|neumann") }
        let b: Boundary = neumann ? .neumann : .dirichlet(0)
        let g = try Grid(shape: [n, n], lengths: [1, 1], boundaries: [b, b])
        let exact = try Field<Double>(grid: g) { c in neumann ? cos(pi * c[0]) * cos(2 * pi * c[1]) : sin(pi * c[0]) * sin(2 * pi * c[1]) }
        var f = exact
        f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= -5 * pi * pi } }
        let solver = try FDPoisson(grid: g)
        let t0 = Date()
        let (u, rep) = try solver.solve(f, tolerance: tol)
        let wall = Date().timeIntervalSince(t0)
        try u.save(npy: "\(out)/poisson_fd.npy")
        try u.plot(title: "Poisson ∇²u = f: finite-difference solution (PCG on tiles)",
                   subtitle: "\(n)² grid, \(bc) boundary, exact u = \(neumann ? "cos(πy)·cos(2πx)" : "sin(πy)·sin(2πx)")",
                   valueLabel: "u", colormap: .tide, range: .symmetric,
                   xLabel: "x (unit square)", yLabel: "y (unit square)").writePNG(to: "\(out)/poisson_fd.png")
        print(String(format: "FD %@ %d²: %d CG iterations, residual %.2e, max error %.3e (O(h²)), %.3f s on %d tiles",
                     bc, n, rep.iterations, rep.relativeResidual, try u.maxDifference(exact), wall, solver.tiled.tileCount))
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

    @Option(help: "Grid points.") var n = 1024
    @Option(help: "Viscosity.") var nu = 0.01
    @Option(help: "Final time.") var t = 2.0
    @Option(help: "Time step.") var dt = 1e-3
    @Option(help: "Output directory.") var out = "run"

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
