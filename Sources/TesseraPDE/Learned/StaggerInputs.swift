// What the sub-task networks read: the coarse fields themselves, or the staggered parts of the
// FINE 5-point Laplacian of the field (times h², dimensionless), applied once or twice. With a
// derivative input and a linear network without biases the correction is N(h²Lu) (or N(h⁴L²u)):
// it vanishes like |k|² (|k|⁴) at long waves by construction. The exact correction of the heat
// equation's coarse base step is O(|k|⁴) there, and the longest waves are the ones a decaying
// rollout's end error is made of: whatever the optimiser's noise does to the network, it cannot
// reach the mean and reaches k = 1 only scaled by (kh)² (≈ 2.4e-3 at 128²).

/// The operator applied to the field before it enters the networks.
public enum StaggerInputs: String, Sendable, Codable, CaseIterable {
    /// The coarse fields themselves.
    case field
    /// h²·L u, L the fine periodic 5-point Laplacian (the correction then vanishes like |k|²).
    case laplacian
    /// h⁴·L² u (the correction vanishes like |k|⁴, the order of the heat base step's error).
    case bilaplacian

    /// How many times the fine Laplacian is applied.
    var order: Int {
        switch self {
        case .field: return 0
        case .laplacian: return 1
        case .bilaplacian: return 2
        }
    }
}

extension LearnedStagger {
    /// The networks' input fields for a batch of s² coarse fields of side `hc` (`coarse[b][k]`):
    /// `coarse` itself for `.field`, else the staggered parts of (h²L)^order of the fine field
    /// they form. Linear in the field, so scale equivariance is kept.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func features(_ coarse: [[[T]]], side hc: Int) -> [[[T]]] {
        let order = (config.inputs ?? .field).order
        guard order > 0 else { return coarse }
        let s = config.factor, m = s * hc
        return coarse.map { parts in
            var u = [Double](repeating: 0, count: m * m), v = u
            for k in 0..<(s * s) {
                let (oy, ox) = (k / s, k % s)
                for y in 0..<hc { for x in 0..<hc { u[(oy + s * y) * m + ox + s * x] = Double(parts[k][y * hc + x]) } }
            }
            for _ in 0..<order {
                for y in 0..<m {
                    let up = ((y + 1) % m) * m, dn = ((y + m - 1) % m) * m, row = y * m
                    for x in 0..<m {
                        v[row + x] = u[up + x] + u[dn + x] + u[row + (x + 1) % m] + u[row + (x + m - 1) % m] - 4 * u[row + x]
                    }
                }
                swap(&u, &v)
            }
            return (0..<(s * s)).map { k in
                let (oy, ox) = (k / s, k % s)
                return (0..<(hc * hc)).map { i in T(u[(oy + s * (i / hc)) * m + ox + s * (i % hc)]) }
            }
        }
    }
}
