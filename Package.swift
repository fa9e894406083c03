// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "smtp-machine",
    products: [
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        // Invariant-checking harnesses for the libFuzzer targets in Fuzz/ and the regression replay.
        .library(name: "SMTPFuzzing", targets: ["SMTPFuzzing"]),
    ],
    targets: [
        // The pure protocol engine: no Foundation, no Glibc, no clock, no I/O.
        .target(
            name: "SMTPCore",
            path: "Sources/SMTPCore"
        ),
        .target(
            name: "SMTPFuzzing",
            dependencies: ["SMTPCore"],
            path: "Sources/SMTPFuzzing"
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", "SMTPFuzzing"],
            path: "Tests/SMTPCoreTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
