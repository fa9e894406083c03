import SMTPCore

/// A small in-memory SMTP server for the engine's own flow tests: it reads the client's bytes
/// strictly (CRLF lines, dot-unstuffing, exact BDAT counts), answers like a real server, keeps
/// every delivered message, and records every rule the client broke.
final class FakeServer {
    struct Options {
        var pipelining = true
        var chunking = false
        var eightBitMIME = true
        var size: Int?
        var maxRecipients = 100
        var refusedRecipients: Set<String> = []
        /// Refuse the message at the end of data when the body contains this text.
        var refuseBodyContaining: String?
    }

    struct Message: Equatable {
        var sender: String
        var recipients: [String]
        var body: [UInt8]
    }

    enum Mode {
        case command
        case data
        case bdat(remaining: Int, last: Bool)
    }

    var options: Options
    private(set) var messages: [Message] = []
    private(set) var violations: [String] = []
    private(set) var commands: [String] = []
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    private var inboxIsEmpty: Bool { inboxStart == inbox.count }
    private var mode = Mode.command
    private var sender: String?
    private var recipients: [String] = []
    private var body: [UInt8] = []
    private var bdatFailed = false

    init(options: Options = Options()) {
        self.options = options
    }

    var greeting: [UInt8] { Array("220 fake.example ESMTP\r\n".utf8) }

    /// Feeds one write of the client; returns the server's replies to it.
    func receive(_ bytes: [UInt8]) -> [UInt8] {
        inbox.removeFirst(inboxStart)
        inboxStart = 0
        inbox.append(contentsOf: bytes)
        var replies: [UInt8] = []
        while true {
            switch mode {
            case .command:
                guard let line = takeLine() else { return replies }
                if !options.pipelining, !inboxIsEmpty, !line.uppercased().hasPrefix("BDAT ") {
                    violations.append("pipelined without PIPELINING after \(line)")
                }
                replies.append(contentsOf: Array(command(line).utf8))
            case .data:
                guard let line = takeLine() else { return replies }
                if line == "." {
                    mode = .command
                    replies.append(contentsOf: Array(endOfData().utf8))
                } else {
                    var bytes = Array(line.utf8)
                    if bytes.first == UInt8(ascii: ".") { bytes.removeFirst() }
                    body.append(contentsOf: bytes)
                    body.append(contentsOf: [13, 10])
                }
            case .bdat(let remaining, let last):
                let take = min(remaining, inbox.count - inboxStart)
                body.append(contentsOf: inbox[inboxStart..<(inboxStart + take)])
                inboxStart += take
                if take < remaining {
                    mode = .bdat(remaining: remaining - take, last: last)
                    return replies
                }
                mode = .command
                if !options.pipelining, !inboxIsEmpty {
                    violations.append("pipelined without PIPELINING after a BDAT chunk")
                }
                if bdatFailed {
                    replies.append(contentsOf: Array("503 5.5.1 earlier chunk failed\r\n".utf8))
                } else if last {
                    replies.append(contentsOf: Array(endOfData().utf8))
                } else {
                    replies.append(contentsOf: Array("250 2.0.0 chunk ok\r\n".utf8))
                }
            }
        }
    }

    /// One CRLF line from the inbox, checking that no bare CR or LF appears in it.
    private func takeLine() -> String? {
        guard let lf = inbox[inboxStart...].firstIndex(of: 10) else {
            if inbox.count - inboxStart > 1100 { violations.append("line longer than 1000 octets") }
            return nil
        }
        var line = Array(inbox[inboxStart..<lf])
        inboxStart = lf + 1
        if line.last == 13 { line.removeLast() } else { violations.append("bare LF") }
        if line.contains(13) { violations.append("bare CR") }
        if line.contains(0) { violations.append("NUL") }
        if line.count > 998 + (line.first == 46 ? 1 : 0) { violations.append("line longer than 1000 octets on the wire") }
        return String(decoding: line, as: UTF8.self)
    }

    private func command(_ line: String) -> String {
        commands.append(line)
        let upper = line.uppercased()
        if upper.hasPrefix("EHLO ") {
            var keywords = ["fake.example"]
            if options.pipelining { keywords.append("PIPELINING") }
            if options.chunking { keywords.append("CHUNKING") }
            if options.eightBitMIME { keywords.append("8BITMIME") }
            if let size = options.size { keywords.append("SIZE \(size)") }
            keywords.append("ENHANCEDSTATUSCODES")
            return keywords.enumerated().map { index, keyword in
                "250\(index == keywords.count - 1 ? " " : "-")\(keyword)\r\n"
            }.joined()
        }
        if upper.hasPrefix("MAIL FROM:<") {
            guard sender == nil else { return "503 5.5.1 nested MAIL\r\n" }
            let address = line.dropFirst(11).prefix { $0 != ">" }
            sender = String(address)
            recipients = []
            body = []
            bdatFailed = false
            return "250 2.1.0 ok\r\n"
        }
        if upper.hasPrefix("RCPT TO:<") {
            guard sender != nil else { return "503 5.5.1 need MAIL\r\n" }
            let address = String(line.dropFirst(9).prefix { $0 != ">" })
            if options.refusedRecipients.contains(address) { return "550 5.1.1 <\(address)>: unknown\r\n" }
            if recipients.count >= options.maxRecipients { return "452 4.5.3 too many recipients\r\n" }
            recipients.append(address)
            return "250 2.1.5 ok\r\n"
        }
        if upper == "DATA" {
            guard sender != nil else { return "503 5.5.1 need MAIL\r\n" }
            guard !recipients.isEmpty else { return "554 5.5.1 no valid recipients\r\n" }
            mode = .data
            return "354 go ahead\r\n"
        }
        if upper.hasPrefix("BDAT ") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let size = Int(parts[1]) else { return "501 bad BDAT\r\n" }
            let last = parts.count == 3 && parts[2].uppercased() == "LAST"
            if sender == nil || recipients.isEmpty { bdatFailed = true }
            mode = .bdat(remaining: size, last: last)
            return ""
        }
        if upper == "RSET" {
            sender = nil
            recipients = []
            body = []
            return "250 2.0.0 ok\r\n"
        }
        if upper == "QUIT" { return "221 2.0.0 bye\r\n" }
        if upper == "NOOP" { return "250 ok\r\n" }
        return "500 5.5.2 unknown command\r\n"
    }

    private func endOfData() -> String {
        defer {
            sender = nil
            recipients = []
            body = []
        }
        guard let sender, !recipients.isEmpty else { return "554 5.5.1 no valid recipients\r\n" }
        if let refused = options.refuseBodyContaining, String(decoding: body, as: UTF8.self).contains(refused) {
            return "554 5.7.1 content refused\r\n"
        }
        messages.append(Message(sender: sender, recipients: recipients, body: body))
        return "250 2.0.0 queued as \(messages.count)\r\n"
    }

    /// The concatenated payloads of every BDAT chunk in a client byte stream.
    static func bdatPayload(_ client: [UInt8]) -> [UInt8] {
        var payload: [UInt8] = []
        var index = 0
        while index < client.count {
            guard let lf = client[index...].firstIndex(of: 10) else { break }
            let line = String(decoding: client[index..<lf], as: UTF8.self).trimmingCharacters(in: "\r")
            index = lf + 1
            if line.hasPrefix("BDAT "), let size = Int(line.split(separator: " ")[1]) {
                payload.append(contentsOf: client[index..<min(client.count, index + size)])
                index += size
            }
        }
        return payload
    }
}

extension String {
    func trimmingCharacters(in character: Character) -> String {
        var text = self
        while text.last == character { text.removeLast() }
        return text
    }
}

/// Connects an engine to a fake server and runs a session to its end.
struct Loopback {
    var machine: SMTPMachine
    let server: FakeServer
    var pending: [TestMessage]
    var events: [SMTPEvent] = []
    var clientWrites = 0
    private var bodies: [TransactionID: (chunks: [[UInt8]], cursor: Int)] = [:]

    init(configuration: SMTPConfiguration, server: FakeServer, messages: [TestMessage]) throws {
        machine = try SMTPMachine(configuration: configuration)
        self.server = server
        pending = messages
    }

    mutating func run() throws {
        var now = SMTPInstant(nanoseconds: 1)
        machine.connectionEstablished(at: now)
        machine.received(server.greeting, at: now)
        var buffer: [UInt8] = []
        var steps = 0
        while !machine.isClosed {
            steps += 1
            precondition(steps < 1_000_000, "session does not end")
            now = now + .milliseconds(1)
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &buffer)
                clientWrites += 1
                let replies = server.receive(buffer)
                buffer.removeAll(keepingCapacity: true)
                if !replies.isEmpty { machine.received(replies, at: now) }
            case .startTLS:
                machine.tlsEstablished(at: now)
            case .readyForTransaction:
                if pending.isEmpty {
                    machine.quit(at: now)
                } else {
                    let message = pending.removeFirst()
                    let id = try machine.startTransaction(message.envelope, at: now)
                    bodies[id] = (message.chunks, 0)
                }
            case .sendBody(let id, let fromStart):
                var state = bodies[id]!
                if fromStart { state.cursor = 0 }
                if state.cursor < state.chunks.count {
                    let chunk = state.chunks[state.cursor]
                    state.cursor += 1
                    bodies[id] = state
                    try machine.sendBody(chunk, for: id, at: now)
                } else {
                    bodies[id] = state
                    try machine.finishBody(for: id, at: now)
                }
            case .event(let event):
                events.append(event)
            case .close:
                break
            case .wait:
                // A fake server always answers at once; waiting means a lost reply.
                Issue.recordFailure("engine waits with nothing pending")
                return
            }
        }
    }

    var outcomes: [TransactionID: MessageOutcome] {
        var result: [TransactionID: MessageOutcome] = [:]
        for event in events {
            if case .transactionFinished(let id, let outcome) = event { result[id] = outcome }
        }
        return result
    }
}

import Testing

extension Issue {
    static func recordFailure(_ message: String) { Issue.record(Comment(rawValue: message)) }
}
