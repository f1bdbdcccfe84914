import Foundation

/// The real models the tests run on, fetched once per process by `scripts/fetch-model`
/// (it prints the cached file's path as its last line of output).
public enum FetchedModel {
    /// The repository root (this file is Tests/TesseraTestSupport/ModelFetch.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The path of model `name` (`scripts/fetch-model NAME`; nil for its default model), or nil
    /// when the script cannot run or fails (no network, no pip). Runs the script each call:
    /// keep the result in a `static let`.
    public static func path(_ name: String? = nil) -> String? {
        let p = Process()
        p.executableURL = root.appendingPathComponent("scripts/fetch-model")
        if let name { p.arguments = [name] }
        let out = Pipe()
        p.standardOutput = out
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\n").last.map(String.init)
    }
}
