import Testing
import Foundation
@testable import TesseraDiffusion

/// The U-Net's fast paths against independent float64 references: the Winograd F(2×2, 3×3)
/// convolution (incl. patch halos and thread splits) against a direct float64 convolution,
/// the vectorised GroupNorm + SiLU against the two-pass float64 definition, and a forward whose
/// convolutions run as Winograd against the float64 `ReferenceUNet`.
@Suite("U-Net kernels")
struct UNetKernelTests {
    /// Direct float64 3×3 convolution, padding 1, stride 1; rows −1 / `rows` from `top`/`bottom`.
    static func directConv(_ x: Activation, top: [Float]?, bottom: [Float]?, weight: [Float], bias: [Float],
                           cout: Int) -> [Double] {
        let cin = x.c, rows = x.rows, w = x.w
        var out = [Double](repeating: 0, count: cout * rows * w)
        func input(_ ci: Int, _ y: Int, _ xi: Int) -> Double {
            guard xi >= 0, xi < w else { return 0 }
            if y < 0 { return top.map { Double($0[ci * w + xi]) } ?? 0 }
            if y >= rows { return bottom.map { Double($0[ci * w + xi]) } ?? 0 }
            return Double(x.p[(ci * rows + y) * w + xi])
        }
        for co in 0..<cout {
            for y in 0..<rows {
                for xo in 0..<w {
                    var s = Double(bias[co])
                    for ci in 0..<cin {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                s += Double(weight[((co * cin + ci) * 3 + ky) * 3 + kx]) * input(ci, y + ky - 1, xo + kx - 1)
                            }
                        }
                    }
                    out[(co * rows + y) * w + xo] = s
                }
            }
        }
        return out
    }

    static func relativeError(_ a: UnsafePointer<Float>, _ b: [Double]) -> Double {
        var n = 0.0, d = 0.0
        for i in b.indices { n += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i]); d += b[i] * b[i] }
        return (n / d).squareRoot()
    }

    @Test(arguments: [(16, 8, 12, 10), (32, 24, 7, 9), (16, 16, 1, 33)])
    func winogradConvMatchesDirect(_ shape: (Int, Int, Int, Int)) throws {
        let (cin, cout, rows, w) = shape
        var rng = GaussianRNG(seed: UInt64(cin * 1000 + rows * 10 + w))
        let x = Activation(c: cin, rows: rows, w: w)
        for i in 0..<x.count { x.p[i] = Float(rng.next()) }
        let weight = (0..<(cout * cin * 9)).map { _ in Float(rng.next() / Double(cin * 9).squareRoot()) }
        let bias = (0..<cout).map { _ in Float(0.1 * rng.next()) }
        let top = (0..<(cin * w)).map { _ in Float(rng.next()) }, bottom = (0..<(cin * w)).map { _ in Float(rng.next()) }
        let cache = WinogradFilterCache()
        for (pool, halo) in [(try ThreadPool(threads: 1), false), (try ThreadPool(threads: 2), true), (try ThreadPool(threads: 3), true)] {
            let want = Self.directConv(x, top: halo ? top : nil, bottom: halo ? bottom : nil, weight: weight, bias: bias, cout: cout)
            let out = Activation(c: cout, rows: rows, w: w)
            weight.withUnsafeBufferPointer { wp in
                bias.withUnsafeBufferPointer { bp in
                    top.withUnsafeBufferPointer { tp in
                        bottom.withUnsafeBufferPointer { dp in
                            Kernels.conv3x3Winograd(input: x, top: halo ? tp.baseAddress : nil, bottom: halo ? dp.baseAddress : nil,
                                                    filters: cache.filters(key: 0, weight: wp.baseAddress!, cout: cout, cin: cin),
                                                    bias: bp.baseAddress!, cout: cout, out: out, pool: pool,
                                                    scratch: (0..<pool.threadCount).map { _ in Scratch() })
                        }
                    }
                }
            }
            let e = Self.relativeError(out.p, want)
            #expect(e < 1e-6, "cin \(cin) cout \(cout) \(rows)x\(w) threads \(pool.threadCount) halo \(halo): relative error \(e)")
        }
    }

    @Test func groupNormSiLUMatchesFloat64() {
        let c = 12, rows = 5, w = 37, groups = 4
        var rng = GaussianRNG(seed: 4)
        let x = Activation(c: c, rows: rows, w: w)
        for i in 0..<x.count { x.p[i] = Float(3 + 2 * rng.next()) }   // an offset mean: cancellation in E[x²] − mean²
        let gamma = (0..<c).map { _ in Float(1 + 0.2 * rng.next()) }, beta = (0..<c).map { _ in Float(0.3 * rng.next()) }
        let sums = Kernels.groupSums(x, groups: groups)
        let n = Double(c / groups * x.plane)
        let mean = (0..<groups).map { sums[$0] / n }
        let variance = (0..<groups).map { sums[groups + $0] / n - mean[$0] * mean[$0] }
        for silu in [false, true] {
            let out = Activation(c: c, rows: rows, w: w)
            gamma.withUnsafeBufferPointer { g in
                beta.withUnsafeBufferPointer { b in
                    Kernels.groupNormApply(x, out: out, groups: groups, mean: mean, variance: variance, eps: 1e-5,
                                           gamma: g.baseAddress!, beta: b.baseAddress!, silu: silu)
                }
            }
            var want = [Double](repeating: 0, count: x.count)
            for g in 0..<groups {   // two-pass float64 statistics
                let range = (g * c / groups * x.plane)..<((g + 1) * c / groups * x.plane)
                let mu = range.reduce(0.0) { $0 + Double(x.p[$1]) } / Double(range.count)
                let v = range.reduce(0.0) { $0 + (Double(x.p[$1]) - mu) * (Double(x.p[$1]) - mu) } / Double(range.count)
                for i in range {
                    let ch = i / x.plane
                    let y = (Double(x.p[i]) - mu) / (v + 1e-5).squareRoot() * Double(gamma[ch]) + Double(beta[ch])
                    want[i] = silu ? y / (1 + exp(-y)) : y
                }
            }
            let e = Self.relativeError(out.p, want)
            #expect(e < 2e-6, "silu \(silu): relative error \(e)")
        }
    }

    @Test func winogradForwardMatchesFloat64Reference() throws {
        var c = UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, inChannels: 3, groups: 4, headDim: 8)
        c.attentionHeadDim = 8
        let m = try UNetModel(config: c, seed: 5)
        m.pool = try ThreadPool(threads: 2)
        let x = try Latent.gaussian(channels: 3, height: 32, width: 32, seed: 9)
        // the 32×32 level's convolutions (cin ≥ 16, 1024 pixels) take the Winograd path
        #expect(Kernels.usesWinograd(cin: 16, pixels: 32 * 32, threads: 2))
        let out = try m.predict(x, timestep: 321, classLabel: nil)
        let ref = ReferenceUNet(m: m).forward(x, t: 321, label: nil)
        var n = 0.0, d = 0.0
        for i in ref.indices { n += (Double(out.data[i]) - ref[i]) * (Double(out.data[i]) - ref[i]); d += ref[i] * ref[i] }
        #expect((n / d).squareRoot() < 1e-5, "relative error \((n / d).squareRoot())")
    }
    /// The convolution products are one fma chain per element (`Elementwise.convMatmul`), so the
    /// split over threads does not change a bit; recycled activation buffers do not either.
    @Test func forwardHasTheSameBitsOnOneAndTwoThreadsAndAcrossCalls() throws {
        var c = UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, inChannels: 3, groups: 4, headDim: 8)
        c.attentionHeadDim = 8
        let m = try UNetModel(config: c, seed: 6)
        let x = try Latent.gaussian(channels: 3, height: 32, width: 32, seed: 10)
        let y = try Latent.gaussian(channels: 3, height: 16, width: 16, seed: 11)
        m.pool = try ThreadPool(threads: 1)
        let one = try m.predict(x, timestep: 250, classLabel: nil)
        m.pool = try ThreadPool(threads: 2)
        let two = try m.predict(x, timestep: 250, classLabel: nil)
        _ = try m.predict(y, timestep: 40, classLabel: nil)   // other sizes in between: buffers recycled and reused
        let again = try m.predict(x, timestep: 250, classLabel: nil)
        #expect(one.data.map(\.bitPattern) == two.data.map(\.bitPattern))
        #expect(two.data.map(\.bitPattern) == again.data.map(\.bitPattern))
        let ref = ReferenceUNet(m: m).forward(x, t: 250, label: nil)
        var n = 0.0, d = 0.0
        for i in ref.indices { n += (Double(two.data[i]) - ref[i]) * (Double(two.data[i]) - ref[i]); d += ref[i] * ref[i] }
        #expect((n / d).squareRoot() < 1e-5, "relative error \((n / d).squareRoot())")
    }
}
