import Foundation
import Glibc
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// The pool against scripted servers: reuse, limits, idle timeout, reconnect after 421,
/// throttling back-off, cancellation and deadlines, each checked against what the server saw.
@Suite("SMTPAsyncClient pool (scripted servers)", .serialized)
struct PoolScriptedTests {
    static func verbs(_ record: PoolTestServer.Record) -> [String] {
        record.commands.map { $0.line.hasPrefix("<") ? $0.line : String($0.line.prefix { $0 != " " }).uppercased() }
    }

    static let transaction = ["MAIL", "RCPT", "DATA", "<end-of-data>"]

    @Test func oneConnectionCarriesMessagesOneAfterAnother() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        for number in 1...5 {
            let outcome = try await client.send(PoolTest.message(number))
            #expect(outcome.status == .delivered)
        }
        await client.shutdown()
        #expect(await server.waitUntil { $0.closed == 1 })
        let record = server.snapshot
        #expect(record.accepted == 1)
        #expect(record.messages == (1...5).map { PoolTest.body($0) })
        // RSET before each message on the connection that carried one before.
        let later: [String] = Array(repeating: ["RSET"] + Self.transaction, count: 4).flatMap { $0 }
        let expected: [String] = ["EHLO"] + Self.transaction + later + ["QUIT"]
        #expect(Self.verbs(record) == expected)
    }

    @Test func maxConnectionsHoldsUnder200ConcurrentSends() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 4))
        let outcomes = try await client.send((1...200).map { PoolTest.message($0) })
        #expect(outcomes.map(\.status) == Array(repeating: .delivered, count: 200))
        let statistics = await client.statistics()
        await client.shutdown()
        let record = server.snapshot
        #expect(record.accepted == 4)
        #expect(statistics.peakConnections == 4)
        #expect(statistics.connectionsOpened == 4)
        #expect(record.messages.sorted() == (1...200).map { PoolTest.body($0) }.sorted())
    }

    @Test func anIdleConnectionQuitsAfterTheIdleTimeout() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port,
                                         pool: SMTPPoolConfiguration(maxConnections: 1, idleTimeout: .milliseconds(200)))
        #expect(try await client.send(PoolTest.message(1)).status == .delivered)
        #expect(await server.waitUntil { $0.closed == 1 })
        let record = server.snapshot
        let expected: [String] = ["EHLO"] + Self.transaction + ["QUIT"]
        #expect(Self.verbs(record) == expected)
        let lastReply = try #require(record.lines("<end-of-data>").first).at
        let quit = try #require(record.lines("QUIT").first).at
        #expect(lastReply.duration(to: quit) >= .milliseconds(200))
        await client.shutdown()
        #expect((await client.statistics()).connectionsOpen == 0)
    }

    @Test func maxMessagesPerConnectionOpensFreshConnections() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port,
                                         pool: SMTPPoolConfiguration(maxConnections: 1, maxMessagesPerConnection: 3))
        let outcomes = try await client.send((1...10).map { PoolTest.message($0) })
        #expect(outcomes.map(\.status) == Array(repeating: .delivered, count: 10))
        await client.shutdown()
        #expect(await server.waitUntil { $0.closed == 4 })
        let record = server.snapshot
        #expect(record.accepted == 4)
        let perConnection = (1...4).map { connection in record.lines("<end-of-data>").filter { $0.connection == connection }.count }
        #expect(perConnection == [3, 3, 3, 1])
        #expect(record.lines("QUIT").map(\.connection) == [1, 2, 3, 4])
        #expect(record.messages.sorted() == (1...10).map { PoolTest.body($0) }.sorted())
    }

    /// A connection that takes its last message under `maxMessagesPerConnection` writes QUIT
    /// behind that message's end of data (the server offers PIPELINING): the server here answers
    /// the end of data only once QUIT has arrived, so a client that waited for the reply first
    /// would time out instead. Every reply is still read, and each message is delivered.
    @Test func quitIsPipelinedBehindAConnectionsLastMessage() async throws {
        let server = try PoolTestServer { _, command in
            command == "<end-of-data>" ? .replyOnceClientSends("250 2.0.0 Ok: queued as Q", prefix: "QUIT") : nil
        }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1, maxMessagesPerConnection: 1),
                                         timeouts: Timeouts(all: .seconds(3)))
        let outcomes = try await client.send((1...2).map { PoolTest.message($0) })
        #expect(outcomes.map(\.status) == [.delivered, .delivered])
        #expect(outcomes.map { $0.dataReply?.code } == [.ok, .ok])
        await client.shutdown()
        #expect(await server.waitUntil { $0.closed == 2 })
        let record = server.snapshot
        let session: [String] = ["EHLO"] + Self.transaction + ["QUIT", "<deferred-reply>"]
        #expect(Self.verbs(record) == session + session)
        #expect(record.lines("QUIT").map(\.connection) == [1, 2])
        #expect(record.messages == [PoolTest.body(1), PoolTest.body(2)])
    }

    @Test func a421MidSessionReconnectsAndDeliversOnce() async throws {
        let mails = Counter()
        let server = try PoolTestServer { connection, command in
            guard command.hasPrefix("MAIL") else { return nil }
            return mails.next() == 2 ? .replyAndClose("421 4.3.2 Service shutting down") : nil
        }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        #expect(try await client.send(PoolTest.message(1)).status == .delivered)
        #expect(try await client.send(PoolTest.message(2)).status == .delivered)
        await client.shutdown()
        let record = server.snapshot
        #expect(record.accepted == 2)
        #expect(record.messages == [PoolTest.body(1), PoolTest.body(2)])
        #expect(record.lines("MAIL").map(\.connection) == [1, 1, 2])
    }

    @Test func throttlingBacksOffBeforeEachRetry() async throws {
        let mails = Counter()
        let server = try PoolTestServer { _, command in
            guard command.hasPrefix("MAIL") else { return nil }
            return mails.next() <= 2 ? .reply("451 4.7.0 Try again later") : nil
        }
        let pool = SMTPPoolConfiguration(maxConnections: 2, maxAttempts: 3, initialBackoff: .milliseconds(300),
                                         maximumBackoff: .seconds(5))
        let client = try PoolTest.client(port: server.port, pool: pool)
        let outcome = try await client.send(PoolTest.message(1))
        #expect(outcome.status == .delivered)
        await client.shutdown()
        let record = server.snapshot
        let times = record.lines("MAIL").map(\.at)
        #expect(times.count == 3)
        #expect(record.messages == [PoolTest.body(1)])
        if times.count == 3 {
            #expect(times[0].duration(to: times[1]) >= .milliseconds(300))
            #expect(times[1].duration(to: times[2]) >= .milliseconds(600))
        }
    }

    @Test func aRefusedConnectionEndsTheSendAfterMaxAttempts() async throws {
        let port = try Self.closedPort()
        let client = try PoolTest.client(port: port, pool: SMTPPoolConfiguration(maxConnections: 1, maxAttempts: 2))
        let message = PoolTest.message(1)
        let outcome = try await client.send(message)
        let failure = TransportFailure.connect(address: "127.0.0.1:\(port)", reason: .refused)
        #expect(outcome == PoolTest.withdrawn(message, .sessionEnded(.couldNotConnect(failure))))
        #expect((await client.statistics()).connectionsOpened == 2)
        await client.shutdown()
    }

    /// A port nobody listens on (bound, then closed).
    static func closedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
        return UInt16(bigEndian: address.sin_port)
    }
}

/// A thread-safe count for scripts (the server's threads call them).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    /// Counts one more and returns the new count (1 for the first call).
    func next() -> Int { lock.withLock { value += 1; return value } }
}
