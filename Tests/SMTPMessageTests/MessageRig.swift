import Foundation
import SMTPConnection
import SMTPCore
import SMTPTLS

/// The rig's aiosmtpd (scripts/rig/rig.sh; `make test` exports RIG_*), for delivery tests.
enum MessageRig {
    static let environment = ProcessInfo.processInfo.environment
    static var isAvailable: Bool { environment["RIG_AIOSMTPD_PORT"] != nil }

    static var aiosmtpd: ClientOptions {
        let env = environment
        return ClientOptions(host: "127.0.0.1", port: UInt16(env["RIG_AIOSMTPD_PORT"]!)!, tlsPolicy: .required,
                             tls: TLSConfiguration(caFile: env["RIG_CA_FILE"], serverName: "localhost"),
                             heloName: "client.test.local",
                             authentication: .passwordWithCrypto(username: env["RIG_SASL_USER"]!, password: env["RIG_SASL_PASSWORD"]!),
                             timeouts: Timeouts(all: .seconds(30)), connectTimeout: .seconds(5))
    }

    /// The .eml files aiosmtpd stored that hold `marker` (with their .json beside), once there
    /// are `count` (bounded wait: aiosmtpd writes them before it replies, so they are there).
    static func stored(containing marker: String, count: Int) -> [(eml: String, json: [String: Any])] {
        let spool = environment["RIG_AIOSMTPD_SPOOL"]!
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        var found: [(String, [String: Any])] = []
        for name in files {
            let eml = spool + "/" + name.dropLast(5) + ".eml"
            guard let json = try? Data(contentsOf: URL(fileURLWithPath: spool + "/" + name)),
                  let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
                  containsMarker(eml, marker) else { continue }
            found.append((eml, object))
        }
        return found
    }

    /// Whether the first 64 KiB of the file hold `marker` (the header is there).
    static func containsMarker(_ path: String, _ marker: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = handle.readData(ofLength: 64 * 1024)
        return head.range(of: Data(marker.utf8)) != nil
    }
}
