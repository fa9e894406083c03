import Foundation
import Logging
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// What the pool does when connections fail: a failure every connection would meet (an
/// untrusted certificate, AUTH refused) ends the waiting sends at once, without a connection
/// per attempt; a reset mid-session sends the message again on a new connection, once.
@Suite("SMTPAsyncClient connection failures", .serialized, .timeLimit(.minutes(2)))
struct PoolFailureTests {
    static let logger = Logger(label: "smtp.test")

    /// Three sends one after another, then three at once, against a server every connection
    /// fails the same way: each outcome is `expected(message)`, and no send costs more than one
    /// connection although three attempts are allowed.
    static func expectEveryConnectionFails(_ options: ClientOptions,
                                           _ expected: (OutgoingMessage, MessageOutcome) -> MessageOutcome) async throws {
        let client = try SMTPAsyncClient(options: options, pool: SMTPPoolConfiguration(maxConnections: 2, maxAttempts: 3),
                                         logger: logger)
        var sequential: [MessageOutcome] = []
        let first = (1...3).map { Rig.message(to: ["fails\($0)@example.net"]).0 }
        for message in first { sequential.append(try await client.send(message)) }
        let model = try #require(sequential.first)
        #expect(sequential == first.map { expected($0, model) })
        #expect((await client.statistics()).connectionsOpened == 3)
        let batch = (4...6).map { Rig.message(to: ["fails\($0)@example.net"]).0 }
        let together = try await client.send(batch)
        #expect(together == batch.map { expected($0, model) })
        // At most one connection per send, never one per attempt.
        #expect((await client.statistics()).connectionsOpened <= 6)
        await client.shutdown()
        #expect((await client.statistics()).connectionsOpen == 0)
    }

    @Test(.enabled(if: Rig.isAvailable))
    func anUntrustedCertificateEndsTheWaitingSendsAtOnce() async throws {
        let words = "certificate signed by an unknown authority"
        try await Self.expectEveryConnectionFails(Rig.options("RIG_POSTFIX_UNTRUSTED_PORT", tls: .required)) { message, _ in
            .notAttempted(message.envelope, because: .sessionEnded(.certificateRejected(words)))
        }
    }

    @Test(.enabled(if: Rig.isAvailable))
    func refusedCredentialsEndTheWaitingSendsAtOnce() async throws {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: "wrong-password", forcing: "PLAIN")
        let options = Rig.options("RIG_POSTFIX_SUBMISSION_PORT", tls: .required, authentication: auth)
        try await Self.expectEveryConnectionFails(options) { message, model in
            // Postfix's own words, the same for every send: a 535 5.7.8.
            guard case .sessionEnded(.authenticationFailed(let reply))? = model.failure else {
                Issue.record("expected authenticationFailed, got \(model)")
                return model
            }
            #expect(reply.code.rawValue == 535)
            #expect(reply.enhancedStatusCode == EnhancedStatusCode(statusClass: 5, subject: 7, detail: 8))
            return .notAttempted(message.envelope, because: .sessionEnded(.authenticationFailed(reply)))
        }
    }

    @Test func aResetAfterMAILSendsTheMessageAgainOnANewConnection() async throws {
        let server = try PoolTestServer { connection, command in
            connection == 1 && command.uppercased().hasPrefix("MAIL") ? .reset : nil
        }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let outcome = try await client.send(PoolTest.message(1))
        #expect(outcome.status == .delivered)
        #expect(outcome.dataReply?.text == "2.0.0 Ok: queued as Q2")
        let statistics = await client.statistics()
        await client.shutdown()
        #expect(await server.waitUntil { $0.closed == 2 })
        let record = server.snapshot
        #expect(record.accepted == 2)
        #expect(statistics.connectionsOpened == 2)
        // Delivered once, on the second connection.
        #expect(record.messages == [PoolTest.body(1)])
        let perConnection = (1...2).map { number in
            PoolScriptedTests.verbs(PoolTestServer.Record(commands: record.commands.filter { $0.connection == number }))
        }
        let expected: [[String]] = [["EHLO", "MAIL"], ["EHLO"] + PoolScriptedTests.transaction + ["QUIT"]]
        #expect(perConnection == expected)
    }
}
