// TesseraCLICore: what the `tessera` CLI and the `tessera-mpi` companion share, so that
// `tessera X --distributed` accepts exactly the options of `tessera X` and writes the same
// outputs: the option types of the commands that have a distributed form (pde heat, pde
// poisson, cluster, attention, diffuse), the problems they set up, the files and summaries they
// write, and the entry point both executables use. Nothing here links MPI.

import ArgumentParser
import Foundation

/// The entry point of Tessera's command-line executables.
public enum CommandLineTool {
    /// Parses the arguments for `root` and runs the chosen command. Unlike ArgumentParser's
    /// `main()`, a `ValidationError` thrown while the command runs (an option that could only be
    /// judged after reading a file, say) prints the usage of that command, not the root's.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, arguments: [String]? = nil) -> Never {
        var command: ParsableCommand
        do {
            command = try root.parseAsRoot(arguments)
        } catch {
            // ArgumentParser validates a command before it looks for unknown options, so a
            // misspelt option could surface as a confusing complaint about another one: name it.
            if root.exitCode(for: error) == .validationFailure,
               let (sub, unknown) = unknownOption(root, arguments ?? Array(CommandLine.arguments.dropFirst())) {
                standardError("Error: Unknown option '\(unknown)'\nUsage: \(root.usageString(for: sub))\n  See '\(commandPath(root, to: sub)) --help' for more information.")
                root.exit(withError: ExitCode.validationFailure)
            }
            root.exit(withError: error)
        }
        do {
            try command.run()
        } catch let error as ValidationError {
            let sub = type(of: command)
            let usage = root.usageString(for: sub)
            standardError("Error: \(error.message)\nUsage: \(usage)\n  See '\(commandPath(root, to: sub)) --help' for more information.")
            root.exit(withError: ExitCode.validationFailure)
        } catch {
            root.exit(withError: error)
        }
        root.exit()
    }

    /// The first `--name` in `arguments` that the command they select does not define (judged
    /// from its full help, hidden options included), with that command.
    static func unknownOption(_ root: ParsableCommand.Type, _ arguments: [String]) -> (ParsableCommand.Type, String)? {
        var command = root
        var rest = arguments[...]
        while let word = rest.first,
              let sub = command.configuration.subcommands.first(where: { $0.configuration.commandName == word }) {
            command = sub
            rest = rest.dropFirst()
        }
        let help = root.helpMessage(for: command, includeHidden: true, columns: 10_000)
        let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        func defined(_ name: String) -> Bool {
            var search = help[...]
            while let r = search.range(of: name) {
                if r.upperBound == help.endIndex || !nameCharacters.contains(help[r.upperBound]) { return true }
                search = help[r.upperBound...]
            }
            return false
        }
        for word in rest {
            if word == "--" { break }
            guard word.hasPrefix("--"), word.count > 2 else { continue }
            let name = String(word.split(separator: "=", maxSplits: 1)[0])
            if !defined(name) { return (command, name) }
        }
        return nil
    }

    /// "tessera pde heat" for `HeatRun` under `TesseraCLI`.
    public static func commandPath(_ root: ParsableCommand.Type, to target: ParsableCommand.Type) -> String {
        func name(_ c: ParsableCommand.Type) -> String {
            c.configuration.commandName ?? String(describing: c).lowercased()
        }
        func search(_ c: ParsableCommand.Type, _ path: [String]) -> [String]? {
            let here = path + [name(c)]
            if c == target { return here }
            for s in c.configuration.subcommands { if let p = search(s, here) { return p } }
            return nil
        }
        return (search(root, []) ?? [name(root), name(target)]).joined(separator: " ")
    }
}

/// One line on stderr (progress, notes: stdout stays for results).
public func standardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Whether stderr is a terminal (progress bars draw only there; logs get no carriage returns).
public var standardErrorIsTerminal: Bool { isatty(2) != 0 }

/// A one-line progress bar on stderr, redrawn with carriage returns — only when stderr is a
/// terminal: redirected to a file or a pipe it prints nothing.
public struct ProgressBar {
    /// The count that means 100 %.
    public let total: Int
    private var last = -1
    private let enabled: Bool

    /// A bar for `total` units of work; `enabled: false` makes every update a no-op.
    public init(total: Int, enabled: Bool = standardErrorIsTerminal) {
        self.total = total
        self.enabled = enabled
    }

    /// Redraws the bar for `done` of `total` units with `note` after it, when the percentage
    /// changed; at `done == total` it ends the line.
    public mutating func update(_ done: Int, _ note: String = "") {
        guard enabled else { return }
        let pct = total > 0 ? 100 * done / total : 100
        guard pct != last || done == total else { return }
        last = pct
        let w = 30, filled = w * pct / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: w - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(pct)% \(note)   ".utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// "1 tile", "4 tiles".
public func countedNoun(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// Creates a directory (and its parents) for outputs.
public func makeDirectory(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw ValidationError("cannot create the output directory '\(path)': \(error.localizedDescription)")
    }
}

/// Deterministic uniform numbers in [0, 1) (splitmix64): the inputs the commands generate
/// (attention tensors, the synthetic cluster data) are the same on every rank and every run.
public struct SplitMix {
    /// The generator's 64-bit state; each `next()` advances it by the splitmix64 increment.
    public var state: UInt64
    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next number, uniform in [0, 1) with 53 random bits.
    public mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// Options common to the commands that also run on MPI ranks.
public struct DistributedFlags: ParsableArguments {
    /// Both flags off.
    public init() {}

    /// Run on MPI ranks: `tessera` execs the `tessera-mpi` beside it with the same arguments.
    @Flag(help: ArgumentHelp("Run on MPI ranks: mpirun -np N tessera <command> --distributed ...",
                             discussion: "tessera execs the tessera-mpi executable beside it with the same arguments; the options and the outputs are this command's."))
    public var distributed = false

    /// With `distributed`: also compute the single-process result on rank 0 and print one JSON
    /// line comparing the two.
    @Flag(help: "With --distributed: also compute the single-process result on rank 0 and print one JSON line comparing the two.")
    public var check = false

    /// Refuses `--check` in a single-process run (it compares a distributed run with one process).
    public func validate(distributedRun: Bool) throws {
        if check && !distributedRun { throw ValidationError("--check compares a --distributed run with one process; add --distributed") }
    }
}

/// Refuses an option that the chosen mode or method would ignore.
public func refuse(_ given: Bool, _ message: @autoclosure () -> String) throws {
    if given { throw ValidationError(message()) }
}
