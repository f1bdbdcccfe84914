import Foundation
import Testing
@testable import Tessera

@Suite("Foundation")
struct FoundationTests {
    @Test func errorsReadTheSameEverywhere() throws {
        do { _ = try ThreadPool(threads: 0); Issue.record("accepted 0 threads") } catch {
            #expect(error.localizedDescription == "\(error)")
            #expect(error.localizedDescription.hasPrefix("invalid argument: "))
            #expect(!error.localizedDescription.contains("could not be completed"))
        }
        #expect((TesseraError.outOfMemory("x") as LocalizedError).recoverySuggestion != nil)
    }

    @Test func topologyIsSane() {
        let t = Topology.current
        #expect(t.cores >= 1)
        #expect(t.processingUnits >= t.cores)
        #expect(t.l1dBytes >= 4096 && t.l2Bytes >= t.l1dBytes)
        #expect(!t.source.isEmpty)
    }

    @Test func parallelForCoversEveryIndexOnce() throws {
        for threads in 1...4 {
            let pool = try ThreadPool(threads: threads, binding: ThreadPool.Binding.none)
            #expect(pool.threadCount == threads)
            for schedule in [ThreadPool.Schedule.static, .dynamic(chunk: 3), .dynamic(chunk: 0)] {
                let n = 1001
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
                hits.initialize(repeating: 0, count: n)
                defer { hits.deallocate() }
                pool.parallelFor(5..<(5 + n), schedule: schedule) { r, w in
                    precondition(w >= 0 && w < threads)
                    for i in r { hits[i - 5] += 1 }
                }
                #expect((0..<n).allSatisfy { hits[$0] == 1 })
            }
        }
    }

    @Test func runCallsEveryWorkerAndScratchIsPrivate() throws {
        let pool = try ThreadPool(threads: 3, binding: ThreadPool.Binding.none)
        let seen = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        seen.initialize(repeating: 0, count: 3)
        defer { seen.deallocate() }
        pool.run { w, n in
            #expect(n == 3)
            let s = pool.scratch(worker: w, bytes: 4096)!.assumingMemoryBound(to: UInt8.self)
            for i in 0..<4096 { s[i] = UInt8(w) }
            if (0..<4096).allSatisfy({ s[$0] == UInt8(w) }) { seen[w] += 1 }
        }
        #expect((0..<3).allSatisfy { seen[$0] == 1 })
    }

    @Test func bindingIsReadBackFromTheOS() throws {
        let cores = Topology.current.cores
        let pool = try ThreadPool(threads: cores, binding: .core)
        var firstCPUs: [Int] = []
        for w in 0..<cores {
            let cpus = try pool.affinity(ofWorker: w)
            #expect(!cpus.isEmpty)
            firstCPUs.append(cpus[0])
        }
        #expect(Set(firstCPUs).count == cores)
        #expect(throws: TesseraError.self) { try pool.affinity(ofWorker: cores) }
    }

    @Test func badPoolParametersThrow() {
        #expect(throws: TesseraError.self) { try ThreadPool(threads: 0) }
        #expect(throws: TesseraError.self) { try ThreadPool(threads: 1, spinMicroseconds: -5) }
    }

    @Test func matrixStorageAndValueSemantics() throws {
        var m = try Matrix<Float>(rows: 3, cols: 5, rowStride: 16)
        m[2, 4] = 7
        m.withUnsafeBufferPointer { buf in
            #expect(buf.count == 48)
            #expect(Int(bitPattern: buf.baseAddress) % 64 == 0)
            #expect(buf[2 * 16 + 4] == 7)
        }
        var copy = m
        copy[0, 0] = 1
        #expect(m[0, 0] == 0 && copy[0, 0] == 1)
        let n = try Matrix<Double>([[1, 2], [3, 4]])
        #expect(n.row(1) == [3, 4] && n.toArray() == [1, 2, 3, 4])
        #expect(throws: TesseraError.self) { try Matrix<Float>(rows: 2, cols: 2, elements: [1, 2, 3]) }
        #expect(throws: TesseraError.self) { try Matrix<Float>(rows: -1, cols: 2) }
        #expect(throws: TesseraError.self) { try Matrix<Float>(rows: 2, cols: 4, rowStride: 3) }
        #expect(throws: TesseraError.self) { try Matrix<Float>(rows: Int.max, cols: 2) }
        #expect(throws: TesseraError.self) { try Matrix<Float>([[1, 2], [3]]) }
    }

    @Test func tensorShapesAndStrides() throws {
        var t = try Tensor<Int32>(shape: [2, 3, 4])
        #expect(t.strides == [12, 4, 1] && t.count == 24)
        t[1, 2, 3] = 9
        #expect(t.toArray()[23] == 9)
        let r = try t.reshaped([6, 4])
        #expect(r[5, 3] == 9)
        #expect(throws: TesseraError.self) { try t.reshaped([5, 5]) }
        #expect(throws: TesseraError.self) { try Tensor<Float>(shape: [2, -1]) }
        #expect(throws: TesseraError.self) { try Tensor<Float>(shape: [2], elements: [1]) }
    }

    @Test func errorsCarryTheCMessage() {
        do {
            _ = try ThreadPool.shared.affinity(ofWorker: -1)
            Issue.record("expected a throw")
        } catch {
            #expect(error.message.contains("worker"))
        }
        #expect(TesseraError(statusCode: 0, message: "") == nil)
        #expect(TesseraError(statusCode: 3, message: "x") == .outOfRange("x"))
        #expect(TesseraError(statusCode: 99, message: "y") == .internalError("y"))
    }

    @Test func streamProbeComputesTheRightSum() throws {
        let probe = try MachineProbe(count: 10_000)
        // arrays start as a = 1: the read sum is the element count
        #expect(try probe.stream(.read) == 10_000)
        try probe.stream(.triad)   // a = b + 0.5 c = 2.25
        #expect(try probe.stream(.read) == 22_500)
    }
}

/// Tests that force the process-wide ISA (`ISA.force`) and tests whose bitwise comparisons
/// must not see it switch mid-test run one at a time (the switch is global to the process).
@Suite(.serialized) struct ISASensitive {}

extension ISASensitive {
    @Suite("ISA forcing") struct ISAForcing {
        @Test func isaQueriesAndForcing() throws {
            let sup = ISA.supported
            #expect(ISA.active <= sup)
            if sup >= .avx2 { #expect(CPUFeatures.current.avx2 && CPUFeatures.current.fma) }
            try ISA.force(.scalar)
            #expect(ISA.active == .scalar)
            try ISA.force(sup)
            #expect(ISA.active == sup)
            #expect(try ISA(parsing: "AVX2") == .avx2)
            #expect(throws: TesseraError.self) { try ISA(parsing: "sse9") }
        }
    }
}
