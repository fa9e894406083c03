import SMTPCore
import Testing

/// The README's driver loop, with a scripted "socket", so the example stays true.
@Suite("README example")
struct ReadmeExampleTests {
    struct ScriptedSocket {
        var replies: [[UInt8]]
        var written: [UInt8] = []
        mutating func writeAll(_ bytes: [UInt8]) { written += bytes }
        mutating func read(until deadline: SMTPInstant?) -> [UInt8]? {
            replies.isEmpty ? [] : replies.removeFirst()
        }
        func close() {}
    }

    struct Clock { var now = SMTPInstant.zero }

    @Test func theLoopSendsAMessage() throws {
        var socket = ScriptedSocket(replies: ["220 mx.example ESMTP\r\n", "250-mx.example\r\n250 PIPELINING\r\n",
                                              "250 ok\r\n250 ok\r\n354 go\r\n", "250 queued\r\n221 bye\r\n"].map { Array($0.utf8) })
        let clock = Clock()
        let messageBytes = Array("Subject: hi\r\n\r\nHello\r\n".utf8)
        var events: [SMTPEvent] = []

        var machine = try SMTPMachine(configuration: SMTPConfiguration(heloName: "client.example", tls: .opportunistic))
        var outgoing: [UInt8] = []
        var sent = false

        machine.connectionEstablished(at: clock.now)
        while !machine.isClosed {
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &outgoing)
                socket.writeAll(outgoing)
                outgoing.removeAll(keepingCapacity: true)
            case .startTLS:
                machine.tlsEstablished(at: clock.now)
            case .readyForTransaction:
                if sent { machine.quit(at: clock.now) } else {
                    _ = try machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), at: clock.now)
                    sent = true
                }
            case .sendBody(let id, _):
                try machine.sendBody(messageBytes, for: id, last: true, at: clock.now)
            case .event(let event):
                events.append(event)
            case .close:
                socket.close()
            case .wait:
                if let bytes = socket.read(until: machine.nextDeadline) {
                    if bytes.isEmpty { machine.connectionClosed(at: clock.now) } else { machine.received(bytes, at: clock.now) }
                } else {
                    machine.deadlineReached(at: clock.now)
                }
            }
        }
        #expect(String(decoding: socket.written, as: UTF8.self) == """
            EHLO client.example\r
            MAIL FROM:<a@example.org>\r
            RCPT TO:<b@example.net>\r
            DATA\r
            Subject: hi\r
            \r
            Hello\r
            .\r
            QUIT\r\n
            """)
        #expect(events.contains { if case .transactionFinished(_, let outcome) = $0 { outcome.status == .delivered } else { false } })
        #expect(machine.failure == nil)
    }
}
