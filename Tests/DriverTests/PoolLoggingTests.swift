import Logging
import SMTPConnection
import SMTPCore
import SMTPNIOClient
import Testing

/// What the client logs: lifecycle lines at debug with `smtp.connection` and `smtp.message`
/// metadata, nothing at info, the transcript only at trace.
@Suite("SMTPAsyncClient logging", .serialized)
struct PoolLoggingTests {
    @Test func debugShowsTheLifecycleWithConnectionAndMessageIDs() async throws {
        let server = try PoolTestServer()
        let (logger, log) = RecordingLogHandler.logger(level: .debug)
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1), logger: logger)
        #expect(try await client.send(PoolTest.message(1)).status == .delivered)
        await client.shutdown()
        let lines = log.lines
        #expect(lines.allSatisfy { $0.level == .debug })
        let messages = lines.map(\.message)
        #expect(messages == ["SMTP connection resolving", "SMTP connection opening", "SMTP connected", "SMTP session ready", "SMTP send on connection",
                             "SMTP send finished", "SMTP client shutting down", "SMTP connection quitting",
                             "SMTP connection closed", "SMTP client shut down"])
        let connectionLines = lines.filter {
            ["SMTP connection resolving", "SMTP connected", "SMTP session ready", "SMTP connection closed"].contains($0.message)
        }
        #expect(connectionLines.map { $0.metadata["smtp.connection"] } == ["1", "1", "1", "1"])
        let sendLines = lines.filter { $0.message.hasPrefix("SMTP send") }
        #expect(sendLines.map { $0.metadata["smtp.message"] } == ["1", "1"])
        #expect(sendLines.last?.metadata["smtp.outcome"] == "delivered to 1 of 1")
    }

    @Test func infoLogsNothingForASuccessfulSend() async throws {
        let server = try PoolTestServer()
        let (logger, log) = RecordingLogHandler.logger(level: .info)
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1), logger: logger)
        #expect(try await client.send(PoolTest.message(1)).status == .delivered)
        await client.shutdown()
        #expect(log.lines.map(\.message) == [])
    }

    @Test func aSendsOwnLoggerGetsItsLines() async throws {
        let server = try PoolTestServer()
        let (clientLogger, clientLog) = RecordingLogHandler.logger(level: .info)
        let (sendLogger, sendLog) = RecordingLogHandler.logger(level: .debug)
        let client = try PoolTest.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1), logger: clientLogger)
        #expect(try await client.send(PoolTest.message(1), logger: sendLogger).status == .delivered)
        await client.shutdown()
        #expect(sendLog.lines.map(\.message) == ["SMTP send on connection", "SMTP send finished"])
        #expect(clientLog.lines.map(\.message) == [])
    }
}
