// `tessera generate` and `tessera chat` on a tiny GGUF model written by the tests: the built
// executable (beside this test bundle; missing = failure) against the Generator in this process.

import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraModels

/// A running `tessera` with pipes; `finish` waits for it (killing it after `timeout`).
private final class CLIProcess: @unchecked Sendable {
    let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let lock = NSLock()
    private var out = Data(), err = Data()
    private let group = DispatchGroup()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: try builtExecutable("tessera"))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["TESSERA_NUM_THREADS"] = "1"
        process.environment = env
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        for (pipe, isOut) in [(output, true), (errors, false)] {
            group.enter()
            DispatchQueue.global().async {
                while true {
                    let d = pipe.fileHandleForReading.availableData
                    if d.isEmpty { break }
                    self.lock.lock(); if isOut { self.out.append(d) } else { self.err.append(d) }; self.lock.unlock()
                }
                self.group.leave()
            }
        }
    }

    var stdoutSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }

    func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }

    func finish(timeout: Double = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate(); group.wait(); throw TestSupportError("tessera did not finish in \(timeout) s") }
        group.wait()
        process.waitUntilExit()
        lock.lock(); defer { lock.unlock() }
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

private func tessera(_ arguments: [String], stdin: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
    let p = try CLIProcess(arguments)
    p.send(stdin)
    return try p.finish()
}

/// The tiny model as a file (a long context, so that replies can run long).
private func tinyModelFile() throws -> String {
    var spec = TinyModelSpec()
    spec.context = 4096
    return try temporaryFile(try spec.build().bytes, name: "cli")
}

@Suite("tessera generate / chat (tiny model)", .serialized)
struct CLIModelTests {
    @Test("generate --ids / --print-ids: the token ids of the in-process Generator")
    func ids() throws {
        let path = try tinyModelFile()
        let r = try tessera(["generate", "--model", path, "--ids", "3,40,41,42", "--print-ids", "--max-tokens", "6"])
        #expect(r.status == 0, "\(r.stderr)")
        let model = try LlamaModel(path: path)
        let want = try Generator(model: model).generate(tokens: [3, 40, 41, 42], options: GenerationOptions(maxTokens: 6), onToken: { _ in true })
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "prompt: 3 40 41 42", "\(r.stdout)")
        #expect(lines.contains("output: " + want.tokens.map(String.init).joined(separator: " ")), "\(r.stdout)")
        // a text prompt: its ids are the tokenizer's
        let t = try tessera(["generate", "--model", path, "--prompt", "the cat", "--print-ids", "--max-tokens", "2"])
        #expect(t.stdout.hasPrefix("prompt: " + model.tokenizer.encode("the cat").map(String.init).joined(separator: " ") + "\n"), "\(t.stdout)")
        let bad = try tessera(["generate", "--model", path, "--ids", "3,99999"])
        #expect(bad.status == 64 && bad.stderr.contains("outside the model's vocabulary"), "\(bad.stderr)")
        let both = try tessera(["generate", "--model", path, "--ids", "3", "--prompt", "x"])
        #expect(both.status == 64, "\(both.stderr)")
    }

    @Test("generate --kv-cache f16/bf16: the ids of an in-process Generator with that cache; bad values are refused by name")
    func kvCacheOption() throws {
        let path = try tinyModelFile()
        let model = try LlamaModel(path: path)
        for kv in [AttentionStorage.float16, .bfloat16, .float32] {
            let r = try tessera(["generate", "--model", path, "--ids", "3,40,41,42,40,41", "--print-ids", "--max-tokens", "10",
                                 "--ignore-eos", "--kv-cache", kv.name])
            #expect(r.status == 0, "\(r.stderr)")
            var o = GenerationOptions(maxTokens: 10)
            o.stopTokens = []
            let want = try Generator(model: model, kvCache: kv).generate(tokens: [3, 40, 41, 42, 40, 41], options: o) { _ in true }
            #expect(r.stdout.contains("output: " + want.tokens.map(String.init).joined(separator: " ")), "\(kv): \(r.stdout)")
        }
        for bad in ["q8_0", "F64", ""] {
            let r = try tessera(["generate", "--model", path, "--prompt", "x", "--kv-cache", bad])
            #expect(r.status == 64 && r.stderr.contains("--kv-cache must be f32, f16 or bf16 (got '\(bad)')"), "\(r.stderr)")
            let s = try tessera(["serve", "--model", path, "--port", "0", "--kv-cache", bad])
            #expect(s.status == 64 && s.stderr.contains("--kv-cache must be f32, f16 or bf16 (got '\(bad)')"), "\(s.stderr)")
        }
    }

    @Test("generate --ignore-eos runs to --max-tokens; --logits-top K shows the greedy choice first; plain mode echoes the prompt")
    func checkingOptions() throws {
        let path = try tinyModelFile()
        let r = try tessera(["generate", "--model", path, "--ids", "5,6,7", "--print-ids", "--max-tokens", "12", "--ignore-eos", "--logits-top", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("generated 12 tokens"), "\(r.stderr)")
        #expect(r.stderr.contains("stop: maxTokens"), "\(r.stderr)")
        let output = r.stdout.split(separator: "\n").first { $0.hasPrefix("output: ") }.map { $0.dropFirst(8).split(separator: " ").map { Int($0)! } } ?? []
        #expect(output.count == 12)
        let logits = r.stdout.split(separator: "\n").filter { $0.hasPrefix("logits ") }
        #expect(logits.count == 12, "\(r.stdout)")
        for (i, line) in logits.enumerated() {
            // "logits i (chose t): t 'piece' value, ..." — greedy: the chosen id leads
            #expect(line.hasPrefix("logits \(i) (chose \(output[i])): \(output[i]) "), "\(line)")
            #expect(line.split(separator: ",").count >= 3)
        }
        let plain = try tessera(["generate", "--model", path, "--prompt", "the cat", "--max-tokens", "3"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.hasPrefix("the cat"), "\(plain.stdout)")
    }

    @Test("chat: /help is answered by tessera, not sent to the model; unknown commands neither")
    func chatCommands() throws {
        let path = try tinyModelFile()
        let r = try tessera(["chat", "--model", path, "--max-tokens", "4"], stdin: "/help\n/bogus\n/exit\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("/reset"), "\(r.stdout)")
        #expect(r.stderr.contains("unknown command /bogus"), "\(r.stderr)")
        #expect(!r.stderr.contains("[prompt"), "a reply was generated: \(r.stderr)")
        let hi = try tessera(["chat", "--model", path, "--max-tokens", "4"], stdin: "hello\n")
        #expect(hi.status == 0 && hi.stderr.contains("[prompt"), "\(hi.stderr)")
    }

    @Test("chat: Ctrl-C stops the reply, not the process")
    func chatInterrupt() throws {
        let path = try tinyModelFile()
        let p = try CLIProcess(["chat", "--model", path, "--max-tokens", "3500", "--ignore-eos"])
        p.send("hello\n")
        let deadline = Date().addingTimeInterval(60)
        while p.stdoutSoFar.utf8.count < 8 && Date() < deadline && p.process.isRunning { usleep(5_000) }
        kill(p.process.processIdentifier, SIGINT)    // as Ctrl-C
        usleep(200_000)
        p.send("/help\n/exit\n")
        let r = try p.finish()
        #expect(r.status == 0, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("stop: cancelled"), "\(r.stderr)")
        #expect(r.stdout.contains("/reset"), "the chat did not go on after the interrupt: \(r.stdout)")
    }
}
