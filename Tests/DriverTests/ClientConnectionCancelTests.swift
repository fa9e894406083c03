import SMTPConnection
import SMTPCore
import Testing

/// Withdrawing one message through its ticket (`cancelMessage`), and the reset before the next
/// one (`resetBeforeNextMessage`), with the server's side played by hand. Every completion runs
/// once, and a cancelled message's content is not read again.
@Suite("ClientConnection cancel and reset")
struct ClientConnectionCancelTests {
    /// Counts the reads of its content, across every reader it opens.
    final class ReadCounter: @unchecked Sendable {
        var reads = 0
    }

    struct CountedContent: MessageContent {
        let bytes: [UInt8]
        let counter: ReadCounter
        var size: Int? { nil }
        func makeReader() throws(MessageSourceError) -> any MessageReader { Reader(bytes, counter) }

        final class Reader: MessageReader {
            private let bytes: [UInt8]
            private let counter: ReadCounter
            private var offset = 0
            init(_ bytes: [UInt8], _ counter: ReadCounter) {
                self.bytes = bytes
                self.counter = counter
            }
            var isAtEnd: Bool { offset == bytes.count }
            func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
                counter.reads += 1
                let count = min(destination.count, bytes.count - offset)
                bytes.withUnsafeBytes { source in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<offset + count]))
                }
                offset += count
                return count
            }
        }
    }

    private func connection(highWater: Int = 64 * 1024) throws -> ClientConnection {
        var limits = Limits()
        limits.outputHighWater = highWater
        let configuration = SMTPConfiguration(heloName: "client.example", tls: .off, usePipelining: false, useChunking: false,
                                              limits: limits)
        return try ClientConnection(configuration: configuration, tlsContext: nil, tlsHost: "mx.example", chunkSize: 1024,
                                    idlePolicy: .stayConnected)
    }

    private func reply(_ connection: ClientConnection, _ text: String) {
        Array(text.utf8).withUnsafeBytes { connection.received($0, at: .zero) }
    }

    private func take(_ connection: ClientConnection) -> String {
        var output: [UInt8] = []
        connection.takeNetworkOutput(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Greeting and EHLO done: the session is ready.
    private func ready(_ connection: ClientConnection) {
        connection.start(at: .zero)
        reply(connection, "220 mx\r\n")
        _ = take(connection)
        reply(connection, "250 mx\r\n")
    }

    private static func message(_ recipient: String) -> OutgoingMessage {
        OutgoingMessage(from: "a@example.org", to: [recipient], content: Array("body\r\n".utf8))
    }

    @Test func aQueuedMessageIsWithdrawnAtOnceAndTheOthersGoOn() throws {
        let connection = try connection()
        ready(connection)
        var first: [MessageOutcome] = []
        var second: [MessageOutcome] = []
        let firstMessage = Self.message("b@example.net")
        let secondMessage = Self.message("c@example.net")
        let firstTicket = connection.enqueue(firstMessage, completion: { first.append($0) }, at: .zero)
        let secondTicket = connection.enqueue(secondMessage, completion: { second.append($0) }, at: .zero)
        #expect(firstTicket != secondTicket)
        #expect(take(connection) == "MAIL FROM:<a@example.org>\r\n")
        connection.cancelMessage(secondTicket, because: .cancelled, at: .zero)
        #expect(second == [.notAttempted(secondMessage.envelope, because: .cancelled(.cancelled))])
        #expect(second.first?.isSafeToRetry == true)
        var wire: [String] = []
        for line in ["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"] {
            reply(connection, line)
            wire.append(take(connection))
        }
        #expect(wire == ["RCPT TO:<b@example.net>\r\n", "DATA\r\n", "body\r\n.\r\n", ""], "no MAIL for the withdrawn message")
        #expect(first.map(\.status) == [.delivered])
        #expect(second.count == 1)
        #expect(connection.isIdle)
    }

    @Test func aMessageInFlightCompletesAtOnceThenRSETAndTheSessionIsReusable() throws {
        let connection = try connection()
        ready(connection)
        var outcomes: [MessageOutcome] = []
        let message = Self.message("b@example.net")
        let ticket = connection.enqueue(message, completion: { outcomes.append($0) }, at: .zero)
        #expect(take(connection) == "MAIL FROM:<a@example.org>\r\n")
        connection.cancelMessage(ticket, because: .deadlineExceeded, at: .zero)
        #expect(outcomes == [.notAttempted(message.envelope, because: .cancelled(.deadlineExceeded))])
        #expect(!connection.isIdle, "its MAIL is still unanswered")
        reply(connection, "250 ok\r\n")
        #expect(take(connection) == "RSET\r\n")
        reply(connection, "250 reset\r\n")
        #expect(connection.isIdle)
        // Cancelling it again, or after its completion, is a no-op.
        connection.cancelMessage(ticket, because: .cancelled, at: .zero)
        #expect(outcomes.count == 1)
        var next: MessageOutcome?
        connection.enqueue(Self.message("c@example.net"), completion: { next = $0 }, at: .zero)
        #expect(take(connection) == "MAIL FROM:<a@example.org>\r\n")
        #expect(next == nil)
        #expect(connection.failure == nil)
    }

    @Test func aMessageCancelledWhileItsContentStreamsIsNotReadAgain() throws {
        let connection = try connection(highWater: 4096)
        ready(connection)
        let counter = ReadCounter()
        let body = Array(String(repeating: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", count: 400).utf8)
        let message = OutgoingMessage(envelope: Envelope(sender: "a@example.org", recipients: [Recipient("b@example.net")]),
                                      content: CountedContent(bytes: body, counter: counter))
        var queuedBehind: [MessageOutcome] = []
        var outcomes: [MessageOutcome] = []
        let ticket = connection.enqueue(message, completion: { outcomes.append($0) }, at: .zero)
        connection.enqueue(Self.message("c@example.net"), completion: { queuedBehind.append($0) }, at: .zero)
        for line in ["250 ok\r\n", "250 ok\r\n", "354 go\r\n"] {
            _ = take(connection)
            reply(connection, line)
        }
        // The driver holds what it took; the rest of the content waits for the drain.
        let sent = take(connection)
        #expect(sent.utf8.count >= 4096 && sent.utf8.count < body.count, "\(sent.utf8.count) octets taken")
        let readsBefore = counter.reads
        connection.cancelMessage(ticket, because: .cancelled, at: .zero)
        connection.outputDrained(at: .zero)
        #expect(counter.reads == readsBefore)
        #expect(outcomes == [.notAttempted(message.envelope, because: .cancelled(.cancelled))])
        // DATA cannot be aborted: the connection goes without the dot, and the message queued
        // behind ends as on any lost connection, safe to send again.
        #expect(connection.isFinished)
        #expect(take(connection) == "")
        #expect(connection.failure == .messageCancelled(.cancelled))
        #expect(queuedBehind == [.notAttempted(Self.message("c@example.net").envelope,
                                               because: .sessionEnded(.messageCancelled(.cancelled)))])
    }

    @Test func resetBeforeNextMessageSendsRSETOnAnIdleSessionOnly() throws {
        let connection = try connection()
        ready(connection)
        connection.resetBeforeNextMessage(at: .zero)
        #expect(take(connection) == "RSET\r\n")
        var outcome: MessageOutcome?
        connection.enqueue(Self.message("b@example.net"), completion: { outcome = $0 }, at: .zero)
        #expect(take(connection) == "", "lock-step: MAIL waits for the reply to RSET")
        reply(connection, "250 reset\r\n")
        #expect(take(connection) == "MAIL FROM:<a@example.org>\r\n")
        connection.resetBeforeNextMessage(at: .zero)
        #expect(take(connection) == "", "a message is in flight: no RSET")
        for line in ["250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n"] {
            reply(connection, line)
            _ = take(connection)
        }
        #expect(outcome?.status == .delivered)
    }
}
