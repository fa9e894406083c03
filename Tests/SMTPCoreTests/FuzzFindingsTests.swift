import SMTPCore
import Testing

/// One transcript test per fix the fuzz campaigns led to (see Fuzz/README.md). Each runs whole,
/// byte by byte and at random splits, so split-dependent behaviour fails here too. The raw
/// fuzzer inputs are kept in Fuzz/regressions/ and replayed by FuzzRegressionTests.
@Suite("Fuzz findings")
struct FuzzFindingsTests {
    /// Small reply limits, so a limit is the first thing a line can break.
    static func smallLimits(line: Int = 2048, size: Int = 32 * 1024) -> SMTPConfiguration {
        var limits = Limits()
        limits.reply = ReplyParser.Limits(maxLineLength: line, maxLinesPerReply: 128, maxReplySize: size)
        return .test(limits: limits)
    }

    /// reply-parser: a line that is already too long when its bare LF arrives was reported as
    /// `bareLineFeed` when the LF came in the same read and as `lineTooLong` when it came later.
    /// The limits are now judged on the bytes before the terminator, complete line or not.
    @Test func lineLimitWinsOverALateBareLineFeedHoweverTheReadsSplit() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250 this text is too long\\n
            """, configuration: Self.smallLimits(line: 20))
        #expect(result.failure == .protocolViolation(.lineTooLong(limit: 20)))
        #expect(result.closed)
    }

    /// reply-parser: a partial reply whose last byte was a CR was kept whole, beyond
    /// `maxReplySize`, when it arrived in one read (and refused when it arrived in pieces).
    @Test func partialReplyEndingInCRNeverOutgrowsTheSizeLimit() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250-mx\\r\\n250 abcdefghijklmnop\\r
            """, configuration: Self.smallLimits(size: 16))
        #expect(result.failure == .protocolViolation(.replyTooLarge(limit: 16)))
        #expect(result.closed)
    }

    /// reply-parser: when both limits are crossed, the one crossed by fewer bytes is reported,
    /// not whichever the read boundaries happened to expose first.
    @Test func theLimitCrossedFirstIsTheOneReported() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            R: 250-mx.example\\r\\n250-PIPELINING\\r\\n250 STARTTLS and more text
            """, configuration: Self.smallLimits(line: 24, size: 40))
        #expect(result.failure == .protocolViolation(.replyTooLarge(limit: 40)))
    }

    /// engine: after a failure that sends QUIT (here a refused greeting), `cancel` did nothing
    /// because the session had already failed, so the caller could not abandon the wait for the
    /// QUIT reply. It now closes at once and keeps the first error.
    @Test func cancelAbandonsAFailedSessionWaitingForItsQuitReply() throws {
        let before = try transcript("""
            S: 503 5.5.1 bad sequence of commands
            C: QUIT
            """)
        #expect(!before.closed, "the engine waits for the reply to QUIT")
        for strategy in SplitStrategy.allCases {
            var harness = try Harness(configuration: .test(), messages: [], quitWhenDone: true, strategy: strategy)
            harness.machine.connectionEstablished(at: harness.now)
            harness.drain()
            harness.feed(Array("503 5.5.1 bad sequence of commands\r\n".utf8))
            harness.machine.cancel(at: harness.now)
            harness.drain()
            #expect(harness.closed, "[\(strategy)] cancel must close")
            #expect(harness.machine.nextDeadline == nil)
            guard case .greetingRefused? = harness.machine.failure else {
                Issue.record("[\(strategy)] the first error stays: got \(String(describing: harness.machine.failure))"); continue
            }
            #expect(harness.result.clientText == "QUIT\r\n", "nothing more is written")
        }
    }

    static let ehloPipelining = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250 PIPELINING

        """

    /// engine: RSET and QUIT were pipelined after a failed transaction; a refused RSET then
    /// made the engine send a second QUIT. QUIT now goes out only when no other reply is owed.
    @Test func refusedRSETWithQUITInFlightSendsNoSecondQUIT() throws {
        let result = try transcript(Self.ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 550 no such user
            S: 554 no valid recipients
            C: RSET
            C: QUIT
            S: 500 RSET refused
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        guard case .resetRefused? = result.failure else {
            Issue.record("expected resetRefused, got \(String(describing: result.failure))"); return
        }
        #expect(result.closed)
        #expect(result.clientText.split(separator: "QUIT\r\n", omittingEmptySubsequences: false).count == 2, "QUIT exactly once")
    }

    /// engine: the same refusal with the next message's MAIL, RCPT and DATA pipelined behind
    /// the RSET: QUIT would have followed the unanswered DATA (and could have become message
    /// content after a 354). Now the engine closes without it.
    @Test func refusedRSETWithATransactionInFlightClosesWithoutQUIT() throws {
        let result = try transcript(Self.ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 550 no such user
            S: 554 no valid recipients
            C: RSET
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<c@example.net>
            C: DATA
            S: 500 RSET refused
            """, messages: [TestMessage(from: "a@example.org", to: ["b@example.net"]),
                            TestMessage(from: "a@example.org", to: ["c@example.net"])])
        guard case .resetRefused? = result.failure else {
            Issue.record("expected resetRefused, got \(String(describing: result.failure))"); return
        }
        #expect(result.closed)
        #expect(!result.clientText.contains("QUIT"))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 550",
            "finished #1 notDelivered 0/1 [all recipients were refused]",
            "finished #2 notDelivered 0/1 [server refused RSET: 500 RSET refused]",
            "failed: server refused RSET: 500 RSET refused",
        ])
    }

    /// engine: a server that answers ahead (all replies in one read) had its replies matched to
    /// commands not yet handed to the driver; when a later reply in the same read failed the
    /// session, the unwritten RCPT, DATA, content and final dot were dropped, yet message #1 had
    /// been reported delivered. Output now always goes out before the next reply is read, and a
    /// reply that began arriving before the command it would answer was written is unsolicited,
    /// so nothing is reported delivered here at all.
    @Test func aDeliveryIsReportedOnlyForDataThatReachedTheWire() throws {
        let messages = [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "one\r\n"),
                        TestMessage(from: "a@example.org", to: ["c@example.net"], body: "two\r\n")]
        let result = try run(Script("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            R: 250 ok\\r\\n250 ok\\r\\n354 go\\r\\n250 queued\\r\\n421 4.3.2 closing\\r\\n
            C: RCPT TO:<b@example.net>
            """), configuration: .test(usePipelining: false), messages: messages, strategy: .whole)
        #expect(!result.events.contains { $0.hasPrefix("accepted") })
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "finished #1 notDelivered 0/1 [protocol violation: unsolicited reply 250 when no command was pending]",
            "failed: protocol violation: unsolicited reply 250 when no command was pending",
        ])
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 250)!)))
        #expect(!result.clientText.contains("DATA"))
    }

    /// engine: with replies sent ahead of their command treated as unsolicited, a 221 that
    /// arrived before QUIT was written reached the quitting branch, which closed without
    /// `sessionClosed` or `sessionFailed` (and would have left a transaction unfinished). It is
    /// now a violation like any other. Read boundaries decide whether the 221 came ahead, so
    /// this runs on the whole input only.
    @Test func aReplySentAheadOfQUITEndsTheSessionWithAnEvent() throws {
        let result = try run(Script(Self.ehloPipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 500 no
            S: 250 ok
            S: 354 go
            C: .
            R: 250 queued\\r\\n221 bye\\r\\n
            C: RSET
            C: QUIT
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"], body: "x")],
            strategy: .whole)
        #expect(result.closed)
        #expect(result.failure == .protocolViolation(.unsolicitedReply(ReplyCode(rawValue: 221)!)))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 [sender refused: 500 no]",
            "failed: protocol violation: unsolicited reply 221 when no command was pending",
        ])
        #expect(result.events.last?.hasPrefix("failed: ") == true, "the session ends with an event")
    }
}
