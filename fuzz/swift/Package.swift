// swift-tools-version:6.1
// Tessera's Swift parser fuzzers (fuzz/README.md). A package of its own, so the main
// package gains no fuzzing targets or flags; it depends on the main package by path.
//
//   swift build --package-path fuzz/swift --scratch-path .build-fuzz -c debug \
//       -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld --sanitize=address \
//       -Xcc -fsanitize=fuzzer-no-link
//   (make fuzz-swift does this and runs each for FUZZ_SECONDS)
import Foundation
import PackageDescription

// A path dependency's identity is the last component of its path: the name of the folder
// the repository was cloned into, whatever it is.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().deletingLastPathComponent()
let tessera = root.lastPathComponent

func fuzzer(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name,
                      dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: tessera) },
                      path: "Sources/\(name)")
}

let package = Package(
    name: "TesseraFuzz",
    products: [
        .executable(name: "swift-gguf", targets: ["swift-gguf"]),
        .executable(name: "swift-safetensors", targets: ["swift-safetensors"]),
        .executable(name: "swift-npy", targets: ["swift-npy"]),
        .executable(name: "swift-csv", targets: ["swift-csv"]),
        .executable(name: "swift-serve-request", targets: ["swift-serve-request"]),
        .executable(name: "swift-stagger", targets: ["swift-stagger"]),
    ],
    dependencies: [.package(path: "../..")],
    targets: [
        // declares libFuzzer's LLVMFuzzerRunDriver (the runtime comes with -sanitize=fuzzer)
        .target(name: "CFuzzDriver", path: "Sources/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Sources/FuzzSupport"),
        fuzzer("swift-gguf", ["TesseraModels"]),
        fuzzer("swift-safetensors", ["TesseraDiffusion"]),
        fuzzer("swift-npy", ["Tessera"]),
        fuzzer("swift-csv", ["TesseraCluster"]),
        fuzzer("swift-serve-request", ["TesseraServe", "TesseraModels"]),
        fuzzer("swift-stagger", ["TesseraPDE", "Tessera"]),
    ]
)
