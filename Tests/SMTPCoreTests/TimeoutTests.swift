import SMTPCore
import Testing

@Suite("Timeouts (virtual clock)")
struct TimeoutTests {
    @Test func greetingWaitsFiveMinutesThenFailsWithoutQuit() throws {
        let result = try transcript("""
            WAIT 299
            WAIT 2
            """)
        #expect(result.failure == .timeout(.greeting))
        #expect(result.closed)
        #expect(result.clientBytes.isEmpty)
    }

    @Test func deadlineBeforeItIsDueIsANoOp() throws {
        var machine = try SMTPMachine(configuration: .test())
        let start = SMTPInstant(nanoseconds: 5_000_000_000)
        machine.connectionEstablished(at: start)
        #expect(machine.nextDeadline == start + .seconds(300))
        #expect(machine.nextDeadlinePhase == .greeting)
        machine.deadlineReached(at: start + .seconds(299))
        #expect(machine.failure == nil)
        machine.deadlineReached(at: start + .seconds(300))
        #expect(machine.failure == .timeout(.greeting))
    }

    /// Walks a session up to the point where `phase` is awaited and returns the deadline offset.
    private func deadlineOffset(for script: String, messages: [TestMessage] = [], timeouts: Timeouts = Timeouts(),
                                tls: TLSPolicy = .off) throws -> (Duration, SMTPPhase)? {
        var harness = try Harness(configuration: .test(tls: tls, timeouts: timeouts), messages: messages, quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.drain()
        harness.now = harness.now + .seconds(7)
        harness.feedLines(String(decoding: Script.unescape(script), as: UTF8.self))
        guard let deadline = harness.machine.nextDeadline, let phase = harness.machine.nextDeadlinePhase else { return nil }
        return (deadline - harness.now, phase)
    }

    @Test func perPhaseDefaultsFromRFC5321() throws {
        let message = TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")
        #expect(try deadlineOffset(for: "220 mx\\r\\n") ?? (.zero, .idle) == (.seconds(300), .hello))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n", messages: [message]) ?? (.zero, .idle) == (.seconds(300), .mail))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n250 ok\\r\\n", messages: [message]) ?? (.zero, .idle) == (.seconds(300), .recipient))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n250 ok\\r\\n250 ok\\r\\n", messages: [message]) ?? (.zero, .idle) == (.seconds(120), .dataInitiation))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n250 ok\\r\\n250 ok\\r\\n354 go\\r\\n", messages: [message]) ?? (.zero, .idle) == (.seconds(600), .dataTermination))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250-mx\\r\\n250 STARTTLS\\r\\n", tls: .required) ?? (.zero, .idle) == (.seconds(300), .startTLS))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250-mx\\r\\n250 STARTTLS\\r\\n220 go\\r\\n", tls: .required) ?? (.zero, .idle) == (.seconds(120), .tlsHandshake))
        // Idle between transactions: nothing is timed.
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n") == nil)
    }

    @Test func oneLimitForEveryWait() throws {
        let message = TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")
        let all = Timeouts(all: .seconds(10))
        #expect(try deadlineOffset(for: "220 mx\\r\\n", timeouts: all) ?? (.zero, .idle) == (.seconds(10), .hello))
        #expect(try deadlineOffset(for: "220 mx\\r\\n250 mx\\r\\n250 ok\\r\\n250 ok\\r\\n354 go\\r\\n", messages: [message], timeouts: all) ?? (.zero, .idle) == (.seconds(10), .dataTermination))
    }

    @Test func silenceAfterTheDotLeavesDeliveryUnknown() throws {
        let result = try transcript("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: x
            C: .
            WAIT 599
            WAIT 1
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")])
        #expect(result.failure == .timeout(.dataTermination))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 unknown 0/1 [timed out waiting for end of data]", "failed: timed out waiting for end of data",
        ])
        #expect(result.closed)
        #expect(!result.clientText.contains("QUIT"), "an unresponsive server gets no QUIT to wait for")
    }

    @Test func lostConnectionAfterTheDotLeavesDeliveryUnknown() throws {
        let result = try transcript("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: x
            C: .
            R: 250 que
            EOF
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")])
        #expect(result.failure == .connectionClosed(.dataTermination))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 unknown 0/1 [connection closed by server during end of data]",
            "failed: connection closed by server during end of data",
        ])
    }

    @Test func lostConnectionBeforeDataIsNotDelivered() throws {
        let result = try transcript("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            EOF
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")])
        #expect(result.failure == .connectionClosed(.recipient))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "finished #1 notDelivered 0/1 [connection closed by server during RCPT]",
            "failed: connection closed by server during RCPT",
        ])
    }

    @Test func quitTimeoutClosesQuietly() throws {
        let result = try transcript("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: QUIT
            WAIT 30
            """)
        #expect(result.failure == nil)
        #expect(result.closed)
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "closed"])
    }

    @Test func dataBlockTimeoutWhileTheCallerHoldsTheBody() throws {
        var machine = try SMTPMachine(configuration: .test())
        var now = SMTPInstant(nanoseconds: 1)
        machine.connectionEstablished(at: now)
        var sink: [UInt8] = []
        var id: TransactionID?
        func drain() -> Bool {
            var wantsBody = false
            while true {
                let action = machine.nextAction()
                switch action {
                case .wait: return wantsBody
                case .write: machine.takeOutput(into: &sink)
                case .readyForTransaction where id == nil:
                    id = try? machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["b@example.net"]), at: now)
                case .sendBody: wantsBody = true
                default: break
                }
            }
        }
        for reply in ["220 mx\r\n", "250 mx\r\n", "250 ok\r\n", "250 ok\r\n"] {
            machine.received(Array(reply.utf8), at: now)
            _ = drain()
        }
        machine.received(Array("354 go\r\n".utf8), at: now)
        #expect(drain())
        try machine.sendBody(Array("some".utf8), for: id!, at: now)
        #expect(drain())
        #expect(machine.nextDeadlinePhase == .dataBlock)
        #expect(machine.nextDeadline == now + .seconds(180))
        now = now + .seconds(100)
        try machine.sendBody(Array(" more".utf8), for: id!, at: now)
        #expect(drain())
        #expect(machine.nextDeadline == now + .seconds(180), "each block restarts the clock")
        now = now + .seconds(180)
        machine.deadlineReached(at: now)
        _ = drain()
        #expect(machine.failure == .timeout(.dataBlock))
        #expect(machine.isClosed)
    }

    @Test func pipelinedRepliesRestartTheClockPerReply() throws {
        var harness = try Harness(configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net", "c@example.net"], body: "x")],
                                  quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feedLines("220 mx\r\n250-mx\r\n250 PIPELINING\r\n")
        #expect(harness.machine.nextDeadlinePhase == .mail)
        harness.now = harness.now + .seconds(200)
        harness.feed(Array("250 ok\r\n".utf8))
        #expect(harness.machine.nextDeadlinePhase == .recipient)
        #expect(harness.machine.nextDeadline == harness.now + .seconds(300))
        harness.feed(Array("250 ok\r\n250 ok\r\n".utf8))
        #expect(harness.machine.nextDeadlinePhase == .dataInitiation)
        #expect(harness.machine.nextDeadline == harness.now + .seconds(120))
    }

    /// Issue 11 point 6: a deadline that restarts with every byte is no deadline. Between
    /// transactions the server starts an unsolicited reply, then sends one byte every 100 s
    /// (below the 300 s command timeout). The session fails exactly 300 s after the first byte,
    /// and no transaction can start meanwhile.
    @Test func drippedUnsolicitedReplyTimesOutFromItsFirstByte() throws {
        var harness = try Harness(configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")],
                                  quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.drain()
        harness.feedLines("220 mx\r\n")
        harness.feedLines("250 mx\r\n")
        harness.feedLines("250 ok\r\n")
        harness.feedLines("250 ok\r\n")
        harness.feedLines("354 go\r\n")
        harness.feedLines("250 queued\r\n")
        #expect(harness.machine.canStartTransaction)
        #expect(harness.machine.nextDeadline == nil, "idle between transactions: nothing is timed")
        harness.now = harness.now + .seconds(10)
        let firstByte = harness.now
        harness.feed(Array("2".utf8))
        for (seconds, byte) in [(100, "5"), (200, "0"), (299, " ")] {
            #expect(harness.machine.nextDeadline == firstByte + .seconds(300))
            #expect(harness.machine.nextDeadlinePhase == .unsolicitedReply)
            #expect(!harness.machine.canStartTransaction)
            harness.now = firstByte + .seconds(seconds)
            harness.machine.deadlineReached(at: harness.now)
            harness.feed(Array(byte.utf8))
        }
        #expect(harness.machine.nextDeadline == firstByte + .seconds(300))
        #expect(throws: SMTPError.misuse("startTransaction when no transaction can start")) {
            _ = try harness.machine.startTransaction(Envelope(sender: "a@example.org", recipients: ["c@example.net"]), at: harness.now)
        }
        harness.machine.deadlineReached(at: SMTPInstant(nanoseconds: (firstByte + .seconds(300)).nanoseconds - 1))
        #expect(harness.machine.failure == nil)
        harness.now = firstByte + .seconds(300)
        harness.machine.deadlineReached(at: harness.now)
        harness.drain()
        let result = harness.result
        #expect(result.failure == .timeout(.unsolicitedReply))
        #expect(result.closed)
        #expect(result.clientText == "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nx\r\n.\r\n")
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
                                  "failed: timed out waiting for the end of an unsolicited reply"])
    }
}
