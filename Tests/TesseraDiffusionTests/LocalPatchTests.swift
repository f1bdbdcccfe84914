import Foundation
import Testing
import Tessera
@testable import TesseraDiffusion

/// Messages of all "ranks", filed by (call, key, patch); each rank holds a `RankView` with its own call
/// counter, as an MPI exchange per process would. Fresh reads wait for the message.
private final class Hub: @unchecked Sendable {
    struct K: Hashable { let call: Int, key: Int, patch: Int }
    let cond = NSCondition()
    var store: [K: [UInt8]] = [:]
    var bytes = 0
}

private final class RankView: PatchExchange, @unchecked Sendable {
    let patches: Int, rank: Int, hub: Hub
    var call = 0
    init(_ hub: Hub, patches: Int, rank: Int) { self.hub = hub; self.patches = patches; self.rank = rank }
    func publish(key: Int, from patch: Int, to peers: PatchPeers, bytes src: UnsafeRawBufferPointer) {
        let n: Int
        switch peers {
        case .all: n = patches - 1
        case .above: n = patch > 0 ? 1 : 0
        case .below: n = patch + 1 < patches ? 1 : 0
        }
        hub.cond.lock(); hub.store[.init(call: call, key: key, patch: patch)] = Array(src)
        if patch == rank { hub.bytes += n * src.count }
        hub.cond.broadcast(); hub.cond.unlock()
    }
    func contribution(key: Int, of patch: Int, fresh: Bool) -> UnsafeRawBufferPointer? {
        let k = Hub.K(call: fresh ? call : call - 1, key: key, patch: patch)
        if k.call < 0 { return nil }
        hub.cond.lock(); defer { hub.cond.unlock() }
        while hub.store[k] == nil {
            if !fresh { return nil }
            if !hub.cond.wait(until: Date().addingTimeInterval(20)) { return nil }
        }
        // the hub keeps every message for the test's lifetime, so the storage stays valid
        return hub.store[k]!.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) }
    }
    func finishCall() { call += 1 }
    func reset() { call = 0 }
    func takeBytesSent() -> Int { 0 }
    func recordBytes(_ n: Int) {}
}

private final class Results: @unchecked Sendable {
    let lock = NSLock()
    var outs: [[Latent]], errors: [String]
    init(_ n: Int) { outs = Array(repeating: [], count: n); errors = Array(repeating: "", count: n) }
    func set(_ r: Int, _ o: [Latent], _ e: String) { lock.lock(); outs[r] = o; errors[r] = e; lock.unlock() }
}

@Suite("One patch per process (rank-style exchange)")
struct LocalPatchTests {
    @Test func onePatchPerRankEqualsAllPatchesInOneProcess() throws {
        let cfg = UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, groups: 4, headDim: 8)
        let m = try UNetModel(config: cfg, seed: 4)
        let P = 2
        let x = try Latent.gaussian(channels: 3, height: 16, width: 16, seed: 5)
        for mode in [PatchMode.synchronous, .distriFusion(warmupSteps: 1), .pcpp(portion: 0.3, warmupSteps: 1)] {
            // reference: all patches in this process
            let all = try PatchParallelDenoiser(base: m, patches: P, mode: mode, pool: try ThreadPool(threads: 1))
            all.beginSampling()
            var ref: [Latent] = []
            for t in [900, 800, 700] { ref.append(try all.predict(x, timestep: t, classLabel: nil)) }
            // one thread per rank, each running its own patch
            let hub = Hub()
            let box = Results(P)
            let done = DispatchGroup()
            for r in 0..<P {
                done.enter()
                let th = Thread {
                    defer { done.leave() }
                    do {
                        let d = try PatchParallelDenoiser(base: m, patches: P, mode: mode, pool: try ThreadPool(threads: 1),
                                                          exchange: { RankView(hub, patches: $0, rank: r) })
                        d.localPatch = r
                        d.beginSampling()
                        var o: [Latent] = []
                        for t in [900, 800, 700] { o.append(try d.predict(x, timestep: t, classLabel: nil)) }
                        box.set(r, o, "")
                    } catch { box.set(r, [], "\(error)") }
                }
                th.stackSize = 8 << 20
                th.start()
            }
            #expect(done.wait(timeout: .now() + 120) == .success, "\(mode): ranks did not finish")
            let outs = box.outs, errors = box.errors
            for r in 0..<P {
                #expect(errors[r].isEmpty, "\(mode) rank \(r): \(errors[r])")
                guard outs[r].count == ref.count else { continue }
                for c in 0..<ref.count {
                    let e = try DiffusionMetrics.relativeError(outs[r][c], ref[c])
                    #expect(e <= 1e-5, "\(mode) rank \(r) call \(c): relative error \(e)")
                }
            }
        }
    }
}
