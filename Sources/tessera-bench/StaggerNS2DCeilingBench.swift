import Foundation
import Tessera
import TesseraPDE

/// The ns2d ceiling (`TESSERA_STAGGER_VARIANTS=ceil64`): the rollout error, against the fine
/// reference of the learned bench (same field, ν, Δt), of the schemes a loss can target — the
/// zero of the midpoint residual with T temporal sub-steps, of the IF-RK4 residual with m
/// sub-steps — and of the coarse solvers, plus the reference's own sensitivity (CFL 0.25 instead
/// of 0.5; a 1e-3 relative perturbation of the initial field). Knobs: TESSERA_STAGGER_NS_{DT,
/// STEPS}, TESSERA_STAGGER_CEIL_SCHEMES (e.g. "mp1,mp2,mp4,if1,if2,c2,b2").
func runNS2DCeiling(_ ctx: BenchContext, n: Int) throws {
    let env = ProcessInfo.processInfo.environment
    let dt = Double(env["TESSERA_STAGGER_NS_DT"] ?? "") ?? 0.05, steps = Int(env["TESSERA_STAGGER_NS_STEPS"] ?? "") ?? 40
    let grid = try Grid.periodic(n), nu = 1e-3
    let w0 = try NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: 4, seed: 9)
    let ref = try NS2DCeiling.reference(w0, viscosity: nu, dt: dt, steps: steps)
    func line(_ name: String, _ rel: [Double], _ spec: Double, _ sec: Double) {
        let pick = [1, 2, 4, 8, 16, 24, 32, 40].filter { $0 <= rel.count }.map { String(format: "%d:%.4f", $0, rel[$0 - 1]) }.joined(separator: " ")
        let within = rel.firstIndex { $0 > 0.1 } ?? rel.count
        print(String(format: "[ns2d ceiling %d² dt=%g] %@: rel. L2 %@ | within 10 %%: %d steps | spectrum worst %.3g | %.3f s", n, dt, name, pick, within, spec, sec))
        ctx.output.emit(BenchRecord(name: "neuralstagger ns2d ceiling \(n)x\(n) dt=\(dt): \(name), rel L2 after \(rel.count) steps", unit: "rel_l2",
                                    ours: rel.last ?? .nan, baselineName: "-", baseline: 0, limitName: "target rel_l2", limit: 0.1, threads: 1,
                                    extra: ["steps_within_10pct": Double(within), "spectrum_worst_ratio": spec, "max_rel_l2": rel.max() ?? .nan, "seconds": sec]))
    }
    let specs = (env["TESSERA_STAGGER_CEIL_SCHEMES"] ?? "mp1,mp2,mp4,mp8,if1,if2,c2,b2,p2").split(separator: ",")
    for sp in specs {
        let k = Int(sp.drop { $0.isLetter }) ?? 1
        let scheme: NS2DCeilingScheme
        switch sp.prefix(while: { $0.isLetter }) {
        case "mp": scheme = .midpoint(temporal: k)
        case "if": scheme = .integratingFactor(substeps: k)
        case "c": scheme = .coarseSpectral(factor: k)
        case "b": scheme = .staggeredBase(factor: k)
        case "p": scheme = .staggeredPersistentBase(factor: k)
        default: continue
        }
        do {
            let c = try NS2DCeiling.curve(scheme, from: w0, viscosity: nu, dt: dt, reference: ref)
            line(scheme.description, c.relativeL2, c.worstSpectrumRatio, c.seconds)
        } catch { print("[ns2d ceiling] \(scheme): \(error)") }
    }
    // the reference's own sensitivity: its step (CFL 0.25) and a 1e-3 perturbation of w0
    var o = NS2DOptions(viscosity: nu); o.cfl = 0.25
    let half = try NavierStokes2D(vorticity: w0, options: o, effort: .estimate)
    var rel: [Double] = []
    for s in 0..<steps { try half.advance(to: dt * Double(s + 1)); rel.append(relativeL2(try half.vorticity(), ref[s])) }
    line("fine IF-RK4 at CFL 0.25", rel, NS2DCeiling.worstSpectrumRatio(half.energySpectrum(), try NavierStokes2D(vorticity: ref.last!, options: o, effort: .estimate).energySpectrum(), n: n), 0)
    let noise = try NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: 4, energy: 0.5e-6, seed: 77)
    let pert = try Field(grid: grid, values: zip(w0.toArray(), noise.toArray()).map { $0 + $1 })
    let p = try NavierStokes2D(vorticity: pert, options: NS2DOptions(viscosity: nu), effort: .estimate)
    rel = []
    for s in 0..<steps { try p.advance(to: dt * Double(s + 1)); rel.append(relativeL2(try p.vorticity(), ref[s])) }
    line(String(format: "fine, w0 perturbed by %.1e rel.", relativeL2(pert, w0)), rel, 1, 0)
}
