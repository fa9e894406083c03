import SMTPCore
import Testing

/// Issue 11 point 9: after TLS the EHLO goes out first. Bytes decrypted from the server's last
/// handshake flight reach the engine after it queued the post-TLS EHLO but before the driver took
/// it: the server sent them before it could have seen that EHLO, so they answer nothing.
@Suite("Replies answered ahead of the post-TLS EHLO")
struct AnsweredAheadAfterTLSTests {
    private static let message = TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")

    /// Greeting, EHLO, STARTTLS and its 220: the engine is waiting for the handshake.
    private func harnessAtHandshake() throws -> Harness {
        var harness = try Harness(configuration: .test(tls: .required), messages: [Self.message], quitWhenDone: true,
                                  strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.drain()
        harness.feedLines("220 mx ESMTP\r\n")
        harness.feedLines("250-mx\r\n250 STARTTLS\r\n")
        harness.feedLines("220 go ahead\r\n")
        #expect(harness.tlsRequested)
        return harness
    }

    @Test func ehloReplyInTheLastHandshakeFlightIsUnsolicited() throws {
        var harness = try harnessAtHandshake()
        harness.machine.tlsEstablished(at: harness.now)
        // Decrypted with the handshake's last flight: the EHLO is queued, not yet taken.
        harness.machine.received(Array("250 mx\r\n".utf8), at: harness.now)
        harness.drain()
        let result = harness.result
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(result.closed)
        // The engine wrote the EHLO before it read the reply (drivers drop a failed session's
        // last output); no MAIL, no QUIT: the session never became ready, no message started.
        #expect(result.clientText == "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\n")
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "negotiating-tls", "tls",
            "failed: protocol violation: unsolicited reply 250 when no command was pending",
        ])
    }

    /// The control: the same reply once the driver took the EHLO is its reply.
    @Test func ehloReplyAfterTheEHLOWasTakenIsItsReply() throws {
        var harness = try harnessAtHandshake()
        harness.machine.tlsEstablished(at: harness.now)
        harness.drain()
        harness.machine.received(Array("250 mx\r\n".utf8), at: harness.now)
        harness.drain()
        let result = harness.result
        #expect(result.failure == nil)
        #expect(result.clientText == "EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\nMAIL FROM:<a@example.org>\r\n")
    }
}
