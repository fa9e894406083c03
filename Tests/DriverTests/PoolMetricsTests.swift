import Logging
import Metrics
import MetricsTestKit
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// The client's metrics through a factory of the test's own (nothing bootstrapped
/// process-wide): messages sent and failed, send durations, connections open.
@Suite("SMTPAsyncClient metrics", .serialized, .timeLimit(.minutes(1)))
struct PoolMetricsTests {
    @Test func sendsFailuresDurationsAndConnectionsAreCounted() async throws {
        let server = try PoolTestServer { _, command in
            command == "RCPT TO:<rcpt3@example.net>" ? .reply("550 5.1.1 no such user") : nil
        }
        let metrics = TestMetrics()
        let dimensions = [("smtp.server", "pool.test")]
        let client = try SMTPAsyncClient(options: PoolTest.options(port: server.port), pool: SMTPPoolConfiguration(maxConnections: 1),
                                         logger: Logger(label: "smtp.test"), metricsDimensions: dimensions, metricsFactory: metrics)
        var statuses: [MessageOutcome.Status] = []
        for number in 1...3 { statuses.append(try await client.send(PoolTest.message(number)).status) }
        #expect(statuses == [.delivered, .delivered, .notDelivered])
        await client.shutdown()
        #expect(try metrics.expectCounter("smtp_client_messages_sent", dimensions).values == [1, 1])
        #expect(try metrics.expectCounter("smtp_client_messages_failed", dimensions).values == [1])
        let durations = try metrics.expectTimer("smtp_client_send_duration", dimensions).values
        #expect(durations.count == 3)
        #expect(durations.allSatisfy { $0 > 0 })
        let open = try metrics.expectGauge("smtp_client_connections_open", dimensions).values
        #expect(open.max() == 1)
        #expect(open.last == 0)
    }
}
