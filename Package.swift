// swift-tools-version:6.1
// Tessera: parallel numerics kernels in C behind one C ABI, with a typed Swift API.
import PackageDescription

let package = Package(
    name: "Tessera",
    products: [
        // MARK: Public API (one product per domain, so users build only what they need)
        .library(name: "Tessera", targets: ["Tessera"]),
        .library(name: "TesseraCluster", targets: ["TesseraCluster"]),
        .library(name: "TesseraPDE", targets: ["TesseraPDE"]),
        .library(name: "TesseraDiffusion", targets: ["TesseraDiffusion"]),
        .library(name: "TesseraModels", targets: ["TesseraModels"]),
        // serve: the OpenAI-compatible HTTP server with continuous batching (`tessera serve`)
        .library(name: "TesseraServe", targets: ["TesseraServe"]),
        // distributed (MPI): its own product, so nothing else requires MPI
        .library(name: "TesseraDistributed", targets: ["TesseraDistributed"]),
        // the C ABI of include/tessera/cluster.h, implemented in Swift (libTesseraCABI.so; the Python package uses it)
        .library(name: "TesseraCABI", type: .dynamic, targets: ["TesseraCABI"]),
        .executable(name: "tessera", targets: ["tessera"]),
        .executable(name: "tessera-mpi", targets: ["tessera-mpi"]),
        .executable(name: "tessera-bench", targets: ["tessera-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `make docs`: DocC catalogs of the library modules (a command plugin; not linked into anything)
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // `tessera serve`: the HTTP server (swift-nio underneath) and its Prometheus /metrics
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: System libraries (found by pkg-config; scripts/bootstrap installs them)
        .systemLibrary(name: "CHwloc", path: "Sources/CHwloc", pkgConfig: "hwloc",
                       providers: [.apt(["libhwloc-dev"]), .brew(["hwloc"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3",
                       providers: [.apt(["libfftw3-dev"]), .brew(["fftw"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"])]),

        // MARK: The C kernels (public headers in the top-level include/)
        .target(
            name: "CTessera",
            dependencies: ["CHwloc"],
            path: ".",
            sources: ["CSources/tessera"],
            publicHeadersPath: "include",
            cSettings: [
                .headerSearchPath("CSources/tessera/core"),
                .define("_GNU_SOURCE"),
            ],
            linkerSettings: [.linkedLibrary("m"), .linkedLibrary("dl"), .linkedLibrary("pthread")]
        ),

        // MARK: Swift modules
        // Only Tessera (the typed façade) depends on CTessera; the domain modules use its API
        // (DESIGN.md, "Swift façade conventions"; `make check-facade` keeps the rule).
        .target(name: "Tessera", dependencies: ["CTessera", "COpenBLAS", "CPNG"]),
        // cluster: k-medoids, k-means, GMM, PPP
        .target(name: "TesseraCluster", dependencies: ["Tessera", "COpenBLAS"]),
        // pde: spectral (FFTW) and finite-difference solvers
        .target(name: "TesseraPDE", dependencies: ["Tessera", "CFFTW", "COpenBLAS"]),
        // diffusion: samplers, U-Net, patch parallelism
        .target(name: "TesseraDiffusion", dependencies: ["Tessera", "CFFTW", "COpenBLAS"]),
        // models: GGUF, tokenizer, Llama runner, speculative decoding
        .target(name: "TesseraModels", dependencies: ["Tessera"]),
        // serve: continuous-batching engine (scheduler, slots, per-request sampling) + OpenAI HTTP API
        .target(name: "TesseraServe",
                dependencies: ["Tessera", "TesseraModels",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "Prometheus", package: "swift-prometheus")]),
        // distributed: MPI binding, ring attention, distributed k-means and FD solvers
        .target(name: "TesseraDistributed",
                dependencies: ["Tessera", "CMPI", "TesseraPDE", "TesseraCluster", "TesseraDiffusion", "COpenBLAS"]),

        // @_cdecl exports of TesseraCluster for C and Python (include/tessera/cluster.h)
        .target(name: "TesseraCABI", dependencies: ["Tessera", "TesseraCluster", "TesseraPDE"]),

        // MARK: Command-line tools
        // what tessera and tessera-mpi share: the option types of the commands that also run on
        // MPI ranks, the problems they set up and the outputs they write (no MPI here)
        .target(
            name: "TesseraCLICore",
            dependencies: [
                "Tessera", "TesseraCluster", "TesseraPDE", "TesseraDiffusion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "tessera",
            dependencies: [
                "Tessera", "COpenBLAS", "TesseraCluster", "TesseraPDE", "TesseraDiffusion", "TesseraModels", "TesseraCLICore",
                "TesseraServe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // the benchmarks (`tessera bench <area>` execs this executable, which sits beside tessera)
        .executableTarget(
            name: "tessera-bench",
            dependencies: [
                "Tessera", "COpenBLAS", "TesseraCluster", "TesseraPDE", "TesseraDiffusion", "TesseraModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // the program the MPI tests, demo and bench launch under mpirun
        .executableTarget(name: "tessera-mpi",
                          dependencies: ["TesseraDistributed", "Tessera", "TesseraPDE", "TesseraCluster", "TesseraDiffusion",
                                         "TesseraCLICore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // MARK: Tests
        // what several test targets share (progress probes, the fuzz corpora)
        .target(name: "TesseraTestSupport", dependencies: ["Tessera"], path: "Tests/TesseraTestSupport"),
        .testTarget(name: "TesseraTests", dependencies: ["Tessera", "TesseraTestSupport"]),
        .testTarget(name: "TesseraPDETests", dependencies: ["TesseraPDE", "TesseraTestSupport"]),
        .testTarget(name: "TesseraDiffusionTests", dependencies: ["TesseraDiffusion", "TesseraTestSupport"]),
        .testTarget(name: "TesseraClusterTests", dependencies: ["TesseraCluster", "TesseraTestSupport"]),
        // runs mpirun + tessera-mpi; reads their output files and computes the reference itself
        .testTarget(name: "TesseraDistributedTests",
                    dependencies: ["TesseraDistributed", "TesseraCLICore", "TesseraPDE", "TesseraCluster", "TesseraDiffusion",
                                   "TesseraTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "TesseraModelsTests", dependencies: ["TesseraModels", "TesseraTestSupport"], exclude: ["Resources"]),
        // the serving engine against the real model: batch invariance, scheduling, HTTP errors
        .testTarget(name: "TesseraServeTests", dependencies: ["TesseraServe", "TesseraModels", "TesseraTestSupport"]),
        // runs the built tessera executable (and tessera-bench through it)
        .testTarget(name: "TesseraCLITests", dependencies: ["Tessera", "TesseraTestSupport"]),
        // (each module adds its test target here: .testTarget(name: "TesseraXTests", dependencies: ["TesseraX"]))
    ]
)
