import Foundation
import Logging
import ServiceLifecycle
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// Graceful shutdown: queued sends finish, or are withdrawn after a short grace; a send after
/// shutdown throws; the client runs as a ServiceLifecycle service.
@Suite("SMTPAsyncClient shutdown", .serialized)
struct PoolShutdownTests {
    @Test func shutdownFinishesQueuedSendsThenQuits() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let sends = Task { try await client.send((1...5).map { PoolTest.message($0) }) }
        #expect(await server.waitUntil { $0.lines("MAIL").count >= 1 })
        await client.shutdown()
        let outcomes = try await sends.value
        #expect(outcomes.map(\.status) == Array(repeating: .delivered, count: 5))
        #expect(await server.waitUntil { $0.closed == 1 })
        #expect(server.snapshot.lines("QUIT").count == 1)
        #expect(server.snapshot.messages == (1...5).map { PoolTest.body($0) })
        await #expect(throws: SMTPAsyncClientError.shutDown) { try await client.send(PoolTest.message(6)) }
    }

    @Test func aShortGraceWithdrawsWhatIsStillQueued() async throws {
        let server = try PoolTestServer { _, command in command == "<end-of-data>" ? .hold : nil }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let messages = (1...3).map { PoolTest.message($0) }
        let sends = Task { try await client.send(messages) }
        #expect(await server.waitUntil { $0.messages.count == 1 })
        await client.shutdown(gracePeriod: .milliseconds(200))
        let outcomes = try await sends.value
        #expect(outcomes.count == 3)
        // The one whose dot went out: the server may have it; stopped by the shutdown.
        #expect(outcomes.first?.status == .unknown)
        #expect(outcomes.first?.failure == .cancelled(.shutdown))
        let withdrawn: [MessageOutcome] = messages.dropFirst().map { PoolTest.withdrawn($0, .cancelled(.shutdown)) }
        #expect(Array(outcomes.dropFirst()) == withdrawn)
        #expect(server.snapshot.lines("MAIL").count == 1)
        await #expect(throws: SMTPAsyncClientError.shutDown) { try await client.send(PoolTest.message(4)) }
    }

    @Test func theClientRunsAsAServiceAndStopsOnGracefulShutdown() async throws {
        let server = try PoolTestServer()
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let group = ServiceGroup(services: [client], logger: Logger(label: "smtp.test.group"))
        let running = Task { try await group.run() }
        #expect(try await client.send(PoolTest.message(1)).status == .delivered)
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(await server.waitUntil { $0.closed == 1 })
        let expected: [String] = ["EHLO"] + PoolScriptedTests.transaction + ["QUIT"]
        #expect(PoolScriptedTests.verbs(server.snapshot) == expected)
        await #expect(throws: SMTPAsyncClientError.shutDown) { try await client.send(PoolTest.message(2)) }
    }
}
