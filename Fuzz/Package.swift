// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for smtp-machine, built together by build.sh (the recipe is in README.md):
//   Fuzz/build.sh engine   # builds all five with libFuzzer and ASan, prints engine's path
// Without -DFUZZING each product is a plain replay tool: `engine FILE...` runs the harness on files.

let targets = ["reply-parser", "capabilities", "engine", "body-encoder", "connection"]

let package = Package(
    name: "smtp-machine-fuzz",
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "smtp-machine", path: ".."),
    ],
    targets: targets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzReplay", "SMTPFuzzing"],
            path: "Sources/\(name)"
        )
    } + [
        // The harnesses and their invariants (the main package's tests replay the same files as
        // its SMTPFuzzOracle module).
        .target(
            name: "SMTPFuzzing",
            dependencies: [
                .product(name: "SMTPCore", package: "smtp-machine"),
                .product(name: "SMTPConnection", package: "smtp-machine"),
            ],
            path: "Sources/SMTPFuzzing"
        ),
        // The plain (non-fuzzer) entry point: replays input files through a harness.
        .target(
            name: "FuzzReplay",
            dependencies: ["SMTPFuzzing"],
            path: "Sources/FuzzReplay"
        ),
    ],
    swiftLanguageModes: [.v6]
)
