import Foundation
internal import CTessera

/// How the C core in this process was compiled.
///
/// SwiftPM compiles a dependency's C code with the client's configuration, so a client's debug
/// build runs Tessera's kernels at -O0: 40–150× slower (a 2048² Q4_0 GEMV: 1.1–3.8 ms instead of
/// 0.025 ms here). SwiftPM refuses `unsafeFlags` in versioned dependencies and clang has no
/// pragma or attribute that raises the optimisation level, so the package cannot fix this for
/// its clients; it says so instead (`tessera info`, and a one-time warning on stderr).
public struct BuildInfo: Sendable {
    /// The C kernels were compiled with optimisation (-O1 or higher).
    public let optimized: Bool
    /// The C compiler and its version.
    public let compiler: String

    /// The build of the Tessera library linked into this process.
    public static let current: BuildInfo = {
        var info = tsr_build_info()
        info.size = UInt32(MemoryLayout<tsr_build_info>.size)
        guard tsr_build_info_get(&info) == TSR_OK else { return BuildInfo(optimized: true, compiler: "unknown") }
        return BuildInfo(optimized: info.optimized != 0, compiler: info.compiler.map { String(cString: $0) } ?? "unknown")
    }()

    /// What to do about an unoptimised build, in one sentence.
    public static let advice = "build with `swift build -c release`, or keep Swift in debug and optimise the C code: `swift build -Xcc -O2` (the same flag for `swift test` and `swift run`)"

    /// Prints the warning once per process when the kernels are unoptimised (unless
    /// TESSERA_QUIET_DEBUG_BUILD is set).
    static func warnOnceIfUnoptimized() { _ = warning }
    private static let warning: Void = {
        guard !current.optimized, ProcessInfo.processInfo.environment["TESSERA_QUIET_DEBUG_BUILD"] == nil else { return }
        FileHandle.standardError.write(Data("""
            tessera: warning: the C kernels were compiled without optimisation (a debug build of this package): \
            they run 40-150x slower. To fix, \(advice). Set TESSERA_QUIET_DEBUG_BUILD=1 to hide this.

            """.utf8))
    }()
}
