// swift-tools-version: 6.1
import PackageDescription

// Micro-benchmarks of the engine (ordo-one/benchmark, with malloc counting). A package of its
// own so the main package builds without the benchmark dependencies. Run from here:
//   swift package benchmark                      # everything
//   swift package benchmark thresholds check     # the CI gate on malloc counts
let package = Package(
    name: "smtp-machine-benchmarks",
    dependencies: [
        .package(name: "smtp-machine", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "EngineBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SMTPCore", package: "smtp-machine"),
            ],
            path: "Benchmarks/EngineBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
