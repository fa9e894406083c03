import Foundation
import SMTPCore
import SMTPConnection
import SMTPTLS
import SMTPUVDriver
import Testing

/// Connection-level failures need no rig: a closed port, and a real TCP peer that misbehaves.
@Suite("Connection failures (both drivers)")
struct ConnectionFailureTests {
    private func options(port: UInt16, timeout: Duration = .seconds(5)) -> ClientOptions {
        ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .off, heloName: "client.test.local",
                      timeouts: Timeouts(all: timeout), connectTimeout: .seconds(2))
    }

    private func message() -> OutgoingMessage {
        OutgoingMessage(from: "a@test.local", to: ["b@example.net"], content: Array("Subject: x\r\n\r\nbody\r\n".utf8))
    }

    @Test(arguments: Driver.allCases)
    func connectionRefused(_ driver: Driver) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let port = UInt16(bigEndian: address.sin_port)
        close(fd) // bound, never listening: connections are refused

        let result = deliver(message(), options: options(port: port), via: driver)
        #expect(result.elapsed < .seconds(5), "refusal is immediate, not a timeout")
        // Both drivers: nothing thrown, the same typed failure and the same words.
        #expect(result.setupError == nil)
        let failure = SMTPError.transportFailed(.connect(address: "127.0.0.1:\(port)", reason: .refused), .connect)
        #expect(result.report?.failure == .sessionEnded(failure))
        #expect(result.report?.status == .notDelivered)
        #expect(result.report?.isSafeToRetry == true)
        #expect(result.report?.recipients.map(\.status) == [.notAttempted])
        #expect("\(failure)" == "cannot connect to 127.0.0.1:\(port): connection refused")
    }

    @Test(arguments: Driver.allCases)
    func silentServerHitsTheGreetingDeadline(_ driver: Driver) throws {
        let peer = try ScriptedPeer([.silence])
        let result = deliver(message(), options: options(port: peer.port, timeout: .seconds(1)), via: driver)
        #expect(result.sessionError == .timeout(.greeting))
        #expect(result.elapsed >= .milliseconds(900))
        #expect(result.elapsed < .seconds(5), "the deadline fires on time, no hang")
        #expect(peer.waitUntilDone())
    }

    /// libuv batch: one session is served, the other never gets a greeting. Once the last
    /// message is delivered the silent session has nothing to do, and the batch must end then,
    /// not at the silent session's greeting timeout (5 minutes here, the RFC default).
    @Test func aBatchEndsWithItsLastMessageThoughASessionNeverGotItsGreeting() throws {
        let transaction: [ScriptedPeer.Step] = [
            .expect("MAIL"), .send("250 ok\r\n"), .expect("RCPT"), .send("250 ok\r\n"),
            .expect("DATA"), .send("354 go\r\n"), .expect("\r\n.\r\n"), .send("250 queued\r\n"),
        ]
        let peer = try ScriptedPeer([.send("220 peer ESMTP\r\n"), .expect("EHLO"), .send("250 peer\r\n")]
                                    + transaction + transaction + [.expect("QUIT"), .send("221 bye\r\n")],
                                    silentLaterConnections: true)
        let options = ClientOptions(host: "127.0.0.1", port: peer.port, tlsPolicy: .off, heloName: "client.test.local")
        // Two messages, two sessions: the served one takes both (messages go to whichever
        // session asks), the other waits for a greeting that never comes.
        let sender = UVBatchSender(options: options, connections: 2)
        let started = ContinuousClock.now
        var reports: [MessageOutcome] = []
        let summary = try sender.run(count: 2, makeMessage: { _ in message() }, completion: { reports.append($1) })
        #expect(summary.delivered == 2 && reports.count == 2)
        #expect(summary.connectionsOpened == 2)
        #expect(summary.lastError == nil, "ending an idle session is not a failure: \(String(describing: summary.lastError))")
        #expect(summary.loopClosedCleanly)
        #expect(ContinuousClock.now - started < .seconds(10), "the batch waited for the silent session")
        #expect(peer.waitUntilDone())
    }

    @Test(arguments: Driver.allCases)
    func silentServerAfterDataHitsTheFinalDotDeadline(_ driver: Driver) throws {
        let peer = try ScriptedPeer([
            .send("220 peer ESMTP\r\n"), .expect("EHLO"), .send("250-peer\r\n250 PIPELINING\r\n"),
            .expect("DATA\r\n"), .send("250 ok\r\n250 ok\r\n354 go\r\n"), .expect("\r\n.\r\n"), .silence,
        ])
        let result = deliver(message(), options: options(port: peer.port, timeout: .seconds(1)), via: driver)
        #expect(result.sessionError == .timeout(.dataTermination))
        #expect(result.report?.status == .unknown, "a timeout after the dot leaves delivery unknown")
        #expect(result.elapsed < .seconds(5))
        #expect(peer.waitUntilDone())
    }

    @Test(arguments: Driver.allCases)
    func serverGoneMidTransaction(_ driver: Driver) throws {
        let peer = try ScriptedPeer([
            .send("220 peer ESMTP\r\n"), .expect("EHLO"), .send("250 peer\r\n"),
            .expect("MAIL FROM"), .send("250 ok\r\n"), .expect("RCPT TO"), .close,
        ])
        let result = deliver(message(), options: options(port: peer.port), via: driver)
        #expect(result.sessionError == .connectionClosed(.recipient))
        #expect(result.report?.status == .notDelivered)
        #expect(result.elapsed < .seconds(5))
        #expect(peer.waitUntilDone())
    }

    @Test(arguments: Driver.allCases)
    func serverGoneDuringTheTLSHandshake(_ driver: Driver) throws {
        let peer = try ScriptedPeer([
            .send("220 peer ESMTP\r\n"), .expect("EHLO"), .send("250-peer\r\n250 STARTTLS\r\n"),
            .expect("STARTTLS"), .send("220 go ahead\r\n"), .expect("\u{16}\u{03}"), .close,
        ])
        var options = options(port: peer.port)
        options.tlsPolicy = .required
        let result = deliver(message(), options: options, via: driver)
        // The connection layer reports the close; the engine decides what it means.
        #expect(result.sessionError == .connectionClosed(.tlsHandshake))
        #expect(result.report?.failure == .sessionEnded(.connectionClosed(.tlsHandshake)))
        #expect(peer.waitUntilDone())
    }

    @Test(arguments: Driver.allCases)
    func plaintextAnswerOnAnImplicitTLSPort(_ driver: Driver) throws {
        let peer = try ScriptedPeer([.send("220 peer ESMTP plaintext here\r\n"), .silence])
        var options = options(port: peer.port)
        options.tlsPolicy = .implicit
        let result = deliver(message(), options: options, via: driver)
        guard case .tlsHandshakeFailed(let why)? = result.sessionError else {
            Issue.record("expected tlsHandshakeFailed, got \(String(describing: result.sessionError))"); return
        }
        #expect(why.contains("TLS"), "the error says the server is not speaking TLS: \(why)")
        #expect(!peer.received.contains("EHLO"))
    }
}
