// swift-tools-version: 6.1
import PackageDescription

// A package that depends on smtp-machine the way a user's does, by its products, and holds
// every Swift snippet of the README and of the DocC articles verbatim
// (scripts/check-readme-snippets.py checks that). `make test` builds it and runs each snippet
// against the rig.
let package = Package(
    name: "readme-snippets",
    dependencies: [
        .package(name: "smtp-machine", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "ReadmeSnippets",
            dependencies: [
                .product(name: "SMTPCore", package: "smtp-machine"),
                .product(name: "SMTPTLS", package: "smtp-machine"),
                .product(name: "SMTPConnection", package: "smtp-machine"),
                .product(name: "SMTPSocketDriver", package: "smtp-machine"),
                .product(name: "SMTPUVDriver", package: "smtp-machine"),
                .product(name: "SMTPNIODriver", package: "smtp-machine"),
                .product(name: "SMTPNIOClient", package: "smtp-machine"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SMTPMessage", package: "smtp-machine"),
                .product(name: "SMTPMessageContent", package: "smtp-machine"),
            ],
            path: "Sources/ReadmeSnippets"
        ),
    ],
    swiftLanguageModes: [.v6]
)
