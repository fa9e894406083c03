// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "smtp-machine",
    products: [
        .executable(name: "smtp-send", targets: ["smtp-send"]),
        .library(name: "SMTPCore", targets: ["SMTPCore"]),
        // Invariant-checking harnesses for the libFuzzer targets in Fuzz/ and the regression replay.
        .library(name: "SMTPFuzzing", targets: ["SMTPFuzzing"]),
        // OpenSSL TLS over memory BIOs, and the SASL mechanisms that need libcrypto.
        .library(name: "SMTPTLS", targets: ["SMTPTLS"]),
        // The blocking POSIX-socket driver.
        .library(name: "SMTPSocketDriver", targets: ["SMTPSocketDriver"]),
        // The libuv driver: many sessions on one loop and one thread.
        .library(name: "SMTPUVDriver", targets: ["SMTPUVDriver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
            name: "SMTPDriverCore",
            dependencies: ["SMTPCore", "SMTPTLS"],
            path: "Drivers/SMTPDriverCore"
        ),
        .target(
            name: "SMTPSocketDriver",
            dependencies: ["SMTPCore", "SMTPTLS", "SMTPDriverCore"],
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
            dependencies: ["SMTPCore", "SMTPTLS", "SMTPDriverCore", "CLibUV"],
            path: "Drivers/SMTPUVDriver"
        ),
        // The command-line client: wires options to a driver, prints the seed's lines.
        .executableTarget(
            name: "smtp-send",
            dependencies: [
                "SMTPCore", "SMTPTLS", "SMTPDriverCore", "SMTPSocketDriver", "SMTPUVDriver",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/smtp-send"
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", "SMTPFuzzing"],
            path: "Tests/SMTPCoreTests"
        ),
        .testTarget(
            name: "DriverTests",
            dependencies: ["SMTPCore", "SMTPTLS", "SMTPDriverCore", "SMTPSocketDriver", "SMTPUVDriver"],
            path: "Tests/DriverTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)
