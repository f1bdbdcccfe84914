internal import CTessera

/// The machine as hwloc (or the sched_getaffinity fallback) sees it.
public struct Topology: Sendable, Equatable {
    /// Processor packages (sockets).
    public var packages: Int
    /// NUMA nodes.
    public var numaNodes: Int
    /// Physical cores usable by this process.
    public var cores: Int
    /// Hardware threads usable by this process.
    public var processingUnits: Int
    /// L1 data cache of one core, in bytes.
    public var l1dBytes: Int
    /// L2 cache of one core, in bytes.
    public var l2Bytes: Int
    /// Last-level cache of one package (0 if none reported).
    public var l3Bytes: Int
    /// True when hwloc loaded the topology; false on the fallback path.
    public var fromHwloc: Bool
    /// Where the numbers came from ("hwloc 2.9.0", or the fallback and why).
    public var source: String

    /// The topology of this machine (loaded once per process).
    public static let current: Topology = {
        var t = tsr_topology_info()
        t.size = UInt32(MemoryLayout<tsr_topology_info>.size)
        _ = tsr_topology_info_get(&t)
        let source = withUnsafeBytes(of: t.source) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return Topology(packages: Int(t.packages), numaNodes: Int(t.numa_nodes), cores: Int(t.cores),
                        processingUnits: Int(t.pus), l1dBytes: Int(t.l1d_bytes), l2Bytes: Int(t.l2_bytes),
                        l3Bytes: Int(t.l3_bytes), fromHwloc: t.from_hwloc != 0, source: source)
    }()

    /// Version of the hwloc library in use.
    public static var hwlocVersion: String { String(cString: tsr_hwloc_version()) }
}
