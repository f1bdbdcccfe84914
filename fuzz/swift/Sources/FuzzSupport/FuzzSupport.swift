// What every Swift fuzzer shares: starting libFuzzer from SwiftPM's main, the property check,
// and writing seeds.
//
//   runFuzzer(makeSeeds: { dir in ... }) { bytes in ... }
//
// `prog --make-seeds DIR` writes the target's seed inputs into DIR and exits; anything else
// is handed to libFuzzer (`prog CORPUS_DIR -max_total_time=60`, `prog FILE...` to replay).
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif
import Foundation

nonisolated(unsafe) private var fuzzBody: ((UnsafeRawBufferPointer) -> Void)?

/// libFuzzer's per-input hook. The runtime that -sanitize=fuzzer links carries a `main`
/// that refers to it; SwiftPM's own entry point (the top-level code) wins, and calls
/// `runFuzzer`, which hands this same function to `LLVMFuzzerRunDriver`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzBody?(UnsafeRawBufferPointer(start: size > 0 ? UnsafeRawPointer(data) : nil, count: size))
    return 0
}

/// Runs libFuzzer on `body`, or writes seeds for `--make-seeds DIR`. Never returns.
public func runFuzzer(makeSeeds: (String) throws -> Void, _ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    setenv("TESSERA_QUIET_DEBUG_BUILD", "1", 0)
    let args = CommandLine.arguments
    if args.count == 3 && args[1] == "--make-seeds" {
        do {
            try FileManager.default.createDirectory(atPath: args[2], withIntermediateDirectories: true)
            try makeSeeds(args[2])
        } catch {
            FileHandle.standardError.write(Data("cannot write seeds: \(error)\n".utf8))
            exit(1)
        }
        exit(0)
    }
    // two workers that sleep at once (the C targets do the same), unless set
    setenv("TESSERA_NUM_THREADS", "2", 0)
    setenv("TESSERA_SPIN_US", "0", 0)
    setenv("TESSERA_BIND", "none", 0)
    fuzzBody = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzTestOneInput(data, size) })
}

/// A broken property: prints the message and aborts, which libFuzzer reports as a crash
/// and saves the input for.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        FileHandle.standardError.write(Data("\nfuzz check failed: \(file):\(line): \(message())\n".utf8))
        abort()
    }
}

/// Keeps a value alive so that reads feeding it are not optimised away.
@inline(never) public func fuzzSink<T>(_ value: T) { withExtendedLifetime(value) {} }

/// Writes one seed file.
public func writeSeed(_ dir: String, _ name: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: dir).appendingPathComponent(name))
}

/// Splits an input in two: a 2-byte little-endian length, that many bytes, and the rest.
public func splitInput(_ data: UnsafeRawBufferPointer) -> (first: [UInt8], rest: [UInt8]) {
    guard data.count >= 2 else { return ([], [UInt8](data)) }
    let n = min(Int(data[0]) | Int(data[1]) << 8, data.count - 2)
    return (Array(data[2..<(2 + n)]), Array(data[(2 + n)...]))
}

/// The inverse of `splitInput`.
public func joinInput(_ first: [UInt8], _ rest: [UInt8]) -> [UInt8] {
    [UInt8(first.count & 0xFF), UInt8(first.count >> 8)] + first + rest
}
