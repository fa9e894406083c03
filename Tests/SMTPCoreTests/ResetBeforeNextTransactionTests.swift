import SMTPCore
import Testing

/// RSET before a message on a session that sat idle (`resetBeforeNextTransaction`), as a pool
/// does when it reuses a connection: lock-step waits for the 250, PIPELINING sends the message
/// in the same group; a 421 or a refusal ends the session, and a message pipelined behind is
/// safe to send again. Never between pipelined messages.
@Suite("RSET before the next message")
struct ResetBeforeNextTransactionTests {
    static let pipelining = CancelTransactionTests.pipelining
    static let lockStep = CancelTransactionTests.lockStep

    static func message(_ recipient: String = "b@example.net") -> TestMessage {
        CancelTransactionTests.message([recipient])
    }

    static func resetBefore(_ positions: Set<Int>) -> Hooks {
        var hooks = Hooks()
        hooks.resetBeforeMessage = positions
        return hooks
    }

    @Test func lockStepWaitsForTheReplyToRSET() throws {
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: body
            C: .
            S: 250 queued
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
            """, messages: [Self.message(), Self.message("c@example.net")], hooks: Self.resetBefore([1]))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "rcpt #2 0 250", "accepted #2 250", "finished #2 delivered 1/1", "closed",
        ])
    }

    @Test func withPipeliningTheMessageGoesInTheSameGroup() throws {
        let result = try transcript(Self.pipelining + """
            C: RSET
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 reset
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: [Self.message()], hooks: Self.resetBefore([0]))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }

    @Test func noRSETBetweenPipelinedMessages() throws {
        // The second message is offered behind the first one's dot: the reset is ignored.
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
            S: 250 queued
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: [Self.message(), Self.message("c@example.net")], hooks: Self.resetBefore([1]))
        #expect(result.outcomes.map(\.status) == [.delivered, .delivered])
    }

    @Test func aResetAskedForWhileAReplyIsOwedIsIgnored() throws {
        let result = try transcript(Self.lockStep + """
            C: MAIL FROM:<a@example.org>
            RESET
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: body
            C: .
            S: 250 queued
            RESET
            C: RSET
            S: 250 reset
            """, messages: [Self.message()], quitWhenDone: false)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
        ])
        #expect(!result.closed)
        #expect(result.failure == nil)
    }

    @Test func a421ToAPipelinedRSETLeavesTheMessageBehindSafeToRetry() throws {
        let message = Self.message()
        let result = try transcript(Self.pipelining + """
            C: RSET
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 421 4.3.2 closing
            """, messages: [message], hooks: Self.resetBefore([0]))
        let failure = try #require(result.failure)
        #expect(failure.code == "service-not-available")
        #expect(result.outcomes == [.notAttempted(message.envelope, because: .sessionEnded(failure))])
        #expect(result.outcomes.first?.isSafeToRetry == true)
        #expect(result.closed)
    }

    @Test func a421ToALockStepRSETEndsTheSessionBeforeTheMessage() throws {
        let result = try transcript(Self.lockStep + """
            C: RSET
            S: 421 4.3.2 closing
            """, messages: [Self.message()], hooks: Self.resetBefore([0]))
        #expect(result.failure?.code == "service-not-available")
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "failed: service not available: 421 4.3.2 closing"])
        #expect(result.outcomes == [])
        #expect(result.closed)
    }

    @Test func aRefusedLockStepRSETEndsTheSessionWithQUIT() throws {
        let result = try transcript(Self.lockStep + """
            C: RSET
            S: 502 5.5.1 no RSET here
            C: QUIT
            S: 221 bye
            """, messages: [Self.message()], hooks: Self.resetBefore([0]))
        #expect(result.failure?.code == "reset-refused")
        #expect(result.outcomes == [])
        #expect(result.closed)
    }

    @Test func aRefusedPipelinedRSETDropsTheConnectionAndTheMessageIsSafeToRetry() throws {
        // MAIL, RCPT and DATA still owe replies: no QUIT behind them.
        let message = Self.message()
        let result = try transcript(Self.pipelining + """
            C: RSET
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 502 5.5.1 no RSET here
            """, messages: [message], hooks: Self.resetBefore([0]))
        let failure = try #require(result.failure)
        #expect(failure.code == "reset-refused")
        #expect(result.outcomes == [.notAttempted(message.envelope, because: .sessionEnded(failure))])
        #expect(result.closed)
    }

    @Test func aCloseAfterRSETIsAConnectionClosedDuringRSET() throws {
        let result = try transcript(Self.lockStep + """
            C: RSET
            EOF
            """, messages: [Self.message()], hooks: Self.resetBefore([0]))
        #expect(result.failure == .connectionClosed(.reset))
        #expect(result.outcomes == [])
        #expect(result.closed)
    }
}
