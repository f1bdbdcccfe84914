import ArgumentParser
import Foundation
import Tessera
import TesseraModels

/// `tessera quantize IN.gguf OUT.gguf --type q4_0`: requantizes a model (see `ModelQuantizer`).
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Requantize a GGUF model to another block type or K mix (llama-quantize style).",
        discussion: """
        Every weight matrix gets --type (a K mix such as Q4_K_M gives attention values and \
        feed-forward downs of some layers Q6_K, as llama-quantize does); 1-D tensors (norms, biases) are kept; the output \
        projection (or the tied token embedding) gets Q6_K when --type has fewer bits; rows \
        that are not whole 256-blocks of a K type fall back as llama-quantize does (Q6_K -> \
        Q8_0, Q4_K -> Q5_0, ...). Tensors \
        already of their planned type are copied unchanged; the rest are dequantized and \
        quantized with ggml's rounding. Metadata (tokenizer, chat template) is copied.
        """
    )

    @Argument(help: "Source GGUF model.")
    var input: String

    @Argument(help: "Output GGUF file (replaced).")
    var output: String

    @Option(name: .long, help: "Target type or K mix: \(QuantizeTarget.available.joined(separator: ", ")).")
    var type: String

    @Flag(help: "Print the plan (one line per tensor) without writing.")
    var dryRun = false

    @Flag(help: "Print the plan before quantizing.")
    var verbose = false

    func validate() throws {
        guard QuantizeTarget(name: type) != nil else {
            throw ValidationError("unknown --type '\(type)' (available: \(QuantizeTarget.available.joined(separator: ", ")))")
        }
        guard input != output else { throw ValidationError("the output must be another file than the input") }
    }

    func run() throws {
        do {
            try perform(QuantizeTarget(name: type)!)
        } catch {
            throw ValidationError(error.message)
        }
    }

    private func perform(_ target: QuantizeTarget) throws(TesseraError) {
        let file = try GGUFFile(path: input)
        let plan = try ModelQuantizer.plan(for: file, target: target)
        if dryRun || verbose {
            for d in plan {
                print("\(d.name)\t\(d.source.name) -> \(d.target.name)\(d.copied ? " (copied)" : "")\(d.fellBack ? " (fallback: rows not whole blocks)" : "")")
            }
        }
        if dryRun { return }
        let start = Date()
        try ModelQuantizer.quantize(file, to: target).write(to: output)
        let outSize = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? NSNumber)?.intValue ?? 0
        var counts = [String: Int]()
        for d in plan { counts[d.target.name, default: 0] += 1 }
        let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print(String(format: "%@: %d tensors (%@), %.1f MB -> %.1f MB in %.1f s",
                     output, file.tensors.count, summary, Double(file.fileSize) / 1e6, Double(outSize) / 1e6,
                     Date().timeIntervalSince(start)))
    }
}
