// swift-tools-version: 6.1
import PackageDescription

// A user's package that depends on the engine product alone. scripts/check-nio-free.sh builds it
// and fails if the build compiled any module but the engine's and this one (no SwiftNIO).
let package = Package(
    name: "engine-only",
    dependencies: [.package(name: "smtp-machine", path: "../../..")],
    targets: [
        .executableTarget(name: "EngineOnly", dependencies: [.product(name: "SMTPCore", package: "smtp-machine")]),
    ],
    swiftLanguageModes: [.v6]
)
