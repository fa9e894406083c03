import Foundation
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// `messagesInFlightPerConnection` above 1: messages pipelined one behind the other on one
/// connection, the next MAIL written before the previous message's final reply.
@Suite("SMTPAsyncClient pipelining on one connection", .serialized, .timeLimit(.minutes(1)))
struct PoolPipeliningTests {
    /// Counts calls across the server's threads.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func next() -> Int { lock.withLock { count += 1; return count } }
    }

    @Test func twoSendsPipelineOnOneConnection() async throws {
        let dots = Counter()
        // The first message's final reply is held until the client writes the next MAIL: the
        // client must pipeline it (waiting for the reply first would hang until its timeout).
        let server = try PoolTestServer { _, command in
            guard command == "<end-of-data>", dots.next() == 1 else { return nil }
            return .replyOnceClientSends("250 2.0.0 Ok: queued as FIRST", prefix: "MAIL")
        }
        let client = try PoolTest.client(port: server.port,
                                         pool: SMTPPoolConfiguration(maxConnections: 1, messagesInFlightPerConnection: 2))
        let first = Task { try await client.send(PoolTest.message(1)) }
        #expect(await server.waitUntil { $0.lines("MAIL").count == 1 })
        let second = Task { try await client.send(PoolTest.message(2)) }
        let outcomes = [try await first.value, try await second.value]
        #expect(outcomes.map(\.status) == [.delivered, .delivered])
        #expect(outcomes.map { $0.dataReply?.text } == ["2.0.0 Ok: queued as FIRST", "2.0.0 Ok: queued as Q1"])
        let statistics = await client.statistics()
        await client.shutdown()
        #expect(await server.waitUntil { $0.closed == 1 })
        let record = server.snapshot
        #expect(record.accepted == 1)
        #expect(statistics.connectionsOpened == 1)
        #expect(record.messages == [PoolTest.body(1), PoolTest.body(2)])
        // No RSET between them: the second went while the first was in flight.
        let expected: [String] = ["EHLO"] + PoolScriptedTests.transaction + ["MAIL", "<deferred-reply>", "RCPT", "DATA", "<end-of-data>", "QUIT"]
        #expect(PoolScriptedTests.verbs(record) == expected)
    }
}
