import Foundation

/// The test certificates of scripts/rig/certs.py, made once per test process in a fresh
/// directory, so the TLS tests need no running rig.
enum TestCertificates {
    static let directory: String = {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-tls-certs-\(UUID().uuidString)").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repo.appendingPathComponent("scripts/rig/certs.py").path, directory]
        do { try process.run() } catch { fatalError("cannot run scripts/rig/certs.py: \(error)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { fatalError("scripts/rig/certs.py failed with \(process.terminationStatus)") }
        return directory
    }()

    /// "server" -> (…/server.crt, …/server.key)
    static func pair(_ stem: String) -> (certificate: String, key: String) {
        ("\(directory)/\(stem).crt", "\(directory)/\(stem).key")
    }

    static var caFile: String { "\(directory)/ca-bundle.pem" }

    /// A file in a fresh temporary directory holding `text`.
    static func file(named name: String, holding text: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-tls-\(UUID().uuidString)-\(name)").path
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else { fatalError("cannot write \(path)") }
        return path
    }
}
