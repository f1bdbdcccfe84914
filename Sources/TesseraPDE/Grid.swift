import Foundation
// Uniform grids in 1, 2 or 3 dimensions.
//
// Axis order is C order: a 2-D grid has shape [ny, nx] (row = y), a 3-D grid [nz, ny, nx];
// the last axis varies fastest in memory. Point positions per boundary kind:
//
//   periodic   x_i = i·h,        h = L / n      (x_n ≡ x_0)
//   dirichlet  x_i = (i+1)·h,    h = L / (n+1)  (boundary nodes x = 0 and x = L hold the value)
//   neumann    x_i = (i+½)·h,    h = L / n      (cell centres; zero normal derivative at 0 and L)
//
//       dirichlet:  |o---*---*---*---o|   o = boundary node (given), * = unknown
//       neumann:    |--*--|--*--|--*--|   ghost cells mirror the first/last cell

/// Boundary condition of one grid axis.
public enum Boundary: Sendable, Equatable, CustomStringConvertible {
    /// The axis wraps around (required by the spectral solvers).
    case periodic
    /// Fixed value on both ends of the axis.
    case dirichlet(Double)
    /// Zero normal derivative on both ends (cell-centred grid).
    case neumann

    /// "periodic", "dirichlet(v)" or "neumann".
    public var description: String {
        switch self {
        case .periodic: return "periodic"
        case .dirichlet(let v): return "dirichlet(\(v))"
        case .neumann: return "neumann"
        }
    }
}

/// A uniform grid: points per axis, physical lengths and boundary conditions (C order).
public struct Grid: Sendable, Equatable, CustomStringConvertible {
    /// Points per axis, outer first.
    public let shape: [Int]
    /// Physical length of each axis.
    public let lengths: [Double]
    /// Boundary condition of each axis.
    public let boundaries: [Boundary]

    /// Errors: `.invalidArgument` for 0 or more than 3 axes, non-positive sizes or lengths,
    /// mismatched array counts, or a point count over 2³¹.
    public init(shape: [Int], lengths: [Double]? = nil, boundaries: [Boundary]? = nil) throws(TesseraError) {
        guard (1...3).contains(shape.count) else {
            throw .invalidArgument("Grid: \(shape.count) axes (1, 2 or 3 supported)")
        }
        guard shape.allSatisfy({ $0 > 0 }) else { throw .invalidArgument("Grid: sizes \(shape) must be positive") }
        let lens = lengths ?? [Double](repeating: 2 * Double.pi, count: shape.count)
        let bcs = boundaries ?? [Boundary](repeating: .periodic, count: shape.count)
        guard lens.count == shape.count, bcs.count == shape.count else {
            throw .invalidArgument("Grid: \(shape.count) axes but \(lens.count) lengths and \(bcs.count) boundaries")
        }
        guard lens.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw .invalidArgument("Grid: lengths \(lens) must be positive and finite")
        }
        for case .dirichlet(let v) in bcs where !v.isFinite {
            throw .invalidArgument("Grid: Dirichlet value \(v) is not finite")
        }
        var total = 1
        for n in shape {
            let (t, o) = total.multipliedReportingOverflow(by: n)
            guard !o, t <= 1 << 31 else { throw .invalidArgument("Grid: \(shape) has more than 2^31 points") }
            total = t
        }
        self.shape = shape
        self.lengths = lens
        self.boundaries = bcs
    }

    /// A periodic square/cube of side 2π with n points per axis.
    public static func periodic(_ n: Int, dimensions: Int = 2) throws(TesseraError) -> Grid {
        try Grid(shape: [Int](repeating: n, count: dimensions))
    }

    /// Number of axes.
    public var dimensions: Int { shape.count }
    /// Number of points.
    public var count: Int { shape.reduce(1, *) }
    /// Whether every axis is periodic.
    public var isPeriodic: Bool { boundaries.allSatisfy { $0 == .periodic } }

    /// Grid spacing of axis `a`.
    public func spacing(_ a: Int) -> Double {
        switch boundaries[a] {
        case .dirichlet: return lengths[a] / Double(shape[a] + 1)
        default: return lengths[a] / Double(shape[a])
        }
    }

    /// Coordinate of index i on axis a.
    public func coordinate(_ a: Int, _ i: Int) -> Double {
        let h = spacing(a)
        switch boundaries[a] {
        case .periodic: return Double(i) * h
        case .dirichlet: return Double(i + 1) * h
        case .neumann: return (Double(i) + 0.5) * h
        }
    }

    /// The shape, lengths and boundaries.
    public var description: String {
        "\(shape.map(String.init).joined(separator: "×")) over \(lengths.map { String(format: "%.4g", $0) }.joined(separator: "×")) [\(boundaries.map(\.description).joined(separator: ", "))]"
    }
}
