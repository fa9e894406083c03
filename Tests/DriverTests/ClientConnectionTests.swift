import SMTPConnection
import SMTPCore
import Testing

/// The connection layer alone, with the server's side played by hand: it forwards the engine's
/// outcomes, applies the engine's one backpressure limit, and completes every message once.
@Suite("ClientConnection")
struct ClientConnectionTests {
    private func connection(highWater: Int = 64 * 1024, chunk: Int = 1024) throws -> ClientConnection {
        var limits = Limits()
        limits.outputHighWater = highWater
        let configuration = SMTPConfiguration(heloName: "client.example", tls: .off, usePipelining: false, useChunking: false,
                                              limits: limits)
        return try ClientConnection(configuration: configuration, tlsContext: nil, tlsHost: "mx.example", chunkSize: chunk,
                                    idlePolicy: .stayConnected)
    }

    private func reply(_ connection: ClientConnection, _ text: String, at now: SMTPInstant) {
        Array(text.utf8).withUnsafeBytes { connection.received($0, at: now) }
    }

    @Test func aConnectFailureCompletesEveryQueuedMessageWithIt() throws {
        let connection = try connection()
        var outcomes: [MessageOutcome] = []
        let message = OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: Array("x\r\n".utf8))
        connection.enqueue(message, completion: { outcomes.append($0) }, at: .zero)
        connection.enqueue(message, completion: { outcomes.append($0) }, at: .zero)
        let failure = TransportFailure.connect(address: "192.0.2.1:25", reason: .timedOut)
        connection.connectFailed(failure, at: .zero)
        #expect(connection.isFinished)
        let expected = MessageOutcome.notAttempted(message.envelope, because: .sessionEnded(.couldNotConnect(failure)))
        #expect(outcomes == [expected, expected])
        #expect(expected.isSafeToRetry)
        #expect(!connection.hasNetworkOutput)
    }

    @Test func bodyOutputStopsAtTheEnginesHighWaterMarkUntilTheDriverDrains() throws {
        let highWater = 4096
        let connection = try connection(highWater: highWater, chunk: 1024)
        var output: [UInt8] = []
        func take() -> [UInt8] {
            output.removeAll()
            connection.takeNetworkOutput(into: &output)
            return output
        }
        var outcome: MessageOutcome?
        let body = Array(String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", count: 2000).utf8)
        connection.start(at: .zero)
        reply(connection, "220 mx\r\n", at: .zero)
        _ = take()
        reply(connection, "250 mx\r\n", at: .zero)
        connection.enqueue(OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: body),
                           completion: { outcome = $0 }, at: .zero)
        // No SIZE= on MAIL: this server offers no extension at all.
        #expect(String(decoding: take(), as: UTF8.self) == "MAIL FROM:<a@example.org>\r\n")
        reply(connection, "250 ok\r\n", at: .zero)
        #expect(String(decoding: take(), as: UTF8.self) == "RCPT TO:<b@example.net>\r\n")
        reply(connection, "250 ok\r\n", at: .zero)
        #expect(String(decoding: take(), as: UTF8.self) == "DATA\r\n")
        // The 354: the body streams, but only up to the engine's limit while nothing is drained.
        reply(connection, "354 go\r\n", at: .zero)
        let first = take()
        #expect(first.count >= highWater && first.count < highWater + 2 * 1024 + 64, "\(first.count) octets before a drain")
        var sent = first
        var drains = 0
        while outcome == nil, drains < 1000 {
            connection.outputDrained(at: .zero)
            let more = take()
            #expect(more.count < highWater + 2 * 1024 + 64)
            sent += more
            drains += 1
            if sent.suffix(5) == Array("\r\n.\r\n".utf8) { reply(connection, "250 queued as Q\r\n", at: .zero) }
        }
        #expect(drains > body.count / (highWater + 2048), "the body went out in bounded steps")
        #expect(outcome?.status == .delivered)
        #expect(outcome?.dataReply?.description == "250 queued as Q")
    }

    /// A peer that stops reading mid-body: the driver holds a write it cannot finish and never
    /// reports a drain. Ticks of the clock before the data-block deadline must not feed more
    /// content (that would count as activity and push the deadline on): the session ends at
    /// the first deadline. (Found with the libuv driver, whose timer fired just before the due
    /// instant and so took 4 s instead of 2.)
    @Test func aStuckWriteEndsTheSessionAtTheFirstDataBlockDeadline() throws {
        var limits = Limits()
        limits.outputHighWater = 4096
        var timeouts = Timeouts()
        timeouts.dataBlock = .seconds(2)
        let configuration = SMTPConfiguration(heloName: "client.example", tls: .off, usePipelining: false, useChunking: false,
                                              timeouts: timeouts, limits: limits)
        let connection = try ClientConnection(configuration: configuration, tlsContext: nil, tlsHost: "mx.example",
                                              chunkSize: 1024, idlePolicy: .stayConnected)
        var output: [UInt8] = []
        func take() {
            output.removeAll()
            connection.takeNetworkOutput(into: &output)
        }
        var outcome: MessageOutcome?
        let body = Array(String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", count: 2000).utf8)
        connection.start(at: .zero)
        for line in ["220 mx\r\n", "250 mx\r\n"] { reply(connection, line, at: .zero); take() }
        connection.enqueue(OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: body),
                           completion: { outcome = $0 }, at: .zero)
        for line in ["250 ok\r\n", "250 ok\r\n", "354 go\r\n"] { take(); reply(connection, line, at: .zero) }
        // The driver takes what there is and starts a write that never completes.
        take()
        #expect(!output.isEmpty)
        #expect(connection.deadline == .zero + .seconds(2))
        // The timer fires a little early, then again.
        for early in [1000, 1999] {
            connection.timePassed(at: .zero + .milliseconds(early))
            #expect(connection.deadline == .zero + .seconds(2), "at \(early) ms the deadline moved")
        }
        connection.timePassed(at: .zero + .seconds(2))
        #expect(connection.isFinished)
        #expect(connection.failure == .timeout(.dataBlock))
        #expect(outcome?.status == .notDelivered)
    }
}

