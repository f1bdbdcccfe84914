// The finite-difference kernels shared by the tiled solvers here and the distributed solvers of
// TesseraDistributed: one block of a grid (a tile, or a rank's part) stored with halos as
// [LZ, LY, LX] (z absent in 2-D: LZ = 1, no z halo), flat index (z·LY + y)·LX + x.
// Both callers run the same expressions in the same order, which is what makes the
// distributed results bitwise equal to the single-process ones.

/// A = α·I − β·∇²_h: its 7-point (5-point in 2-D) coefficients.
package struct FDCoefficients: Sendable {
    package let c0, cx, cy, cz: Double
    /// z present (3-D)
    package let threeD: Bool
    /// `invh2[a]` = 1/h² on axis a, 0 for an absent axis (z in 2-D).
    package init(alpha: Double, beta: Double, invh2: [Double], threeD: Bool) {
        cz = beta * invh2[0]; cy = beta * invh2[1]; cx = beta * invh2[2]
        c0 = alpha + 2 * (cz + cy + cx)
        self.threeD = threeD
    }
}

package enum FDStencil {
    /// q = A p on x ∈ [x0, x1) of the row starting at flat index `row` (halos of p filled);
    /// returns Σ (A p)·p over the row, in x order. `sy` = LX, `sz` = LY·LX.
    package static func applyRow(_ p: UnsafeMutablePointer<Double>, _ q: UnsafeMutablePointer<Double>, row: Int,
                                 x0: Int, x1: Int, sy: Int, sz: Int, _ k: FDCoefficients) -> Double {
        let p = p + row, q = q + row
        let (c0, cx, cy, cz) = (k.c0, k.cx, k.cy, k.cz)
        var d = 0.0
        if !k.threeD {
            for x in x0..<x1 {
                let v = c0 * p[x] - cx * (p[x - 1] + p[x + 1]) - cy * (p[x - sy] + p[x + sy])
                q[x] = v
                d += v * p[x]
            }
        } else {
            for x in x0..<x1 {
                let v = c0 * p[x] - cx * (p[x - 1] + p[x + 1]) - cy * (p[x - sy] + p[x + sy]) - cz * (p[x - sz] + p[x + sz])
                q[x] = v
                d += v * p[x]
            }
        }
        return d
    }

    /// One explicit heat step on a row, w = u − c·(A u), in one pass over memory: the same bits
    /// as `applyRow` into w followed by w = u − c·w (the operator value is a rounded double
    /// either way).
    package static func heatRow(_ u: UnsafeMutablePointer<Double>, _ w: UnsafeMutablePointer<Double>, row: Int,
                                x0: Int, x1: Int, sy: Int, sz: Int, _ k: FDCoefficients, c: Double) {
        let p = u + row, q = w + row
        let (c0, cx, cy, cz) = (k.c0, k.cx, k.cy, k.cz)
        if !k.threeD {
            for x in x0..<x1 {
                let v = c0 * p[x] - cx * (p[x - 1] + p[x + 1]) - cy * (p[x - sy] + p[x + sy])
                q[x] = p[x] - c * v
            }
        } else {
            for x in x0..<x1 {
                let v = c0 * p[x] - cx * (p[x - 1] + p[x + 1]) - cy * (p[x - sy] + p[x + sy]) - cz * (p[x - sz] + p[x + sz])
                q[x] = p[x] - c * v
            }
        }
    }

    /// The diagonal of A at every interior point of a block whose first interior point is
    /// global `origin` and which has `size` interior points (Neumann walls reduce it).
    package static func diagonal(origin: [Int], size: [Int], local: [Int], halo: [Int], dims: [Int], bcs: [Boundary],
                                 alpha: Double, beta: Double, invh2: [Double], into dg: UnsafeMutablePointer<Double>) {
        let hz = halo[0]
        for z in hz..<(hz + size[0]) { for y in 1...size[1] { for x in 1...size[2] {
            var d = alpha
            let g = [origin[0] + z - hz, origin[1] + y - 1, origin[2] + x - 1]
            for a in 0..<3 where halo[a] == 1 {
                let c = beta * invh2[a]
                for atEnd in [g[a] == 0, g[a] == dims[a] - 1] {
                    d += (atEnd && bcs[a] == .neumann) ? 0 : c
                }
            }
            dg[(z * local[1] + y) * local[2] + x] = d
        } } }
    }
}
