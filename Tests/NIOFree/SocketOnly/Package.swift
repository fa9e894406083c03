// swift-tools-version: 6.1
import PackageDescription

// A user's package that depends on the socket driver alone. scripts/check-nio-free.sh builds it
// and fails if the build compiled any SwiftNIO module.
let package = Package(
    name: "socket-only",
    dependencies: [.package(name: "smtp-machine", path: "../../..")],
    targets: [
        .executableTarget(name: "SocketOnly", dependencies: [.product(name: "SMTPSocketDriver", package: "smtp-machine")]),
    ],
    swiftLanguageModes: [.v6]
)
