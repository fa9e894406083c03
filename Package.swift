// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "smtp-machine",
    products: [
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
    ],
    targets: [
        // The pure protocol engine: no Foundation, no Glibc, no clock, no I/O.
        .target(
            name: "SMTPCore",
            path: "Sources/SMTPCore"
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore"],
            path: "Tests/SMTPCoreTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
