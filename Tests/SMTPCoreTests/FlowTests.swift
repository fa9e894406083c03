import SMTPCore
import Testing

/// Whole sessions against the in-memory fake server: many transactions, every combination of
/// pipelining and chunking, and content that checks the encoder end to end.
@Suite("Sessions against a fake server")
struct FlowTests {
    static let awkwardBodies: [String] = [
        "",
        ".",
        "..",
        ".\r\n",
        "\r\n.\r\n",
        "line\n.\nmore",
        "a\r.\rb",
        "a\r\n.\r\nb",
        "\n.\r\n",
        "x\r\n\r\n.\r\n.\r\n",
        "trailing cr\r",
        "no final newline",
        "...leading dots\r\n....\r\n",
        "mixed\r\n\n\r\r\n.end",
    ]

    /// What a strict server must reconstruct from any content: lone CR and LF become CRLF, and
    /// the content ends with CRLF.
    static func normalized(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 {
                out += [13, 10]
                if index + 1 < bytes.count, bytes[index + 1] == 10 { index += 1 }
            } else if byte == 10 {
                out += [13, 10]
            } else {
                out.append(byte)
            }
            index += 1
        }
        if !out.isEmpty, out.suffix(2) != [13, 10] { out += [13, 10] }
        return out
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func manyMessagesArriveExactly(pipelining: Bool, chunking: Bool) throws {
        let server = FakeServer(options: .init(pipelining: pipelining, chunking: chunking))
        var generator = SplitStrategy.Generator(state: 7)
        var messages: [TestMessage] = []
        for (number, body) in Self.awkwardBodies.enumerated() {
            // Cut each body at random points so stuffing and CRLF state cross chunk boundaries.
            let chunks = SplitStrategy.random(seed: 0).pieces(Array(body.utf8), generator: &generator)
            messages.append(TestMessage(Envelope(sender: "s\(number)@example.org", recipients: [Recipient("r\(number)@example.net")]), chunks: chunks))
        }
        var loop = try Loopback(configuration: .test(), server: server, messages: messages)
        try loop.run()
        #expect(server.violations.isEmpty, "\(server.violations)")
        #expect(server.messages.count == Self.awkwardBodies.count)
        for (number, body) in Self.awkwardBodies.enumerated() where number < server.messages.count {
            #expect(server.messages[number].body == Self.normalized(body), "body \(number): \(body.debugDescription)")
            #expect(server.messages[number].sender == "s\(number)@example.org")
        }
        #expect(loop.outcomes.count == Self.awkwardBodies.count)
        #expect(loop.outcomes.values.allSatisfy { $0.status == .delivered })
        #expect(server.commands.last == "QUIT")
        if pipelining && !chunking {
            // One write per message (plus greeting/EHLO/QUIT): MAIL, RCPT and DATA travel with
            // the previous message's dot.
            #expect(loop.clientWrites <= 2 * Self.awkwardBodies.count + 3)
        }
    }

    @Test func mixedOutcomesOverOneSession() throws {
        let server = FakeServer(options: .init(refusedRecipients: ["bad@example.net"], refuseBodyContaining: "SPAM"))
        let messages = [
            TestMessage(from: "a@example.org", to: ["ok@example.net"], body: "fine\r\n"),
            TestMessage(from: "a@example.org", to: ["bad@example.net"], body: "nobody\r\n"),
            TestMessage(from: "a@example.org", to: ["ok@example.net", "bad@example.net"], body: "half\r\n"),
            TestMessage(from: "a@example.org", to: ["ok@example.net"], body: "SPAM\r\n"),
            TestMessage(from: "", to: ["ok@example.net"], body: "bounce\r\n"),
        ]
        var loop = try Loopback(configuration: .test(), server: server, messages: messages)
        try loop.run()
        let outcomes = loop.outcomes.sorted { $0.key < $1.key }.map(\.value)
        #expect(outcomes.map(\.status) == [.delivered, .notDelivered, .partiallyDelivered, .notDelivered, .delivered])
        #expect(server.messages.map { String(decoding: $0.body, as: UTF8.self) } == ["fine\r\n", "half\r\n", "bounce\r\n"])
        #expect(server.messages[2].sender == "")
        #expect(server.violations.isEmpty, "\(server.violations)")
        // Only the transaction whose RCPTs all failed needed RSET; the refused dot ends its own.
        #expect(server.commands.filter { $0 == "RSET" }.count == 1)
    }

    @Test(arguments: [true, false])
    func hundredsOfRecipientsOverALimitedServer(pipelining: Bool) throws {
        let server = FakeServer(options: .init(pipelining: pipelining, maxRecipients: 100))
        let recipients = (0..<250).map { "r\($0)@example.net" }
        var loop = try Loopback(configuration: .test(), server: server,
                                messages: [TestMessage(from: "a@example.org", to: recipients, body: "to many\r\n")])
        try loop.run()
        #expect(server.messages.count == 3)
        #expect(server.messages.flatMap(\.recipients) == recipients)
        #expect(server.messages.allSatisfy { $0.body == Array("to many\r\n".utf8) })
        #expect(loop.outcomes.first?.value.status == .delivered)
        #expect(loop.outcomes.first?.value.deliveredCount == 250)
        #expect(server.violations.isEmpty, "\(server.violations)")
    }

    @Test func bigBodyStreamsInBoundedOutput() throws {
        // 1 MiB of content in 64 KiB chunks: the engine never holds more than the high-water
        // mark plus one encoded chunk.
        var machine = try SMTPMachine(configuration: .test())
        let server = FakeServer()
        machine.connectionEstablished(at: .zero)
        machine.received(server.greeting, at: .zero)
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: 900) + [13, 10, UInt8(ascii: ".")]
        let chunkData = line + [UInt8](repeating: 10, count: 64 * 1024 - line.count)
        var sent = 0
        var maxPending = 0
        var buffer: [UInt8] = []
        var done = false
        while !machine.isClosed {
            maxPending = max(maxPending, machine.pendingOutputCount)
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &buffer)
                let replies = server.receive(buffer)
                buffer.removeAll(keepingCapacity: true)
                machine.received(replies, at: .zero)
            case .readyForTransaction:
                if done { machine.quit(at: .zero) } else {
                    _ = try machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), at: .zero)
                    done = true
                }
            case .sendBody(let id, _):
                if sent < 16 {
                    sent += 1
                    try machine.sendBody(chunkData, for: id, at: .zero)
                } else {
                    try machine.finishBody(for: id, at: .zero)
                }
            case .wait:
                Issue.record("stalled")
                return
            default:
                break
            }
        }
        #expect(server.messages.count == 1)
        #expect(server.messages.first?.body.count ?? 0 > 1024 * 1024)
        #expect(maxPending <= machine.configuration.limits.outputHighWater + 2 * chunkData.count + 64)
        #expect(server.violations.isEmpty, "\(server.violations)")
    }
}
