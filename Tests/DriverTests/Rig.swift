import Foundation
import SMTPCore
import SMTPConnection
import SMTPTLS
import Testing

/// The real servers the test scripts start (scripts/rig/rig.sh), found through the RIG_*
/// environment variables that `make test` exports from .rig/rig.env.
enum Rig {
    static let environment = ProcessInfo.processInfo.environment

    /// True when the rig is up. `make test` always starts it and fails if any test was skipped.
    static var isAvailable: Bool { environment["RIG_POSTFIX_STARTTLS_PORT"] != nil }

    static func port(_ name: String) -> UInt16 {
        guard let text = environment[name], let port = UInt16(text) else {
            fatalError("\(name) is not set: start the rig with scripts/rig/rig.sh start and source .rig/rig.env")
        }
        return port
    }

    static func path(_ name: String) -> String {
        guard let text = environment[name] else { fatalError("\(name) is not set") }
        return text
    }

    static var caFile: String { path("RIG_CA_FILE") }
    static var user: String { path("RIG_SASL_USER") }
    static var password: String { path("RIG_SASL_PASSWORD") }

    static func options(_ portName: String, tls: TLSPolicy = .opportunistic, host: String = "127.0.0.1",
                        serverName: String? = "localhost", caFile: String? = Rig.caFile,
                        authentication: AuthenticationOptions? = nil, timeouts: Timeouts = Timeouts(all: .seconds(20))) -> ClientOptions {
        ClientOptions(host: host, port: port(portName), tlsPolicy: tls,
                      tls: TLSConfiguration(caFile: caFile, serverName: serverName),
                      heloName: "client.test.local", authentication: authentication, timeouts: timeouts,
                      connectTimeout: .seconds(5))
    }

    /// The Postfix log, for `status=sent` evidence.
    static func maillog() -> String {
        (try? String(contentsOfFile: path("RIG_POSTFIX_MAILLOG"), encoding: .utf8)) ?? ""
    }

    /// Waits (bounded) until the maillog shows `status=sent` for every queue id, since Postfix
    /// delivers after it answers. Polls the file; returns the ids still missing.
    static func awaitDelivered(queueIDs: [String], timeout: Duration = .seconds(30)) -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var missing = Set(queueIDs)
        while !missing.isEmpty && clock.now < deadline {
            let log = maillog()
            // "... postfix/discard[123]: 4XyZ1k2Lm3N: to=<...>, ..., status=sent (...)": the
            // queue id is the field after the process; one set lookup per line, so a long-lived
            // rig's large log is still read in one pass.
            for line in log.split(separator: "\n") where line.contains("status=sent") {
                guard let process = line.range(of: "]: ") else { continue }
                let id = line[process.upperBound...].prefix { $0 != ":" }
                missing.remove(String(id))
            }
            if !missing.isEmpty { Thread.sleep(forTimeInterval: 0.05) }
        }
        return Array(missing)
    }

    /// "250 2.0.0 Ok: queued as 4Xyz..." -> "4Xyz..."
    static func queueID(_ reply: SMTPReply?) -> String? {
        guard let text = reply?.text, let range = text.range(of: "queued as ") else { return nil }
        return String(text[range.upperBound...].prefix { !$0.isWhitespace })
    }

    /// A message with a unique Message-ID, so a test can find it in spools and logs.
    static func message(from sender: String = "sender@test.local", to recipients: [String] = ["rcpt@example.net"],
                        body: String = "Hello from the driver tests.\r\n") -> (OutgoingMessage, String) {
        let id = UUID().uuidString
        let content = "From: <\(sender)>\r\nTo: <\(recipients[0])>\r\nSubject: test \(id)\r\nMessage-ID: <\(id)@test.local>\r\n\r\n\(body)"
        return (OutgoingMessage(from: sender, to: recipients, content: Array(content.utf8)), id)
    }
}

extension Rig {
    /// The bytes aiosmtpd stored for the message whose content contains `marker`, waiting
    /// (bounded) for the file to appear.
    static func aiosmtpdContent(containing marker: String, timeout: Duration = .seconds(30)) -> Data? {
        let spool = URL(fileURLWithPath: path("RIG_AIOSMTPD_SPOOL"))
        let needle = Data(marker.utf8)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            let files = (try? FileManager.default.contentsOfDirectory(at: spool, includingPropertiesForKeys: nil)) ?? []
            for file in files.sorted(by: { $0.lastPathComponent > $1.lastPathComponent }) where file.pathExtension == "eml" {
                guard let data = try? Data(contentsOf: file), data.range(of: needle) != nil else { continue }
                return data
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// Every message aiosmtpd stored that holds `marker`, once there are `count` of them (or
    /// what there is when `timeout` passes).
    static func aiosmtpdContents(containing marker: String, count: Int, timeout: Duration = .seconds(30)) -> [Data] {
        let spool = URL(fileURLWithPath: path("RIG_AIOSMTPD_SPOOL"))
        let needle = Data(marker.utf8)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var found: [Data] = []
        repeat {
            let files = (try? FileManager.default.contentsOfDirectory(at: spool, includingPropertiesForKeys: nil)) ?? []
            found = files.filter { $0.pathExtension == "eml" }.compactMap { file in
                guard let data = try? Data(contentsOf: file), data.range(of: needle) != nil else { return nil }
                return data
            }
            if found.count >= count { return found }
            Thread.sleep(forTimeInterval: 0.05)
        } while clock.now < deadline
        return found
    }

    /// VmHWM and VmRSS of this process, in KiB.
    static func memory() -> (peak: Int, resident: Int) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func value(_ key: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
        }
        return (value("VmHWM:"), value("VmRSS:"))
    }

    /// Resets the peak-RSS counter (Linux: writing 5 to clear_refs).
    static func resetPeakMemory() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}
