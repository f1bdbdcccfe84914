import ArgumentParser
import COpenBLAS
import Foundation
import Tessera

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the machine as Tessera sees it: topology, ISA, worker bindings, library versions.",
        discussion: """
        Each worker's binding is read back from the operating system (sched_getaffinity of \
        the worker's thread), not taken from what Tessera asked for.
        """
    )

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let topo = Topology.current
        let cpu = CPUFeatures.current
        let pool = ThreadPool.shared
        var bindings: [[Int]] = []
        for w in 0..<pool.threadCount { bindings.append(try pool.affinity(ofWorker: w)) }
        let openblas = String(cString: openblas_get_config()) + " (core: \(String(cString: openblas_get_corename())))"
        let fftw = fftwVersion()
        if json {
            let obj: [String: Any] = [
                "tessera": TesseraVersion.string, "cpu": cpu.brand, "vendor": cpu.vendor,
                "features": cpu.names, "isa_supported": ISA.supported.description, "isa_active": ISA.active.description,
                "packages": topo.packages, "numa_nodes": topo.numaNodes, "cores": topo.cores, "pus": topo.processingUnits,
                "l1d_bytes": topo.l1dBytes, "l2_bytes": topo.l2Bytes, "l3_bytes": topo.l3Bytes,
                "topology_source": topo.source, "threads": pool.threadCount, "binding": pool.binding.rawValue,
                "worker_cpus": bindings, "openblas": openblas, "fftw": fftw, "hwloc": Topology.hwlocVersion,
                "kernels_optimized": BuildInfo.current.optimized, "c_compiler": BuildInfo.current.compiler,
            ]
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("Tessera \(TesseraVersion.string)")
        let build = BuildInfo.current
        print("kernels    \(build.optimized ? "optimised" : "NOT OPTIMISED (debug build: 40-150x slower; \(BuildInfo.advice))") (\(build.compiler))")
        print("CPU        \(cpu.brand) (\(cpu.vendor))")
        print("features   \(cpu.names.joined(separator: " "))")
        print("ISA        \(ISA.active) (supported: \(ISA.supported); TESSERA_ISA=\(env("TESSERA_ISA")))")
        print("topology   \(topo.packages) package(s), \(topo.numaNodes) NUMA node(s), \(topo.cores) core(s), \(topo.processingUnits) PU(s)")
        print("caches     L1d \(kib(topo.l1dBytes)), L2 \(kib(topo.l2Bytes)), L3 \(kib(topo.l3Bytes)) (per core / per package)")
        print("source     \(topo.source)")
        print("pool       \(pool.threadCount) worker(s), binding \(pool.binding.rawValue) (TESSERA_NUM_THREADS=\(env("TESSERA_NUM_THREADS")), TESSERA_BIND=\(env("TESSERA_BIND")))")
        for (w, cpus) in bindings.enumerated() {
            let role = w == 0 ? " (calling thread)" : ""
            print("  worker \(w)\(role): CPU \(ranges(cpus))")
        }
        let distinct = Set(bindings.map { $0 }).count == bindings.count && bindings.allSatisfy { !$0.isEmpty }
        if pool.binding != .none {
            print("  \(distinct ? "each worker on its own core" : "WARNING: workers share CPUs (more workers than cores?)")")
        }
        print("OpenBLAS   \(openblas)")
        print("FFTW       \(fftw)")
        print("hwloc      \(Topology.hwlocVersion)")
    }

    private func env(_ name: String) -> String { ProcessInfo.processInfo.environment[name] ?? "unset" }

    private func kib(_ b: Int) -> String {
        if b == 0 { return "none" }
        return b >= 1 << 20 ? "\(b >> 20) MiB" : "\(b >> 10) KiB"
    }

    private func ranges(_ cpus: [Int]) -> String {
        guard !cpus.isEmpty else { return "?" }
        var parts: [String] = []
        var start = cpus[0], prev = cpus[0]
        for c in cpus.dropFirst() {
            if c == prev + 1 { prev = c; continue }
            parts.append(start == prev ? "\(start)" : "\(start)-\(prev)")
            start = c; prev = c
        }
        parts.append(start == prev ? "\(start)" : "\(start)-\(prev)")
        return parts.joined(separator: ",")
    }
}

/// FFTW's version string, read from the library actually loaded.
func fftwVersion() -> String {
    guard let h = dlopen("libfftw3.so.3", RTLD_NOW | RTLD_GLOBAL), let sym = dlsym(h, "fftw_version") else {
        return "not found"
    }
    return String(cString: sym.assumingMemoryBound(to: CChar.self))
}
