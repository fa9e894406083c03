import Glibc
import SMTPConnection
import SMTPCore
import SMTPTLS

// Runs every README snippet, and every DocC article's, against the rig (scripts/rig) and exits 1
// unless each one delivered.
// The ports and the test CA come from the rig's environment (.rig/rig.env).

func rigPort(_ name: String) -> UInt16 {
    guard let text = getenv(name).map({ String(cString: $0) }), let port = UInt16(text) else {
        print("readme-snippets: \(name) is not set: start the rig (scripts/rig/rig.sh start) and source its rig.env")
        exit(2)
    }
    return port
}

func rigText(_ name: String) -> String {
    guard let text = getenv(name).map({ String(cString: $0) }), !text.isEmpty else {
        print("readme-snippets: \(name) is not set: start the rig (scripts/rig/rig.sh start) and source its rig.env")
        exit(2)
    }
    return text
}

let caFile = getenv("RIG_CA_FILE").map { String(cString: $0) } ?? ""
let content = Array("Subject: README snippet\r\n\r\nHello from the README.\r\n".utf8)
var failures: [String] = []

/// Whether every outcome is a delivery (and says so).
func delivered(_ name: String, _ outcomes: [MessageOutcome?]) -> Bool {
    let statuses = outcomes.map { $0.map { "\($0.status)" } ?? "no outcome" }
    guard outcomes.allSatisfy({ $0?.status == .delivered }), !outcomes.isEmpty else {
        print("readme-snippets: \(name) FAILED: \(statuses) \(outcomes.compactMap { $0?.failure })")
        return false
    }
    print("readme-snippets: \(name): \(outcomes.count) delivered")
    return true
}

do {
    let plain = rigPort("RIG_POSTFIX_NOTLS_PORT")
    let byHand = try sendByHand(content, from: "a@example.org", to: ["b@example.net"],
                                over: POSIXStream(port: plain), heloName: "client.example")
    if !delivered("engine loop", [byHand]) { failures.append("engine loop") }

    let starttls = rigPort("RIG_POSTFIX_STARTTLS_PORT")
    let withTLS = try sendByHandWithTLS(content, from: "a@example.org", to: ["b@example.net"],
                                        over: POSIXStream(port: starttls), heloName: "client.example",
                                        host: "localhost", trust: TLSConfiguration(caFile: caFile))
    if !delivered("engine loop with TLS", [withTLS]) { failures.append("engine loop with TLS") }

    let options = ClientOptions(host: "127.0.0.1", port: starttls, tlsPolicy: .required,
                                tls: TLSConfiguration(caFile: caFile, serverName: "localhost"))
    let message = OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: content)
    let layered = try sendThroughTheConnectionLayer(message, over: POSIXStream(port: starttls), options: options)
    if !delivered("connection layer", [layered]) { failures.append("connection layer") }

    if !delivered("drivers", try sendWithTheDrivers(options)) { failures.append("drivers") }
    if !delivered("SwiftNIO driver", try await sendOnNIO(options)) { failures.append("SwiftNIO driver") }
    if !(try await serverApplication(options)) { failures.append("server application") }
    if !delivered("built message", [try sendABuiltMessage(options, attaching: "README.md")]) { failures.append("built message") }

    // The DocC articles' snippets (scripts/check-readme-snippets.py checks those too).
    let submission = submissionOptions(host: "127.0.0.1", port: rigPort("RIG_POSTFIX_SUBMISSION_PORT"),
                                       username: rigText("RIG_SASL_USER"), password: rigText("RIG_SASL_PASSWORD"),
                                       trust: TLSConfiguration(caFile: caFile, serverName: "localhost"))
    if !delivered("getting started", [try sendOneMessage(options: submission)]) { failures.append("getting started") }

    let sink = ClientOptions(host: "127.0.0.1", port: rigPort("RIG_SINK_PORT"), tlsPolicy: .off)
    for onLibuv in [true, false] {
        let name = onLibuv ? "load test (libuv)" : "load test (sockets)"
        let summary = try loadTest(sink, count: 200, connections: 4, onLibuv: onLibuv)
        if summary.delivered == 200, summary.failed == 0, summary.partiallyDelivered == 0 {
            print("readme-snippets: \(name): 200 delivered")
        } else {
            print("readme-snippets: \(name) FAILED: \(summary)")
            failures.append(name)
        }
    }
} catch {
    print("readme-snippets: \(error)")
    failures.append("\(error)")
}

if !failures.isEmpty { exit(1) }
print("readme-snippets: every snippet delivered")
