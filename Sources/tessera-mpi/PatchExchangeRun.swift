import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDiffusion
import TesseraDistributed

/// MPIPatchExchange (patch p on rank p) driven as the patch executor drives an exchange —
/// halo rows to the neighbour above/below (PCPP), statistics and K/V to all (DistriFusion),
/// fresh reads in the synchronous warm-up calls, one-call-stale reads after — checked byte for
/// byte against the expected contents, and its byte count against SharedMemoryExchange driven
/// the same way for all patches in one process. Rank 0 lags (--lag ms per call) so the others
/// run a call ahead in the stale phase. One JSON line from rank 0.
struct PatchExchangeRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch-exchange",
        abstract: "Self-check of MPIPatchExchange, the diffusion patch exchange on ranks (one JSON line).")

    @Option(parsing: .unconditional, help: "Denoiser calls per run.") var calls = 8
    @Option(parsing: .unconditional, help: "Synchronous (fresh) calls first.") var warmup = 2
    @Option(parsing: .unconditional, help: "Floats per halo message.") var width = 256
    @Option(parsing: .unconditional, help: "Milliseconds rank 0 lags per stale call.") var lag = 2
    @Option(parsing: .unconditional, help: "Seconds a read may wait.") var timeout = 60.0
    @Option(parsing: .unconditional, help: "Sampling runs (each a new epoch).") var runs = 2

    func run() throws {
        // the exchange is entered from pool threads (under its own lock)
        MPIJob.run("patch-exchange", threadLevel: .serialized) { world in try check(world) }
    }

    private func check(_ world: Communicator) throws {
        let P = world.size, p = world.rank
        let ex = try MPIPatchExchange(communicator: world)
        ex.timeout = timeout
        func payload(_ call: Int, _ key: Int, _ patch: Int) -> [Float] {
            let n = key == 24 ? (patch + 1) * width : (key == 16 ? 16 : width)
            return (0..<n).map { Float(call * 1_000_000 + key * 10_000 + patch * 100) + Float($0) * 0.25 }
        }
        let plan: [(key: Int, peers: PatchPeers)] = [(8, .above), (9, .below), (16, .all), (24, .all)]
        // who reads what: key 8 (sent up) from p+1, key 9 (sent down) from p-1, the rest from all
        func sources(_ key: Int, _ me: Int) -> [Int] {
            switch key {
            case 8: return me + 1 < P ? [me + 1] : []
            case 9: return me > 0 ? [me - 1] : []
            default: return (0..<P).filter { $0 != me }
            }
        }
        var bad = 0, reads = 0, mine = 0
        // two sampling runs: the second starts a new epoch (a fast rank's first messages of run 2
        // may arrive while a slow one still finishes run 1)
        for _ in 0..<runs {
            ex.reset()
            for c in 0..<calls {
                let fresh = c < warmup
                if !fresh && p == 0 && lag > 0 { usleep(UInt32(lag * 1000)) }
                for (key, peers) in plan { payload(c, key, p).withUnsafeBytes { ex.publish(key: key, from: p, to: peers, bytes: $0) } }
                for (key, _) in plan {
                    for q in sources(key, p) {
                        let want = fresh ? payload(c, key, q) : (c > 0 ? payload(c - 1, key, q) : nil)
                        let got = ex.contribution(key: key, of: q, fresh: fresh)
                        reads += 1
                        if let want {
                            let ok = got.map { g in g.count == want.count * 4 && want.withUnsafeBytes { w in memcmp(w.baseAddress!, g.baseAddress!, g.count) == 0 } } ?? false
                            if !ok { bad += 1; standardError("rank \(p) call \(c): key \(key) of patch \(q) wrong (\(got?.count ?? -1) bytes)") }
                        }
                    }
                }
                ex.finishCall()
            }
            mine += ex.takeBytesSent()
        }
        ex.drain()
        let total = try world.allreduce(Int64(mine), op: .sum)
        let badAll = try world.allreduce(Int64(bad), op: .sum)
        let readsAll = try world.allreduce(Int64(reads), op: .sum)
        // the same traffic through the in-process exchange
        let shm = SharedMemoryExchange(patches: P)
        for c in 0..<calls {
            for q in 0..<P { for (key, peers) in plan { payload(c, key, q).withUnsafeBytes { shm.publish(key: key, from: q, to: peers, bytes: $0) } } }
            shm.finishCall()
        }
        let shmBytes = shm.takeBytesSent() * runs
        CheckLine.emit(world, ["check": "patch-exchange", "calls": calls, "reads": Int(readsAll), "wrong": Int(badAll),
                     "bytes": Int(total), "shared_memory_bytes": shmBytes, "passed": badAll == 0 && Int(total) == shmBytes,
                     "wait_seconds_rank0": ex.waitSeconds])
    }
}
