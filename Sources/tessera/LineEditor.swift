// Reading chat input: line editing and history through libedit (BSD editline, the Debian
// package libedit2; loaded at run time, so the CLI builds and runs without it) when stdin is
// a terminal; plain lines otherwise (pipes, files, or no libedit).

import Foundation

final class LineEditor {
    private typealias ReadlineFn = @convention(c) (UnsafePointer<CChar>?) -> UnsafeMutablePointer<CChar>?
    private typealias AddHistoryFn = @convention(c) (UnsafePointer<CChar>?) -> Int32
    private let readline: ReadlineFn?
    private let addHistory: AddHistoryFn?

    /// Whether line editing (arrow keys, history with ↑/↓, Ctrl-R search) is on.
    var isEditing: Bool { readline != nil }

    init(interactive: Bool) {
        var rl: ReadlineFn? = nil, ah: AddHistoryFn? = nil
        if interactive, ProcessInfo.processInfo.environment["TESSERA_NO_LINE_EDITING"] == nil {
            for name in ["libedit.so.2", "libedit.so"] {
                guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
                if let r = dlsym(h, "readline"), let a = dlsym(h, "add_history") {
                    rl = unsafeBitCast(r, to: ReadlineFn.self)
                    ah = unsafeBitCast(a, to: AddHistoryFn.self)
                    break
                }
            }
        }
        readline = rl
        addHistory = ah
    }

    /// The next line without its newline (nil at end of input). Non-empty lines join the history.
    func next(prompt: String) -> String? {
        guard let readline else {
            if !prompt.isEmpty { FileHandle.standardOutput.write(Data(prompt.utf8)) }
            return readLine(strippingNewline: true)
        }
        guard let p = prompt.withCString({ readline($0) }) else { return nil }
        defer { free(p) }
        let line = String(cString: p)
        if !line.trimmingCharacters(in: .whitespaces).isEmpty { _ = line.withCString { addHistory?($0) } }
        return line
    }
}
