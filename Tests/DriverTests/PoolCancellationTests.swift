import Foundation
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// Cancellation and deadlines: a send withdrawn from the pool's queue, and one stopped on its
/// connection (the server holding the 354, or the final reply), each outcome checked against
/// what the server recorded; a deadline ends a send the server never answers.
@Suite("SMTPAsyncClient cancellation and deadlines", .serialized)
struct PoolCancellationTests {
    @Test func aSendQueuedBehindABusyConnectionIsWithdrawnAtOnce() async throws {
        let server = try PoolTestServer { _, command in command == "<end-of-data>" ? .hold : nil }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let first = PoolTest.message(1)
        let second = PoolTest.message(2)
        let running = Task { try await client.send(first) }
        #expect(await server.waitUntil { $0.messages.count == 1 })
        let queued = Task { try await client.send(second) }
        queued.cancel()
        let withdrawn = try await queued.value
        #expect(withdrawn == PoolTest.withdrawn(second, .cancelled(.cancelled)))
        #expect(withdrawn.isSafeToRetry)
        // The server never saw the second message.
        #expect(server.snapshot.lines("MAIL").count == 1)
        // The first one's final dot went out: the server may have it, so the outcome cannot
        // say it was not delivered.
        running.cancel()
        let stopped = try await running.value
        #expect(stopped.status == .unknown)
        #expect(stopped.failure == .cancelled(.cancelled))
        #expect(!stopped.isSafeToRetry)
        #expect(server.snapshot.messages == [PoolTest.body(1)])
        await client.shutdown()
    }

    @Test func aSendCancelledWhileTheServerHoldsThe354IsNotDelivered() async throws {
        let server = try PoolTestServer { _, command in command == "DATA" ? .hold : nil }
        // Timeouts far longer than the test waits: the close must come from the cancel.
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1),
                                         timeouts: Timeouts(all: .seconds(120)))
        let task = Task { try await client.send(PoolTest.message(1)) }
        #expect(await server.waitUntil { $0.lines("DATA").count == 1 })
        let clock = ContinuousClock()
        let cancelled = clock.now
        task.cancel()
        let outcome = try await task.value
        // Well inside the 120 s timeouts: the outcome waited for none. (A tighter wall-clock
        // bound fails when the whole suite's blocking tests hold every cooperative thread.)
        #expect(cancelled.duration(to: clock.now) < .seconds(60))
        #expect(outcome.status == .notDelivered)
        #expect(outcome.failure == .cancelled(.cancelled))
        #expect(outcome.isSafeToRetry)
        // The connection is dropped at once: the server holding its 354 keeps nothing busy.
        // Timed at the server, whose threads the test's cooperative pool cannot hold up: the
        // cancel reached the event loop and the engine dropped the connection within 250 ms.
        #expect(await server.waitUntil(timeout: .seconds(10)) { $0.closed == 1 })
        let closedAt = try #require(server.snapshot.closedAt.first)
        #expect(cancelled.duration(to: closedAt) < .milliseconds(250))
        #expect(server.snapshot.messages == [])
        await client.shutdown()
    }

    @Test func aDeadlineEndsASendTheServerNeverAnswers() async throws {
        let server = try PoolTestServer { _, command in command == "DATA" ? .hold : nil }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1),
                                         timeouts: Timeouts(all: .seconds(120)))
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await client.send(PoolTest.message(1), deadline: start + .milliseconds(300))
        let elapsed = start.duration(to: clock.now)
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(60), "the deadline ended it, not a 120 s timeout")
        #expect(outcome.status == .notDelivered)
        #expect(outcome.failure == .cancelled(.deadlineExceeded))
        #expect(outcome.isSafeToRetry)
        #expect(await server.waitUntil(timeout: .seconds(10)) { $0.closed == 1 })
        // At the server: the close came when the deadline passed, within 250 ms of it.
        let closedAt = try #require(server.snapshot.closedAt.first)
        #expect(start.duration(to: closedAt) >= .milliseconds(300))
        #expect(start.duration(to: closedAt) < .milliseconds(550))
        #expect(server.snapshot.messages == [])
        await client.shutdown()
    }

    @Test func aDeadlineWithdrawsASendStillQueued() async throws {
        let server = try PoolTestServer { _, command in command == "<end-of-data>" ? .hold : nil }
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1))
        let running = Task { try await client.send(PoolTest.message(1)) }
        #expect(await server.waitUntil { $0.messages.count == 1 })
        let second = PoolTest.message(2)
        let outcome = try await client.send(second, deadline: .now + .milliseconds(100))
        #expect(outcome == PoolTest.withdrawn(second, .cancelled(.deadlineExceeded)))
        #expect(server.snapshot.lines("MAIL").count == 1)
        running.cancel()
        _ = try await running.value
        await client.shutdown()
    }
}
