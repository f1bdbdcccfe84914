import Foundation
import TesseraPDE

/// `tessera bench pde`: NS2D step vs the FFT floor and a NumPy peer; FFTW plan cost; FD CG
/// Poisson and FD heat vs naive serial loops, parallel efficiency, and CG bandwidth vs STREAM.
func runPDEBench(_ ctx: BenchContext) throws {
    // TESSERA_BENCH_PDE_CASE=stagger runs only the learned NeuralStagger case (minutes of training)
    if ProcessInfo.processInfo.environment["TESSERA_BENCH_PDE_CASE"] == "stagger" { return try runLearnedStaggerBench(ctx) }
    // TESSERA_BENCH_PDE_CASE=ns2d runs only the NS2D rows (step vs FFT floor and vs NumPy/SciPy)
    if ProcessInfo.processInfo.environment["TESSERA_BENCH_PDE_CASE"] == "ns2d" { return try runNS2DBench(ctx) }
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let one = try ThreadPool(threads: 1)

    // ---- FFTW plan cost: estimate vs measure (plan seconds; execute time of each plan)
    let planN = ctx.quick ? 256 : 1024
    FFTWisdom.forget()
    let est = try RealFFT.plan(shape: [planN, planN], effort: .estimate)
    let mea = try RealFFT.plan(shape: [planN, planN], effort: .measure)
    let a = try AlignedDoubles(count: planN * planN), s = try AlignedDoubles(count: 2 * est.complexCount)
    for i in 0..<a.count { a.pointer[i] = sin(Double(i)) }
    let ex = measurePairs(repeats: ctx.quick ? 5 : 11, ours: { mea.forward(a.pointer, s.pointer) },
                          baseline: { est.forward(a.pointer, s.pointer) })
    out.emit(BenchRecord(name: "fftw r2c \(planN)x\(planN) measure-plan vs estimate-plan hot", unit: "s",
                         ours: ex.ours.median, baselineName: "fftw estimate plan", baseline: ex.baseline.median,
                         threads: mea.threads,
                         extra: ["plan_s_measure": mea.planSeconds, "plan_s_estimate": est.planSeconds,
                                 "min": ex.ours.min, "max": ex.ours.max]))

    // ---- NS2D step vs the FFT floor and the NumPy/SciPy peer (NS2DBench.swift)
    try runNS2DBench(ctx)

    // ---- FD CG Poisson: per-iteration time, all cores vs 1 core vs naive serial CG; bandwidth
    let fdN = ctx.quick ? 512 : 2048
    let iters = ctx.quick ? 20 : 30
    let g = try Grid(shape: [fdN, fdN], lengths: [1, 1], boundaries: [.dirichlet(0), .dirichlet(0)])
    let f = try Field<Double>(grid: g) { c in sin(3 * c[0]) * c[1] }
    let par = try FDPoisson(grid: g, preconditioner: .jacobi, pool: pool)
    let ser = try FDPoisson(grid: g, tiles: [1, 1], preconditioner: .jacobi, pool: one)
    let naive = NaiveCG(n: fdN, h: g.spacing(0), f: f.toArray())
    var itCount = iters
    let cg = try measurePairs(repeats: ctx.quick ? 3 : 5, warmup: 1, ours: {
        itCount = try par.solve(f, tolerance: 1e-30, maxIterations: iters).report.iterations
    }, baseline: { naive.run(iterations: iters) })
    let cg1 = try measure(repeats: ctx.quick ? 3 : 5, warmup: 1) { _ = try ser.solve(f, tolerance: 1e-30, maxIterations: iters) }
    let perIt = cg.ours.median / Double(itCount)
    let bytes = FDPoisson.bytesPerPointPerIteration * Double(fdN * fdN)
    let probe = try MachineProbe(count: 16 << 20, pool: pool)
    let triad = try measure(repeats: 5, warmup: 1) { try probe.stream(.triad, pool: pool) }
    let streamGBs = probe.bytes(.triad) / triad.min / 1e9
    out.emit(BenchRecord(name: "fd cg poisson \(fdN)x\(fdN) jacobi per-iteration cold", unit: "s", ours: perIt,
                         baselineName: "naive serial CG", baseline: cg.baseline.median / Double(iters),
                         limitName: "stream_triad_gbs", limit: streamGBs, fraction: bytes / perIt / 1e9 / streamGBs,
                         threads: threads,
                         extra: ["gbs": bytes / perIt / 1e9, "one_thread_s": cg1.median / Double(iters),
                                 "parallel_efficiency": cg1.median / (cg.ours.median * Double(threads))]))
    // preconditioner effect on the iteration count (Jacobi vs none) at a tolerance of 1e-8
    let gs = try Grid(shape: [256, 256], lengths: [1, 1], boundaries: [.neumann, .dirichlet(0)])
    let fs = try Field<Double>(grid: gs) { c in sin(3 * c[0]) * c[1] }
    let itJ = try FDPoisson(grid: gs, preconditioner: .jacobi).solve(fs, tolerance: 1e-8).report.iterations
    let itN = try FDPoisson(grid: gs, preconditioner: .none).solve(fs, tolerance: 1e-8).report.iterations
    out.emit(BenchRecord(name: "fd cg poisson 256x256 iterations to 1e-8 jacobi vs none", unit: "iterations",
                         ours: Double(itJ), baselineName: "unpreconditioned CG", baseline: Double(itN), threads: threads))

    // ---- FD heat explicit: all cores vs 1 core vs naive serial loop
    let u0 = try Field<Double>(grid: g) { c in sin(3 * c[0]) * sin(2 * c[1]) }
    let dt = 0.9 * FDHeat.explicitLimit(grid: g, diffusivity: 1)
    let hp = try FDHeat(initial: u0, diffusivity: 1, dt: dt, pool: pool)
    let h1 = try FDHeat(initial: u0, diffusivity: 1, dt: dt, tiles: [1, 1], pool: one)
    let nh = NaiveHeat(n: fdN, c: dt / (g.spacing(0) * g.spacing(0)), u: u0.toArray())
    let hs = ctx.quick ? 5 : 10
    let heat = try measurePairs(repeats: ctx.quick ? 3 : 5, warmup: 1, ours: { try hp.advance(steps: hs) },
                                baseline: { nh.run(steps: hs) })
    let heat1 = try measure(repeats: ctx.quick ? 3 : 5, warmup: 1) { try h1.advance(steps: hs) }
    out.emit(BenchRecord(name: "fd heat explicit \(fdN)x\(fdN) per-step cold", unit: "s", ours: heat.ours.median / Double(hs),
                         baselineName: "naive serial loop", baseline: heat.baseline.median / Double(hs), threads: threads,
                         extra: ["one_thread_s": heat1.median / Double(hs),
                                 "parallel_efficiency": heat1.median / (heat.ours.median * Double(threads))]))

    // ---- NeuralStagger: 2×2 coarse NS2D solves in parallel vs the fine solve
    let sn = ctx.quick ? 128 : 256
    let sg = try Grid.periodic(sn)
    var so = NS2DOptions(viscosity: 1e-3)
    so.cfl = 0.4
    let w0 = try NavierStokes2D.randomTurbulence(grid: sg, peakWavenumber: 4, seed: 9)
    let st = try runStaggered(initial: w0, factors: [2, 2], time: 0.5, solver: NS2DCoarseSolver(options: so)) { w in
        let ns = try NavierStokes2D(vorticity: w, options: so, effort: .estimate)
        try ns.advance(to: 0.5)
        return try ns.vorticity()
    }
    out.emit(BenchRecord(name: "neuralstagger ns2d \(sn)x\(sn) s=2x2 t=0.5", unit: "s", ours: st.coarseSeconds,
                         baselineName: "fine-resolution solve", baseline: st.fineSeconds, threads: threads,
                         extra: ["error": st.relativeL2Error ?? .nan, "max_error": st.maxError ?? .nan]))
    try runLearnedStaggerBench(ctx)
}

/// Textbook serial CG for −∇²u = −f on an n×n Dirichlet-0 grid (the naive reference).
private final class NaiveCG {
    let n: Int, c: Double
    var x, r, p, q: [Double]
    let b: [Double]
    init(n: Int, h: Double, f: [Double]) {
        self.n = n; c = 1 / (h * h)
        b = f.map { -$0 }
        x = [Double](repeating: 0, count: n * n); r = b; p = b; q = x
    }
    func run(iterations: Int) {
        x = [Double](repeating: 0, count: n * n); r = b; p = b
        var rr = r.reduce(0) { $0 + $1 * $1 }
        for _ in 0..<iterations {
            var pq = 0.0
            for i in 0..<n { for j in 0..<n {
                let k = i * n + j
                var v = 4 * p[k]
                if i > 0 { v -= p[k - n] }
                if i < n - 1 { v -= p[k + n] }
                if j > 0 { v -= p[k - 1] }
                if j < n - 1 { v -= p[k + 1] }
                q[k] = c * v; pq += p[k] * q[k]
            } }
            let a = rr / pq
            var rn = 0.0
            for k in 0..<(n * n) { x[k] += a * p[k]; r[k] -= a * q[k]; rn += r[k] * r[k] }
            let beta = rn / rr
            rr = rn
            for k in 0..<(n * n) { p[k] = r[k] + beta * p[k] }
        }
    }
}

/// Serial forward-Euler heat step on an n×n Dirichlet-0 grid (the naive reference).
private final class NaiveHeat {
    let n: Int, c: Double
    var u, w: [Double]
    init(n: Int, c: Double, u: [Double]) { self.n = n; self.c = c; self.u = u; w = u }
    func run(steps: Int) {
        for _ in 0..<steps {
            for i in 0..<n { for j in 0..<n {
                let k = i * n + j
                let up = i > 0 ? u[k - n] : 0, dn = i < n - 1 ? u[k + n] : 0
                let lf = j > 0 ? u[k - 1] : 0, rt = j < n - 1 ? u[k + 1] : 0
                w[k] = u[k] + c * (up + dn + lf + rt - 4 * u[k])
            } }
            swap(&u, &w)
        }
    }
}
