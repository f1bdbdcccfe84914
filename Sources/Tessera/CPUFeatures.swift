internal import CTessera

/// Kernel instruction-set levels, lowest first.
public enum ISA: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// No vector extensions (the reference kernels); AVX2 + FMA; AVX-512 (F, BW, DQ, VL).
    case scalar = 0, avx2 = 1, avx512 = 2

    /// Orders levels from the lowest (`scalar`) to the highest (`avx512`).
    public static func < (a: ISA, b: ISA) -> Bool { a.rawValue < b.rawValue }

    /// The level's name as `TESSERA_ISA` takes it: "scalar", "avx2" or "avx512".
    public var description: String {
        switch self {
        case .scalar: return "scalar"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }

    /// Parses "scalar", "avx2" or "avx512" (case-insensitive).
    public init(parsing name: String) throws(TesseraError) {
        var isa = tsr_isa(0)
        try check(tsr_isa_parse(name, &isa))
        self = ISA(rawValue: Int(isa.rawValue)) ?? .scalar
    }

    /// Highest level this CPU and OS support.
    public static var supported: ISA { ISA(rawValue: Int(tsr_isa_supported().rawValue)) ?? .scalar }

    /// Level the kernels use now (`TESSERA_ISA` or `force(_:)` can lower it).
    public static var active: ISA { ISA(rawValue: Int(tsr_isa_active().rawValue)) ?? .scalar }

    /// Makes every kernel use `isa` from the next call on (process-wide).
    public static func force(_ isa: ISA) throws(TesseraError) {
        try check(tsr_isa_force(tsr_isa(UInt32(isa.rawValue))))
    }
}

/// CPU features, each true only if CPUID reports it and the OS enables its register state (XCR0).
public struct CPUFeatures: Sendable, Equatable {
    /// The CPUID vendor string, e.g. "GenuineIntel" or "AuthenticAMD".
    public var vendor: String
    /// The processor's brand string, e.g. "AMD EPYC 9654 96-Core Processor".
    public var brand: String
    /// SSE4.2, AVX, AVX2, FMA3 and F16C.
    public var sse42, avx, avx2, fma, f16c: Bool
    /// The AVX-512 subsets: foundation, byte/word, dword/qword, vector length, VNNI, BF16, FP16.
    public var avx512f, avx512bw, avx512dq, avx512vl, avx512vnni, avx512bf16, avx512fp16: Bool
    /// AVX-VNNI (256-bit) and the AMX tile, int8 and bf16 extensions.
    public var avxVnni, amxTile, amxInt8, amxBf16: Bool

    /// The features of this machine.
    public static let current: CPUFeatures = {
        var f = tsr_cpu_features()
        f.size = UInt32(MemoryLayout<tsr_cpu_features>.size)
        _ = tsr_cpu_features_get(&f)
        func str<T>(_ tuple: T) -> String {
            withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return CPUFeatures(
            vendor: str(f.vendor), brand: str(f.brand),
            sse42: f.sse42 != 0, avx: f.avx != 0, avx2: f.avx2 != 0, fma: f.fma != 0, f16c: f.f16c != 0,
            avx512f: f.avx512f != 0, avx512bw: f.avx512bw != 0, avx512dq: f.avx512dq != 0,
            avx512vl: f.avx512vl != 0, avx512vnni: f.avx512_vnni != 0, avx512bf16: f.avx512_bf16 != 0,
            avx512fp16: f.avx512_fp16 != 0, avxVnni: f.avx_vnni != 0, amxTile: f.amx_tile != 0,
            amxInt8: f.amx_int8 != 0, amxBf16: f.amx_bf16 != 0)
    }()

    /// Names of the features present, in a fixed order.
    public var names: [String] {
        let all: [(String, Bool)] = [
            ("sse4.2", sse42), ("avx", avx), ("avx2", avx2), ("fma", fma), ("f16c", f16c),
            ("avx512f", avx512f), ("avx512bw", avx512bw), ("avx512dq", avx512dq), ("avx512vl", avx512vl),
            ("avx512vnni", avx512vnni), ("avx512bf16", avx512bf16), ("avx512fp16", avx512fp16),
            ("avxvnni", avxVnni), ("amx-tile", amxTile), ("amx-int8", amxInt8), ("amx-bf16", amxBf16),
        ]
        return all.filter { $0.1 }.map { $0.0 }
    }
}

/// Library version information.
public enum TesseraVersion {
    /// Version of the loaded C library, "MAJOR.MINOR.PATCH".
    public static var string: String { String(cString: tsr_version_string()) }
}
