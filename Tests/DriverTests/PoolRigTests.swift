import Foundation
import Logging
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import SMTPTLS
import Testing

/// The pool against the rig: Postfix over STARTTLS with AUTH (one connection, one TLS handshake
/// for 20 messages, RSET between them, seen in the transcript at trace level), and aiosmtpd (200 concurrent sends
/// within maxConnections, every body byte for byte).
@Suite("SMTPAsyncClient pool (rig)", .serialized)
struct PoolRigTests {
    @Test(.enabled(if: Rig.isAvailable))
    func twentyMessagesReuseOneConnectionAndOneTLSHandshake() async throws {
        let (logger, log) = RecordingLogHandler.logger(level: .trace)
        let options = Rig.options("RIG_POSTFIX_SUBMISSION_PORT", tls: .required,
                                  authentication: .passwordWithCrypto(username: Rig.user, password: Rig.password))
        let client = try SMTPAsyncClient(options: options, pool: SMTPPoolConfiguration(maxConnections: 1), logger: logger)
        var queueIDs: [String] = []
        for number in 1...20 {
            let outcome = try await client.send(Rig.message(to: ["pool\(number)@example.net"]).0)
            #expect(outcome.status == .delivered)
            if let id = Rig.queueID(outcome.dataReply) { queueIDs.append(id) }
        }
        let statistics = await client.statistics()
        await client.shutdown()
        #expect(statistics.connectionsOpened == 1)
        #expect(statistics.tlsFullHandshakes == 1)
        #expect(statistics.tlsResumedHandshakes == 0)
        #expect(queueIDs.count == 20)
        #expect(Rig.awaitDelivered(queueIDs: queueIDs).isEmpty)
        // The transcript, at trace, on the one connection: one STARTTLS, one AUTH, 20 MAILs.
        let commands = log.lines.filter { $0.level == .trace && $0.message.hasPrefix("C: ") }
        #expect(Set(commands.map { $0.metadata["smtp.connection"] ?? "-" }) == ["1"])
        let verbs = commands.map { String($0.message.dropFirst(3).prefix { $0 != " " }).uppercased() }
        #expect(verbs.filter { $0 == "STARTTLS" }.count == 1)
        #expect(verbs.filter { $0 == "AUTH" }.count == 1)
        #expect(verbs.filter { $0 == "MAIL" }.count == 20)
        // RSET before every message after the first (reuse), and nowhere else.
        #expect(verbs.filter { $0 == "RSET" }.count == 19)
        let afterAuth = Array(verbs.drop { $0 != "AUTH" }.dropFirst())
        // (Postfix offers CHUNKING: BDAT, then the content's transcript line.)
        let expected: [String] = ["MAIL", "RCPT", "BDAT", "<MESSAGE"]
            + Array(repeating: ["RSET", "MAIL", "RCPT", "BDAT", "<MESSAGE"], count: 19).flatMap { $0 } + ["QUIT"]
        #expect(afterAuth == expected)
        #expect(verbs.last == "QUIT")
    }

    @Test(.enabled(if: Rig.isAvailable))
    func twoHundredConcurrentSendsStayWithinMaxConnectionsAndArriveExactly() async throws {
        let options = Rig.options("RIG_AIOSMTPD_PORT", tls: .required,
                                  authentication: .passwordWithCrypto(username: Rig.user, password: Rig.password))
        let client = try SMTPAsyncClient(options: options, pool: SMTPPoolConfiguration(maxConnections: 3),
                                         logger: Logger(label: "smtp.test"))
        let marker = "X-Pool-Marker: \(UUID().uuidString)"
        let contents: [[UInt8]] = (1...200).map { Array("\(marker)\r\nSubject: pool \($0)\r\n\r\nbody \($0)\r\n.leading dot\r\n".utf8) }
        let messages = contents.map {
            OutgoingMessage(envelope: Envelope(sender: "sender@test.local", recipients: ["rcpt@example.net"]), content: BytesContent($0))
        }
        let outcomes = try await client.send(messages)
        let statistics = await client.statistics()
        await client.shutdown()
        #expect(outcomes.map(\.status) == Array(repeating: .delivered, count: 200))
        #expect(statistics.peakConnections == 3)
        #expect(statistics.connectionsOpened == 3)
        let stored = Rig.aiosmtpdContents(containing: marker, count: 200).map { [UInt8]($0) }
        #expect(stored.count == 200)
        #expect(stored.sorted { $0.lexicographicallyPrecedes($1) } == contents.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
