import SMTPCore
import Testing

/// One message withdrawn by its caller (`cancelTransaction`): its outcome comes at once and says
/// how far it got; the wire gets what that point needs (nothing, RSET after its replies, or the
/// connection dropped), and the session goes on wherever it can.
@Suite("Cancelling one message")
struct CancelTransactionTests {
    static let pipelining = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250 PIPELINING

        """
    static let lockStep = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250 mx

        """
    static let chunking = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250-PIPELINING
        S: 250 CHUNKING

        """
    static let lockStepChunking = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250 CHUNKING

        """

    static func message(_ recipients: [String] = ["b@example.net"], chunks: [String] = ["body\r\n"]) -> TestMessage {
        TestMessage(Envelope(sender: "a@example.org", recipients: recipients.map { Recipient($0) }),
                    chunks: chunks.map { Array($0.utf8) })
    }

    /// Nothing of it reached the server: every recipient not attempted, safe to send again.
    static func withdrawn(_ message: TestMessage, _ reason: CancelReason = .cancelled) -> MessageOutcome {
        .notAttempted(message.envelope, because: .cancelled(reason))
    }

    /// "status reply-code" per recipient, "-" without a reply.
    static func recipients(_ outcome: MessageOutcome) -> [String] {
        outcome.recipients.map { "\($0.status) \($0.reply.map { "\($0.code)" } ?? "-")" }
    }

    static let cancelledWords = "[the send was cancelled]"
    static let droppedWords = "failed: connection dropped: a message was withdrawn (the send was cancelled)"

    static var smallOutput: SMTPConfiguration {
        var limits = Limits()
        limits.outputHighWater = 1
        return .test(limits: limits)
    }

    // MARK: Nothing reached the driver

    @Test func aMessageCancelledBeforeItsBytesWereTakenIsTakenBack() throws {
        let first = Self.message()
        let second = Self.message(["c@example.net"])
        var hooks = Hooks()
        hooks.cancelOnStart = [1]
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<c@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: [first, second], hooks: hooks)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 \(Self.cancelledWords)",
            "rcpt #2 0 250", "accepted #2 250", "finished #2 delivered 1/1", "closed",
        ])
        #expect(result.outcomes.first == Self.withdrawn(first))
        #expect(result.outcomes.first?.isSafeToRetry == true)
    }

    @Test func theQuitWrittenBehindAMessageTakenBackIsWrittenAnew() throws {
        // MAIL, RCPT, BDAT LAST and the QUIT pipelined behind it all sit in one output.
        let message = Self.message()
        var hooks = Hooks()
        hooks.cancelAfterPiece = (transaction: 1, piece: 1)
        let result = try run(Script(Self.chunking + """
            C: QUIT
            S: 221 bye
            """), configuration: .test(), messages: [message], hooks: hooks, strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 \(Self.cancelledWords)", "closed",
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.failure == nil)
    }

    // MARK: MAIL and RCPT went out

    @Test func aPipelinedDataWrittenBeforeTheCancelDropsTheConnectionAtOnce() throws {
        // The server may hold its 354: nothing of the content has gone out, so the connection
        // goes now rather than once a reply (or the timeout) comes.
        let message = Self.message()
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            CANCEL 1
            """, messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 \(Self.cancelledWords)",
            Self.droppedWords,
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.outcomes.map(\.isSafeToRetry) == [true])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.cancelled))
        #expect(result.bodyRequests == [], "its content was never asked for")
    }

    @Test func aDataAwaitingItsGoAheadInLockStepDropsTheConnectionAtOnce() throws {
        let message = Self.message()
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            CANCEL 1 shutdown
            """, messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "finished #1 notDelivered 0/1 [the client shut down]",
            "failed: connection dropped: a message was withdrawn (the client shut down)",
        ])
        #expect(result.outcomes == [Self.withdrawn(message, .shutdown)])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.shutdown))
        #expect(result.bodyRequests == [])
    }

    @Test func aMailRefusedAfterTheCancelNeedsNoRSET() throws {
        let first = Self.message()
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            CANCEL 1 deadline
            S: 451 4.3.0 try later
            C: QUIT
            S: 221 bye
            """, messages: [first])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 [the send's deadline passed]", "closed",
        ])
        #expect(result.outcomes == [Self.withdrawn(first, .deadlineExceeded)])
        #expect(result.failure == nil)
    }

    @Test func lockStepStopsAfterMAILAndResets() throws {
        let first = Self.message()
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            CANCEL 1 deadline
            S: 250 ok
            C: RSET
            S: 250 reset
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<c@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: body
            C: .
            S: 250 queued
            C: QUIT
            S: 221 bye
            """, messages: [first, Self.message(["c@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 [the send's deadline passed]",
            "rcpt #2 0 250", "accepted #2 250", "finished #2 delivered 1/1", "closed",
        ])
        #expect(result.outcomes.first == Self.withdrawn(first, .deadlineExceeded))
    }

    @Test func aRecipientAcceptedBeforeTheCancelIsReportedNotDelivered() throws {
        let message = Self.message(["b@example.net", "c@example.net"])
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: RCPT TO:<c@example.net>
            CANCEL 1
            S: 250 ok
            C: RSET
            S: 250 reset
            C: QUIT
            S: 221 bye
            """, messages: [message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "finished #1 notDelivered 0/2 \(Self.cancelledWords)",
            "closed",
        ])
        // The 250 to RCPT delivered nothing: no data followed.
        #expect(result.outcomes == [Self.withdrawn(message)])
    }

    @Test func aRecipientRefusedBeforeTheCancelKeepsItsRefusalAndTheMessageIsNotSafeToRetry() throws {
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 550 5.1.1 no such user
            C: RCPT TO:<c@example.net>
            CANCEL 1
            S: 250 ok
            C: RSET
            S: 250 reset
            C: QUIT
            S: 221 bye
            """, messages: [Self.message(["b@example.net", "c@example.net"])])
        let outcome = try #require(result.outcomes.first)
        #expect(result.outcomes.count == 1)
        #expect(Self.recipients(outcome) == ["refused 550", "notAttempted -"])
        #expect(outcome.status == .notDelivered)
        #expect(outcome.failure == .cancelled(.cancelled))
        #expect(!outcome.isSafeToRetry, "a reply decided a recipient: the rule of every outcome")
    }

    // MARK: DATA accepted, the final dot not handed over

    @Test func cancelledAfterTheGoAheadTheConnectionIsDroppedWithoutAByteMore() throws {
        let message = Self.message()
        var hooks = Hooks()
        hooks.holdBodyAtPiece = 0
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            CANCEL 1
            """, messages: [message], hooks: hooks)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 notDelivered 0/1 \(Self.cancelledWords)", Self.droppedWords,
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.closed)
        #expect(result.bodyRequests == ["#1 0"], "the content is never asked for again")
    }

    @Test func cancelledWhileTheContentStreamsTheRestNeverGoesOut() throws {
        let message = Self.message(chunks: ["part one\r\n", "part two\r\n", "part three\r\n"])
        var hooks = Hooks()
        hooks.cancelAfterPiece = (transaction: 1, piece: 2)
        let result = try run(Script(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: part one
            """), configuration: Self.smallOutput, messages: [message], hooks: hooks, strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250",
            "finished #1 notDelivered 0/1 \(Self.cancelledWords)", Self.droppedWords,
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.closed)
        #expect(result.bodyRequests == ["#1 0", "#1 1"])
    }

    @Test func aFinalDotStillHeldByTheEngineNeverGoesOut() throws {
        let message = Self.message(chunks: ["part one\r\n", "part two\r\n"])
        var hooks = Hooks()
        hooks.cancelAfterPiece = (transaction: 1, piece: 2)
        let result = try run(Script(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: part one
            """), configuration: Self.smallOutput, messages: [message], hooks: hooks, strategy: .whole)
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.cancelled))
    }

    // MARK: The end of data went out

    @Test func cancelledAfterTheDotTheOutcomeIsUnknownAndTheConnectionGoes() throws {
        let second = Self.message(["c@example.net"])
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<c@example.net>
            C: DATA
            CANCEL 1
            """, messages: [Self.message(), second])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "finished #1 unknown 0/1 \(Self.cancelledWords)",
            "finished #2 notDelivered 0/1 [\(SMTPError.messageCancelled(.cancelled))]", Self.droppedWords,
        ])
        #expect(result.outcomes == [
            MessageOutcome(status: .unknown,
                           recipients: [RecipientOutcome(index: 0, address: "b@example.net", status: .unknown, reply: nil)],
                           dataReply: nil, failure: .cancelled(.cancelled), isSafeToRetry: false),
            // Nothing of the message behind it can have been taken: safe to send again.
            .notAttempted(second.envelope, because: .sessionEnded(.messageCancelled(.cancelled))),
        ])
        #expect(result.closed)
    }

    @Test func lmtpKeepsTheDeliveriesAlreadyReportedAndTheRestAreUnknown() throws {
        let result = try transcript("""
            S: 220 mx LMTP
            C: LHLO client.example
            S: 250-mx
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: RCPT TO:<c@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 2.0.0 b delivered
            CANCEL 1
            """, configuration: .test(dialect: .lmtp), messages: [Self.message(["b@example.net", "c@example.net"])])
        let outcome = try #require(result.outcomes.first)
        #expect(result.outcomes.count == 1)
        #expect(Self.recipients(outcome) == ["delivered 250", "unknown -"])
        #expect(outcome.status == .unknown)
        #expect(outcome.failure == .cancelled(.cancelled))
        #expect(!outcome.isSafeToRetry)
        #expect(result.events.suffix(3) == ["delivery #1 0 250", "finished #1 unknown 1/2 \(Self.cancelledWords)", Self.droppedWords])
    }

    @Test func cancelledInASecondRoundTheFirstRoundsDeliveryStands() throws {
        // "Too many recipients" sent c in a second transaction over the same content.
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: RCPT TO:<c@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 452 4.5.3 too many recipients
            S: 354 go
            C: body
            C: .
            S: 250 queued as ONE
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<c@example.net>
            C: DATA
            CANCEL 1
            """, messages: [Self.message(["b@example.net", "c@example.net"])])
        let outcome = try #require(result.outcomes.first)
        #expect(result.outcomes.count == 1)
        // c keeps the deferral that sent it to the second round, as when a session ends there.
        #expect(Self.recipients(outcome) == ["delivered 250", "notAttempted 452"])
        #expect(outcome.status == .partiallyDelivered)
        #expect(outcome.failure == .cancelled(.cancelled))
        #expect(!outcome.isSafeToRetry)
        #expect(result.events.suffix(3) == [
            "accepted #1 250", "finished #1 partiallyDelivered 1/2 \(Self.cancelledWords)", Self.droppedWords,
        ])
    }

    // MARK: BDAT

    @Test func pipelinedChunksWithoutLastEndInRSETAndTheSessionGoesOn() throws {
        var hooks = Hooks()
        hooks.holdBodyAtPiece = 1
        let message = Self.message(chunks: ["part one\r\n", "part two\r\n"])
        let result = try run(Script(Self.chunking + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            X: BDAT 10\\r\\npart one\\r\\n
            CANCEL 1
            S: 250 ok
            S: 250 ok
            S: 250 chunk
            C: RSET
            C: QUIT
            S: 250 reset
            S: 221 bye
            """), configuration: .test(), messages: [message], hooks: hooks, strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 \(Self.cancelledWords)", "closed",
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.bodyRequests == ["#1 0", "#1 1"], "no chunk asked for after the cancel")
        #expect(result.failure == nil)
    }

    @Test func lockStepChunkWithoutLastEndsInRSET() throws {
        let message = Self.message(chunks: ["part one\r\n", "part two\r\n"])
        let result = try run(Script(Self.lockStepChunking + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            X: BDAT 10\\r\\npart one\\r\\n
            CANCEL 1
            S: 250 chunk
            C: RSET
            S: 250 reset
            C: QUIT
            S: 221 bye
            """), configuration: .test(), messages: [message], strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "finished #1 notDelivered 0/1 \(Self.cancelledWords)",
            "closed",
        ])
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.bodyRequests == ["#1 0"])
    }

    @Test func aLastChunkHandedOverMakesTheOutcomeUnknown() throws {
        // BDAT LAST went before any RCPT reply: either recipient may have it.
        let result = try run(Script(Self.chunking + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: RCPT TO:<c@example.net>
            X: BDAT 6 LAST\\r\\nbody\\r\\n
            CANCEL 1
            """), configuration: .test(), messages: [Self.message(["b@example.net", "c@example.net"])], strategy: .whole)
        #expect(result.outcomes == [
            MessageOutcome(status: .unknown,
                           recipients: [RecipientOutcome(index: 0, address: "b@example.net", status: .unknown, reply: nil),
                                        RecipientOutcome(index: 1, address: "c@example.net", status: .unknown, reply: nil)],
                           dataReply: nil, failure: .cancelled(.cancelled), isSafeToRetry: false),
        ])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.cancelled))
    }

    @Test func aLastChunkStillHeldByTheEngineNeverGoesOut() throws {
        let message = Self.message(chunks: ["part one\r\n", "part two\r\n"])
        var hooks = Hooks()
        hooks.cancelAfterPiece = (transaction: 1, piece: 2)
        let result = try run(Script(Self.chunking + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            X: BDAT 10\\r\\npart one\\r\\n
            """), configuration: Self.smallOutput, messages: [message], hooks: hooks, strategy: .whole)
        #expect(result.outcomes == [Self.withdrawn(message)])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.cancelled))
    }

    // MARK: Order, and the no-ops

    @Test func cancellingTheMessageBehindAPendingDotLeavesTheFirstToItsReplyThenDrops() throws {
        // #2's DATA is out: once #1's final reply is in, nothing is ahead of it, and the
        // connection goes then, whatever #2's replies would have said.
        let second = Self.message(["c@example.net"])
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<c@example.net>
            C: DATA
            CANCEL 2
            S: 250 queued
            """, messages: [Self.message(), second])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "finished #2 notDelivered 0/1 \(Self.cancelledWords)",
            "accepted #1 250", "finished #1 delivered 1/1", Self.droppedWords,
        ])
        #expect(result.outcomes.first == Self.withdrawn(second))
        #expect(result.outcomes.dropFirst().map(\.status) == [.delivered])
        #expect(result.closed)
        #expect(result.failure == .messageCancelled(.cancelled))
    }

    @Test func aMessageBehindACancelledOneWithoutDATAGoesOnAfterRSET() throws {
        // #1 is cancelled before its DATA (lock-step): its replies are read, RSET, and #2 goes.
        let first = Self.message()
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            CANCEL 1
            S: 550 5.1.1 no such user
            C: RSET
            S: 250 reset
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<c@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: body
            C: .
            S: 250 queued
            C: QUIT
            S: 221 bye
            """, messages: [first, Self.message(["c@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "finished #1 notDelivered 0/1 \(Self.cancelledWords)",
            "rcpt #2 0 250", "accepted #2 250", "finished #2 delivered 1/1", "closed",
        ])
        #expect(result.outcomes.first == Self.withdrawn(first))
    }

    @Test func aFinishedOrUnknownMessageIsANoOp() throws {
        let result = try transcript(Self.pipelining + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            S: 250 queued
            CANCEL 1
            CANCEL 7
            """, messages: [Self.message()], quitWhenDone: false)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
        ])
        #expect(!result.closed)
        #expect(result.failure == nil)
    }
}
