// swift-tools-version:6.1
// A separate package that depends on Tessera by path, as a user's project would.
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(name: "Tessera", path: "../..")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "Tessera", package: "Tessera")]),
    ]
)
