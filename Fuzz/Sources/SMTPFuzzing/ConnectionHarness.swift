import SMTPConnection
import SMTPCore

/// The composition target: the engine inside `ClientConnection`, over a scripted transport whose
/// every move the fuzzer picks (server replies from a small grammar, raw bytes, closes, resets,
/// write failures, time passing, drains, messages queued mid-session, content that fails). With
/// flag 8 the messages go through a supplier (`supply(from:limit:quitWhenDry:)`, the batch
/// drivers' path: taken only when the engine can start one) instead of `enqueue`; flags 16 and
/// 32 set its limit (2) and QUIT when it runs dry.
///
/// Invariant: every message given to the connection gets exactly one outcome, and every outcome
/// agrees with the wire. An independent pairing of the client's commands with the server's
/// replies (each reply answers the oldest unanswered command written before the reply's first
/// byte arrived) must back each claim: a recipient reported delivered had its RCPT answered 2xx
/// and its transaction's end of data answered 2xx; a recipient refused carries a reply the server
/// really sent after that recipient's RCPT went out; the data reply is one the server sent; a
/// message's status follows from its recipients, and `failure` is nil exactly when delivered.
enum ConnectionHarness {
    /// Replies the scripted server can send; picked by operation bytes.
    static let replies: [String] = [
        "220 mx ESMTP\r\n", "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n", "250 mx\r\n",
        "250 2.1.0 ok\r\n", "250 2.0.0 queued as Q1\r\n", "354 go ahead\r\n", "452 4.5.3 too many recipients\r\n",
        "451 4.5.3 too many recipients\r\n", "550 5.1.1 no such user\r\n", "554 5.7.1 refused\r\n", "451 4.3.0 try later\r\n",
        "421 4.3.2 closing\r\n", "221 2.0.0 bye\r\n", "503 5.5.1 bad sequence\r\n", "250-multi\r\n250 line\r\n", "552 5.3.4 too big\r\n",
    ]

    private static let addresses = ["r1@example.net", "r2@example.net", "r3@example.net", "r4@example.net"]

    /// What the wire shows, as a strict server sees it: the client's stream read as commands
    /// (DATA content, only after a 354, and BDAT payloads skipped), each paired with the next
    /// server reply that began arriving after the command was written. Pairing stops at the first
    /// command with no such reply.
    private struct Wire {
        enum Command: Equatable { case hello, mail, recipient(String), data, dataEnd, chunk(last: Bool), reset, quit, other }
        var commands: [(command: Command, writtenAt: Int, transaction: Int)] = []
        var pairs: [(command: Command, transaction: Int, reply: SMTPReply)] = []

        init(client: [UInt8], replies: [(reply: SMTPReply, arrivedAt: Int)]) {
            var next = 1 // replies[0] is the greeting
            var inData = false
            var chunkLeft = 0
            var transactions = 0
            var line: [UInt8] = []
            var pairing = true
            for (offset, byte) in client.enumerated() {
                if chunkLeft > 0 { chunkLeft -= 1; continue }
                line.append(byte)
                guard byte == 10 else { continue }
                let text = String(decoding: line.dropLast(line.count >= 2 && line[line.count - 2] == 13 ? 2 : 1), as: UTF8.self)
                line.removeAll()
                let command: Command
                if inData {
                    guard text == "." else { continue }
                    inData = false
                    command = .dataEnd
                } else {
                    let upper = text.uppercased()
                    if upper.hasPrefix("EHLO") || upper.hasPrefix("HELO") || upper.hasPrefix("LHLO") { command = .hello }
                    else if upper.hasPrefix("MAIL FROM:") { transactions += 1; command = .mail }
                    else if upper.hasPrefix("RCPT TO:<") { command = .recipient(String(text.dropFirst(9).prefix { $0 != ">" })) }
                    else if upper == "DATA" { command = .data }
                    else if upper.hasPrefix("BDAT ") {
                        let words = upper.split(separator: " ")
                        chunkLeft = words.count > 1 ? Int(words[1]) ?? 0 : 0
                        command = .chunk(last: words.count > 2)
                    } else if upper == "RSET" { command = .reset }
                    else if upper == "QUIT" { command = .quit }
                    else { command = .other }
                }
                commands.append((command, offset + 1, transactions))
                guard pairing, next < replies.count, replies[next].arrivedAt >= offset + 1 else {
                    pairing = false
                    // Content after a DATA the wire cannot pair is still content only after 354.
                    continue
                }
                pairs.append((command, transactions, replies[next].reply))
                if command == .data, replies[next].reply.code.rawValue == 354 { inData = true }
                next += 1
            }
        }
    }

    private final class Scripted: @unchecked Sendable {
        var client: [UInt8] = []
        var serverStream: [UInt8] = []
        /// Where each server read began in the stream, and how much the client had written then.
        var stamps: [(serverOffset: Int, clientBytes: Int)] = []
        var outcomes: [Int: [MessageOutcome]] = [:]
    }

    /// Runs one input; returns each message's outcome (for the tests that check the seeds do
    /// what they say).
    @discardableResult
    static func run(_ data: UnsafeRawBufferPointer) -> [MessageOutcome] {
        var input = FuzzInput(data)
        let flags = input.byte()
        let configuration = SMTPConfiguration(heloName: "client.example", tls: .off, usePipelining: flags & 1 != 0,
                                              useChunking: flags & 2 != 0, timeouts: Timeouts(all: .seconds(10)))
        guard let connection = try? ClientConnection(configuration: configuration, tlsContext: nil, tlsHost: "mx.example",
                                                     chunkSize: 1024, idlePolicy: flags & 4 != 0 ? .quitWhenIdle : .stayConnected)
        else { invariantFailure("the configuration is valid") }
        let state = Scripted()
        var now = SMTPInstant(nanoseconds: 1_000_000_000)
        var messages: [OutgoingMessage] = []
        var output: [UInt8] = []

        func makeMessage() -> (OutgoingMessage, ClientConnection.Completion) {
            let count = Int(input.byte() % 4) + 1
            let content: any MessageContent
            let body = Array("Subject: m\r\n\r\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: Int(input.byte()) * 40) + [13, 10]
            if input.byte() % 5 == 0 {
                let failAt = Int(input.byte() % 3)
                content = StreamContent(size: nil) { FailingReader(body, failAfter: failAt) }
            } else {
                content = BytesContent(body)
            }
            let message = OutgoingMessage(envelope: Envelope(sender: "a@example.org",
                                                             recipients: addresses.prefix(count).map { Recipient($0) }),
                                          content: content)
            let index = messages.count
            messages.append(message)
            return (message, { state.outcomes[index, default: []].append($0) })
        }
        // Supplier mode: each "enqueue" adds one message to what the supplier will give.
        var waiting = 0
        let supplied = flags & 8 != 0
        if supplied {
            connection.supply(from: {
                guard waiting > 0 else { return nil }
                waiting -= 1
                return makeMessage()
            }, limit: flags & 16 != 0 ? 2 : nil, quitWhenDry: flags & 32 != 0, at: now)
        }
        func enqueue() {
            if supplied {
                waiting += 1
                return
            }
            let (message, completion) = makeMessage()
            connection.enqueue(message, completion: completion, at: now)
        }

        func flush() {
            guard connection.hasNetworkOutput else { return }
            connection.takeNetworkOutput(into: &output)
            state.client += output
            output.removeAll(keepingCapacity: true)
        }

        func serverSends(_ bytes: [UInt8]) {
            state.stamps.append((state.serverStream.count, state.client.count))
            state.serverStream += bytes
            bytes.withUnsafeBytes { connection.received($0, at: now) }
        }

        connection.start(at: now)
        enqueue()
        var steps = 0
        while !input.isAtEnd, steps < 400, !connection.isFinished {
            steps += 1
            flush()
            let op = input.byte()
            switch op % 16 {
            case 0..<9:
                serverSends(Array(replies[Int(input.byte()) % replies.count].utf8))
            case 9:
                // A reply split across two reads.
                let text = Array(replies[Int(input.byte()) % replies.count].utf8)
                let cut = min(text.count, Int(input.byte()) % (text.count + 1))
                serverSends(Array(text[..<cut]))
                flush()
                serverSends(Array(text[cut...]))
            case 10:
                serverSends(Array(input.bytes(Int(input.byte() % 16))))
            case 11:
                connection.outputDrained(at: now)
            case 12:
                now = now + .seconds(Int64(input.byte() % 12))
                connection.timePassed(at: now)
            case 13:
                enqueue()
            case 14:
                connection.transportFailed(op & 0x10 != 0 ? .reset : .io("write failed"), at: now)
            default:
                connection.connectionClosed(at: now)
            }
        }
        flush()
        if !connection.isFinished {
            connection.connectionClosed(at: now)
            flush()
        }
        invariant(connection.isFinished, "a closed transport ends the connection")

        judge(state: state, messages: messages)
        return messages.indices.compactMap { state.outcomes[$0]?.first }
    }

    private typealias Pair = (command: Wire.Command, transaction: Int, reply: SMTPReply)

    private static func judge(state: Scripted, messages: [OutgoingMessage]) {
        for index in messages.indices {
            invariant(state.outcomes[index]?.count == 1, "message \(index) got \(state.outcomes[index]?.count ?? 0) outcomes")
        }
        let replies = stampedReplies(state)
        let wire = Wire(client: state.client, replies: replies)
        let pairs = wire.pairs
        for (index, message) in messages.enumerated() {
            guard let outcome = state.outcomes[index]?.first else { continue }
            let delivered = outcome.recipients.filter(\.isDelivered).count
            invariant(outcome.recipients.map(\.address) == message.envelope.recipients.map(\.address), "recipients in envelope order")
            switch outcome.status {
            case .delivered: invariant(delivered == outcome.recipients.count, "delivered means all")
            case .partiallyDelivered: invariant(delivered > 0 && delivered < outcome.recipients.count, "partial means some")
            case .notDelivered: invariant(delivered == 0, "not delivered means none")
            case .unknown: invariant(outcome.recipients.contains { $0.status == .unknown }, "unknown means some unknown")
            }
            invariant((outcome.failure == nil) == (outcome.status == .delivered), "failure is nil exactly when delivered")
            for recipient in outcome.recipients {
                switch recipient.status {
                case .delivered:
                    invariant(backsDelivery(pairs, address: recipient.address, reply: recipient.reply),
                              "\(recipient.address) reported delivered without a 2xx RCPT and a 2xx end of data on the wire")
                case .refused:
                    guard let reply = recipient.reply else { invariantFailure("a refusal carries its reply") }
                    invariant(!reply.code.isPositiveCompletion, "\(recipient.address) refused by a positive reply")
                    // Sent by the server after this recipient's RCPT went out.
                    let rcpt = wire.commands.first { $0.command == .recipient(recipient.address) }?.writtenAt ?? Int.max
                    invariant(replies.contains { $0.arrivedAt >= rcpt && $0.reply.raw == reply.raw },
                              "\(recipient.address) refused by \(reply), which the server did not send after its RCPT")
                case .unknown, .notAttempted:
                    break
                }
            }
            if let dataReply = outcome.dataReply {
                invariant(replies.contains { $0.reply.raw == dataReply.raw }, "the data reply \(dataReply) was never sent")
            }
        }
    }

    /// A 2xx to RCPT TO:<address> in some transaction whose end of data (dot or BDAT LAST) got
    /// a 2xx, which is the reply the outcome carries.
    private static func backsDelivery(_ pairs: [Pair], address: String, reply: SMTPReply?) -> Bool {
        let accepted = Set(pairs.filter { $0.command == .recipient(address) && $0.reply.code.isPositiveCompletion }.map(\.transaction))
        return pairs.contains { pair in
            (pair.command == .dataEnd || pair.command == .chunk(last: true)) && accepted.contains(pair.transaction)
                && pair.reply.code.isPositiveCompletion && pair.reply.raw == reply?.raw
        }
    }

    /// The server's stream as replies, each stamped with the client bytes written before it
    /// began arriving. Parsing stops at the first malformed reply (the engine fails there too).
    private static func stampedReplies(_ state: Scripted) -> [(reply: SMTPReply, arrivedAt: Int)] {
        var parser = ReplyParser(limits: ReplyParser.Limits())
        parser.append(contentsOf: state.serverStream)
        var replies: [(reply: SMTPReply, arrivedAt: Int)] = []
        while true {
            let start = parser.consumedByteCount
            guard let reply = (try? parser.next()) ?? nil else { break }
            let arrivedAt = state.stamps.last { $0.serverOffset <= start }?.clientBytes ?? 0
            replies.append((reply.detached(), arrivedAt))
        }
        return replies
    }
}

/// Content whose reader fails after `failAfter` chunks.
private final class FailingReader: MessageReader {
    private let body: [UInt8]
    private let failAfter: Int
    private var reads = 0
    private var offset = 0

    init(_ body: [UInt8], failAfter: Int) {
        self.body = body
        self.failAfter = failAfter
    }

    var isAtEnd: Bool { offset == body.count }

    func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
        reads += 1
        if reads > failAfter { throw MessageSourceError("the source failed") }
        let count = min(destination.count, body.count - offset)
        guard count > 0 else { return 0 }
        body.withUnsafeBytes { destination.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}
