import Testing
@testable import TesseraCluster

@Suite("KMedoids")
struct KMedoidsTests {
    // Points 0,1,2 | 10,11,12 | 20,21,22 on a line: the medoids are the middles, loss 6.
    static let line: [Double] = [0, 1, 2, 10, 11, 12, 20, 21, 22]
    static func lineMatrix() throws -> DistanceMatrix<Double> {
        let n = line.count
        var full = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { full[i * n + j] = abs(line[i] - line[j]) } }
        return try DistanceMatrix(full: full, count: n)
    }

    @Test("hand-checked line: every method finds the three middles", arguments: KMedoidsMethod.allCases)
    func handChecked(method: KMedoidsMethod) throws {
        let d = try Self.lineMatrix()
        let inits: [KMedoidsInitialization] = [.build, .medoids([0, 3, 6]), .medoids([0, 1, 2])]
        for ini in inits {
            let r = try KMedoids.fit(d, k: 3, options: .init(method: method, initialization: ini))
            if method == .alternating, ini == .medoids([0, 1, 2]) { continue }  // may stop in a worse local optimum
            #expect(Set(r.medoids) == [1, 4, 7], "\(method) \(ini)")
            #expect(r.loss == 6)
            #expect(r.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2].map { r.medoids.firstIndex(of: [1, 4, 7][$0])! })
        }
    }

    @Test("BUILD on the line picks the middles in order of gain")
    func buildLine() throws {
        let d = try Self.lineMatrix()
        // total distances: point 4 (11) has the least; then 1 and 7 tie in gain → lowest index
        #expect(KMedoids.build(d, k: 3, pool: .shared) == [4, 1, 7])
        let r = try KMedoids.fit(d, k: 3, options: .init(method: .pam))
        #expect(r.swaps == 0 && r.initialLoss == 6)
    }

    @Test("PAM and FastPAM1 make identical swaps on integer matrices with ties")
    func pamEqualsFastPAM1Integer() throws {
        for seed in 0..<40 {
            let n = 20 + Int(seed % 25)
            let d = try integerMatrix(n: n, seed: UInt64(seed), range: 6 + Int(seed % 10))
            for k in [2, 3, 5] {
                var rng = ClusterRandom(seed: UInt64(seed) &+ 99)
                let start = rng.sample(k, from: n)
                for ini in [KMedoidsInitialization.build, .medoids(start)] {
                    let a = try KMedoids.fit(d, k: k, options: .init(method: .pam, initialization: ini))
                    let b = try KMedoids.fit(d, k: k, options: .init(method: .fastPAM1, initialization: ini))
                    #expect(a.medoids == b.medoids, "seed \(seed) k \(k)")
                    #expect(a.loss == b.loss && a.swaps == b.swaps && a.labels == b.labels)
                }
            }
        }
    }

    @Test("PAM and FastPAM1 agree on random Euclidean instances")
    func pamEqualsFastPAM1Float() throws {
        for seed in 0..<12 {
            let d = try randomFloatMatrix(n: 60, dim: 3, seed: UInt64(seed))
            for k in [2, 4, 7] {
                let a = try KMedoids.fit(d, k: k, options: .init(method: .pam, initialization: .random, seed: UInt64(seed)))
                let b = try KMedoids.fit(d, k: k, options: .init(method: .fastPAM1, initialization: .random, seed: UInt64(seed)))
                #expect(a.medoids == b.medoids)
                #expect(abs(a.loss - b.loss) <= 1e-9 * a.loss)
                #expect(a.swaps == b.swaps)
            }
        }
    }

    @Test("PAM on tiny problems: locally optimal against brute force over all medoid sets")
    func pamBruteForce() throws {
        var reachedOptimum = 0, total = 0
        for seed in 0..<20 {
            let n = 6 + Int(seed % 7)   // 6...12
            let d = try integerMatrix(n: n, seed: 1000 + UInt64(seed), range: 9)
            for k in 1...3 {
                // every k-subset, its loss
                var lossBySet = [[Int]: Double]()
                func rec(_ start: Int, _ cur: [Int]) {
                    if cur.count == k { lossBySet[cur] = lossOf(d, cur); return }
                    if start >= n { return }
                    for i in start..<n { rec(i + 1, cur + [i]) }
                }
                rec(0, [])
                let optimum = lossBySet.values.min()!
                let r = try KMedoids.fit(d, k: k, options: .init(method: .pam))
                let mine = r.medoids.sorted()
                #expect(lossBySet[mine] == r.loss)
                // no set one swap away is better
                for (set, l) in lossBySet where Set(set).subtracting(mine).count == 1 {
                    #expect(l >= r.loss, "seed \(seed) k \(k): \(set) has \(l) < \(r.loss)")
                }
                #expect(r.loss >= optimum)
                if k == 1 { #expect(r.loss == optimum) }
                total += 1
                if r.loss == optimum { reachedOptimum += 1 }
            }
        }
        #expect(reachedOptimum * 10 >= total * 8, "PAM reached the optimum in \(reachedOptimum)/\(total)")
    }

    @Test("FasterPAM (and FastPAM2) end with no improving single swap")
    func noImprovingSwapLeft() throws {
        for seed in 0..<6 {
            let d = try randomFloatMatrix(n: 45, dim: 2, seed: 50 + UInt64(seed))
            for method in [KMedoidsMethod.fasterPAM, .fastPAM2] {
                for k in [3, 6] {
                    let r = try KMedoids.fit(d, k: k, options: .init(method: method, seed: UInt64(seed)))
                    #expect(abs(lossOf(d, r.medoids) - r.loss) <= 1e-9 * r.loss)
                    #expect(bestSingleSwap(d, r.medoids) >= r.loss * (1 - 1e-9), "\(method) seed \(seed) k \(k)")
                }
            }
        }
        let di = try integerMatrix(n: 30, seed: 7, range: 8)
        for shuffle in [false, true] {
            let r = try KMedoids.fit(di, k: 4, options: .init(method: .fasterPAM, seed: 3, shuffle: shuffle))
            #expect(bestSingleSwap(di, r.medoids) >= r.loss)
        }
    }

    @Test("same seed, same result on 1, 2 and 4 threads")
    func threadIndependence() throws {
        let d = try randomFloatMatrix(n: 2600, dim: 4, seed: 11)
        let one = try ThreadPool(threads: 1), two = try ThreadPool(threads: 2), four = try ThreadPool(threads: 4)
        for method in [KMedoidsMethod.fasterPAM, .fastPAM2] {
            let k = method == .fasterPAM ? 12 : 5
            let base = KMedoidsOptions(method: method, initialization: .random, maxIterations: method == .fasterPAM ? 100 : 2, seed: 42, shuffle: true)
            var o1 = base; o1.pool = one
            var o2 = base; o2.pool = two
            var o4 = base; o4.pool = four
            let a = try KMedoids.fit(d, k: k, options: o1)
            let b = try KMedoids.fit(d, k: k, options: o2)
            let c = try KMedoids.fit(d, k: k, options: o4)
            #expect(a == b && a == c, "\(method)")
            #expect(a.swaps > 0)
        }
        let b1 = KMedoids.build(d, k: 3, pool: one), b4 = KMedoids.build(d, k: 3, pool: four)
        #expect(b1 == b4)
    }

    @Test("Alternating, LAB and FastPAM2 improve on their start and stay consistent")
    func otherMethods() throws {
        let d = try randomFloatMatrix(n: 120, dim: 2, seed: 5)
        for (method, ini) in [(KMedoidsMethod.alternating, KMedoidsInitialization.random), (.fastPAM2, .lab),
                              (.fasterPAM, .lab), (.fastPAM1, .lab)] {
            let r = try KMedoids.fit(d, k: 5, options: .init(method: method, initialization: ini, seed: 9))
            #expect(r.loss <= r.initialLoss)
            #expect(Set(r.medoids).count == 5)
            let (labels, loss) = try KMedoids.assign(d, medoids: r.medoids)
            #expect(abs(loss - r.loss) <= 1e-9 * loss)
            #expect(labels == r.labels)
        }
    }

    @Test("duplicates, k = 1 and k = n")
    func edgeCases() throws {
        // 4 copies of one point and 3 of another
        let pts: [Double] = [0, 0, 0, 0, 5, 5, 5]
        let n = pts.count
        var full = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { full[i * n + j] = abs(pts[i] - pts[j]) } }
        let d = try DistanceMatrix(full: full, count: n)
        for method in KMedoidsMethod.allCases {
            let r2 = try KMedoids.fit(d, k: 2, options: .init(method: method, initialization: .build))
            #expect(r2.loss == 0)
            let r3 = try KMedoids.fit(d, k: 3, options: .init(method: method))  // more medoids than distinct points
            #expect(r3.loss == 0 && Set(r3.medoids).count == 3)
            let r1 = try KMedoids.fit(d, k: 1, options: .init(method: method))
            #expect(r1.medoids == [0] && r1.loss == 15)
            let rn = try KMedoids.fit(d, k: n, options: .init(method: method))
            #expect(rn.loss == 0 && Set(rn.medoids).count == n)
        }
    }

    @Test("bad input is rejected with a message")
    func badInput() throws {
        let d = try Self.lineMatrix()
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 0) }
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 10) }
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 2, options: .init(initialization: .medoids([1, 1]))) }
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 2, options: .init(initialization: .medoids([1, 9]))) }
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 2, options: .init(initialization: .medoids([1]))) }
        #expect(throws: TesseraError.self) { try KMedoids.fit(d, k: 2, options: .init(maxIterations: -1)) }
        do {
            _ = try KMedoids.fit(d, k: 12)
            Issue.record("k > n accepted")
        } catch {
            #expect(error.message.contains("k = 12"))
        }
    }
}
