// swift-tools-version: 6.1
import PackageDescription

// Products, from the bottom up (README "Packages and products" shows the dependencies lines):
//   SMTPCore          the pure protocol engine (no Foundation, no Glibc, no clock, no I/O); its one
//                     dependency is CSMTPScan, a header of compiler builtins (the SSE2 line scan)
//   SMTPTLS           OpenSSL over memory BIOs, and the SASL mechanisms that need libcrypto
//   SMTPConnection    the layer every driver shares: options, messages, outcomes, ClientConnection
//   SMTPSocketDriver  blocking POSIX sockets (SMTPClient.send, BlockingSession)
//   SMTPUVDriver      libuv: many sessions on one loop and one thread (UVBatchSender)
//   SMTPNIODriver     SwiftNIO: sessions on an event loop (NIOBatchSender); the only target besides
//                     smtp-send that depends on swift-nio, so users of the others never build it
//   SMTPNIOClient     the async client for server applications: a connection pool on the NIO
//                     driver, swift-log, swift-metrics, swift-service-lifecycle (only it uses them)
//   SMTPMessage       the message builder: headers, MIME, encoders, a streaming renderer (pure)
//   SMTPMessageContent  a built message as MessageContent, file attachments through FileContent
//   smtp-send         the command-line client
let package = Package(
    name: "smtp-machine",
    products: [
        .executable(name: "smtp-send", targets: ["smtp-send"]),
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        .library(name: "SMTPTLS", targets: ["SMTPTLS"]),
        .library(name: "SMTPConnection", targets: ["SMTPConnection"]),
        .library(name: "SMTPSocketDriver", targets: ["SMTPSocketDriver"]),
        .library(name: "SMTPUVDriver", targets: ["SMTPUVDriver"]),
        .library(name: "SMTPNIODriver", targets: ["SMTPNIODriver"]),
        .library(name: "SMTPNIOClient", targets: ["SMTPNIOClient"]),
        .library(name: "SMTPMessage", targets: ["SMTPMessage"]),
        .library(name: "SMTPMessageContent", targets: ["SMTPMessageContent"]),
    ],
    dependencies: [
        // `swift package generate-documentation` (make docs); no product depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // SMTPNIODriver only.
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        // SMTPNIOClient only.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
    ],
    targets: [
        .target(
            name: "SMTPCore",
            dependencies: ["CSMTPScan"],
            path: "Sources/SMTPCore"
        ),
        // The reply parser's line-break scan, sixteen bytes per compare (SSE2); header-only.
        .target(
            name: "CSMTPScan",
            path: "Sources/CSMTPScan"
        ),
        .target(
            name: "SMTPMessage",
            dependencies: ["SMTPCore"],
            path: "Sources/SMTPMessage"
        ),
        // Drivers: everything that touches the operating system lives under Drivers/.
        .systemLibrary(
            name: "COpenSSL",
            path: "Drivers/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "SMTPTLS",
            dependencies: ["SMTPCore", "COpenSSL"],
            path: "Drivers/SMTPTLS"
        ),
        .target(
            name: "SMTPConnection",
            dependencies: ["SMTPCore", "SMTPTLS"],
            path: "Drivers/SMTPConnection"
        ),
        .target(
            name: "SMTPSocketDriver",
            dependencies: ["SMTPCore", "SMTPTLS", "SMTPConnection"],
            path: "Drivers/SMTPSocketDriver"
        ),
        .systemLibrary(
            name: "CLibUV",
            path: "Drivers/CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .target(
            name: "SMTPUVDriver",
            dependencies: ["SMTPCore", "SMTPTLS", "SMTPConnection", "CLibUV"],
            path: "Drivers/SMTPUVDriver"
        ),
        .target(
            name: "SMTPNIODriver",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPConnection",
                .product(name: "NIO", package: "swift-nio"),
            ],
            path: "Drivers/SMTPNIODriver"
        ),
        .target(
            name: "SMTPNIOClient",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPConnection", "SMTPNIODriver",
                .product(name: "NIO", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Drivers/SMTPNIOClient"
        ),
        .target(
            name: "SMTPMessageContent",
            dependencies: ["SMTPCore", "SMTPConnection", "SMTPMessage"],
            path: "Drivers/SMTPMessageContent"
        ),
        // The command-line client: wires options to a driver, prints the seed's lines.
        .executableTarget(
            name: "smtp-send",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPConnection", "SMTPSocketDriver", "SMTPUVDriver", "SMTPNIODriver",
                "SMTPMessage", "SMTPMessageContent",
            ],
            path: "Sources/smtp-send"
        ),
        // The fuzz harnesses' invariant checks (the oracle), for the regression replay in the
        // tests. Not a product: the Fuzz/ package compiles the same files as its own module.
        .target(
            name: "SMTPFuzzOracle",
            dependencies: ["SMTPCore", "SMTPConnection"],
            path: "Fuzz/Sources/SMTPFuzzing"
        ),
        // The async client under load (make bench) and its malloc count (the CI gate): a tool of
        // this repository's, not a product.
        .executableTarget(
            name: "PoolLoad",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPConnection", "SMTPNIOClient", "SMTPNIODriver", "SMTPSocketDriver",
                "SMTPUVDriver", "SMTPMessage", "SMTPMessageContent", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/PoolLoad"
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", "SMTPFuzzOracle"],
            path: "Tests/SMTPCoreTests"
        ),
        .testTarget(
            name: "DriverTests",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPConnection", "SMTPSocketDriver", "SMTPUVDriver", "SMTPNIODriver", "SMTPNIOClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            path: "Tests/DriverTests"
        ),
        .testTarget(
            name: "SMTPSendTests",
            dependencies: ["smtp-send"],
            path: "Tests/SMTPSendTests"
        ),
        .testTarget(
            name: "SMTPMessageTests",
            dependencies: ["SMTPCore", "SMTPMessage", "SMTPMessageContent", "SMTPConnection", "SMTPTLS", "SMTPSocketDriver"],
            path: "Tests/SMTPMessageTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
