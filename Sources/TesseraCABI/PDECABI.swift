// The C ABI of include/tessera/pde.h: `@_cdecl` functions over TesseraPDE's spectral solvers on
// periodic boxes (Poisson, heat, viscous Burgers, advection–diffusion). Fields are contiguous
// C-order arrays of doubles; every call copies its input into a Field, runs the Swift solver and
// copies the result out, so the output equals the Swift API's bit for bit.
import Tessera
import TesseraPDE

/// The periodic grid of `ndim` axes with these point counts and lengths (NULL: 2π each).
private func periodicGrid(_ what: String, _ ndim: Int32, _ shape: UnsafePointer<Int64>?,
                          _ lengths: UnsafePointer<Double>?) throws(TesseraError) -> Grid {
    guard ndim >= 1, ndim <= 3 else { throw .invalidArgument("\(what): ndim must be 1, 2 or 3 (got \(ndim))") }
    guard let shape else { throw .invalidArgument("\(what): shape is NULL") }
    var dims = [Int]()
    for a in 0..<Int(ndim) {
        guard shape[a] >= 1, shape[a] <= Int64(Int32.max) else {
            throw .invalidArgument("\(what): shape[\(a)] = \(shape[a]) must be in 1...\(Int32.max)")
        }
        dims.append(Int(shape[a]))
    }
    var lens = [Double](repeating: 2 * Double.pi, count: Int(ndim))
    if let lengths {
        for a in 0..<Int(ndim) {
            guard lengths[a] > 0, lengths[a].isFinite else {
                throw .invalidArgument("\(what): lengths[\(a)] = \(lengths[a]) must be positive and finite")
            }
            lens[a] = lengths[a]
        }
    }
    return try Grid(shape: dims, lengths: lens, boundaries: Array(repeating: .periodic, count: dims.count))
}

private func fftEffort(_ e: Int32, _ what: String) throws(TesseraError) -> FFTEffort {
    switch e {
    case 0: return .estimate
    case 1: return .measure
    case 2: return .patient
    default: throw .invalidArgument("\(what): effort \(e) is not a tsr_pde_effort (0...2)")
    }
}

/// A Field on `grid` holding the grid.count doubles at `p`.
private func field(_ grid: Grid, _ p: UnsafePointer<Double>?, _ name: String, _ what: String) throws(TesseraError) -> Field<Double> {
    guard let p else { throw .invalidArgument("\(what): \(name) is NULL") }
    return try Field(grid: grid, values: Array(UnsafeBufferPointer(start: p, count: grid.count)))
}

private func write(_ f: Field<Double>, to out: UnsafeMutablePointer<Double>?, _ what: String) throws(TesseraError) {
    guard let out else { throw .invalidArgument("\(what): the output is NULL") }
    f.withUnsafeBufferPointer { b in out.update(from: b.baseAddress!, count: b.count) }
}

/// `tsr_pde_poisson_f64`: solves ∇²u = f − mean(f) on a periodic box; u has zero mean.
@_cdecl("tsr_pde_poisson_f64")
public func tsr_pde_poisson_f64(_ ndim: Int32, _ shape: UnsafePointer<Int64>?, _ lengths: UnsafePointer<Double>?,
                                _ effort: Int32, _ f: UnsafePointer<Double>?, _ u: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_pde_poisson_f64"
        let grid = try periodicGrid(what, ndim, shape, lengths)
        let solver = try SpectralPoisson(grid: grid, effort: try fftEffort(effort, what))
        try write(try solver.solve(try field(grid, f, "f", what)), to: u, what)
    }
}

/// `tsr_pde_heat_f64`: u(t) of u_t = κ∇²u from u(0) = u0 on a periodic box (exact in time).
@_cdecl("tsr_pde_heat_f64")
public func tsr_pde_heat_f64(_ ndim: Int32, _ shape: UnsafePointer<Int64>?, _ lengths: UnsafePointer<Double>?,
                             _ effort: Int32, _ diffusivity: Double, _ t: Double, _ u0: UnsafePointer<Double>?,
                             _ u: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_pde_heat_f64"
        let grid = try periodicGrid(what, ndim, shape, lengths)
        let solver = try SpectralHeat(grid: grid, diffusivity: diffusivity, effort: try fftEffort(effort, what))
        try write(try solver.advance(try field(grid, u0, "u0", what), by: t), to: u, what)
    }
}

/// `tsr_pde_burgers1d_f64`: u(t) of u_t + u·u_x = ν·u_xx on a periodic interval (IF-RK4, steps ≤ dt);
/// `length` 0 means 2π.
@_cdecl("tsr_pde_burgers1d_f64")
public func tsr_pde_burgers1d_f64(_ n: Int64, _ length: Double, _ effort: Int32, _ viscosity: Double, _ t: Double,
                                  _ dt: Double, _ u0: UnsafePointer<Double>?, _ u: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_pde_burgers1d_f64"
        var n = n, len = length
        let grid = length == 0 ? try periodicGrid(what, 1, &n, nil) : try periodicGrid(what, 1, &n, &len)
        guard t >= 0 else { throw .invalidArgument("\(what): t must be >= 0 (got \(t))") }
        let solver = try Burgers1D(initial: try field(grid, u0, "u0", what), viscosity: viscosity,
                                   effort: try fftEffort(effort, what))
        try solver.advance(to: t, dt: dt)
        try write(try solver.solution(), to: u, what)
    }
}

/// `tsr_pde_advection_diffusion_f64`: c(t) of c_t + v·∇c = κ∇²c on a periodic 2-D/3-D box with
/// a steady velocity (ndim fields at `velocity`, axis order as the shape).
@_cdecl("tsr_pde_advection_diffusion_f64")
public func tsr_pde_advection_diffusion_f64(_ ndim: Int32, _ shape: UnsafePointer<Int64>?, _ lengths: UnsafePointer<Double>?,
                                            _ effort: Int32, _ diffusivity: Double, _ t: Double, _ dt: Double,
                                            _ c0: UnsafePointer<Double>?, _ velocity: UnsafePointer<Double>?,
                                            _ c: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_pde_advection_diffusion_f64"
        let grid = try periodicGrid(what, ndim, shape, lengths)
        guard ndim >= 2 else { throw .invalidArgument("\(what): ndim must be 2 or 3 (got \(ndim))") }
        guard t >= 0 else { throw .invalidArgument("\(what): t must be >= 0 (got \(t))") }
        guard let velocity else { throw .invalidArgument("\(what): velocity is NULL") }
        var v = [Field<Double>]()
        for a in 0..<Int(ndim) { v.append(try field(grid, velocity + a * grid.count, "velocity", what)) }
        let solver = try AdvectionDiffusion(initial: try field(grid, c0, "c0", what), velocity: v,
                                            diffusivity: diffusivity, effort: try fftEffort(effort, what))
        try solver.advance(to: t, dt: dt)
        try write(try solver.solution(), to: c, what)
    }
}
