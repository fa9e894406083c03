import SMTPCore
import Testing

/// QUIT pipelined behind the last message (RFC 2920: QUIT may end a command group). It saves
/// one round trip per session, and every reply is still read: the message's outcome comes from
/// its own replies, then QUIT's. It goes early only when nothing more can be written for the
/// message whatever its replies say.
@Suite("QUIT pipelined behind the last message")
struct QuitPipeliningTests {
    private static let chunkingGreeting = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250-PIPELINING
        S: 250 CHUNKING

        """

    private static func message(to recipients: [String]) -> TestMessage {
        TestMessage(from: "a@example.org", to: recipients, body: "body\r\n")
    }

    @Test func quitGoesWithTheFinalDot() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 queued
            S: 221 bye
            """, messages: [Self.message(to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }

    @Test func oneRecipientRefusedAfterQuitWentOut() throws {
        // Whole chunks only: the BDAT framing follows the harness's body pieces.
        let result = try run(Script(Self.chunkingGreeting + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: BDAT 6 LAST
            C: body
            C: QUIT
            S: 250 ok
            S: 550 5.1.1 no such user
            S: 554 5.5.1 no valid recipients
            S: 221 bye
            """), configuration: .test(), messages: [Self.message(to: ["b@example.net"])], strategy: .whole)
        // No RSET: QUIT already ends the transaction the server may still hold.
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 550",
            "finished #1 notDelivered 0/1 [all recipients were refused]", "closed",
        ])
        #expect(result.failure == nil)
    }

    @Test func severalRecipientsWaitForTheirRepliesBecauseAFurtherRoundMayFollow() throws {
        // A "too many recipients" for r2 calls for a second transaction: QUIT must not have gone.
        let result = try run(Script(Self.chunkingGreeting + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: RCPT TO:<r2@example.net>
            C: BDAT 6 LAST
            C: body
            S: 250 ok
            S: 250 ok
            S: 452 4.5.3 too many recipients
            S: 250 queued as ONE
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r2@example.net>
            C: BDAT 6 LAST
            C: body
            C: QUIT
            S: 250 ok
            S: 250 ok
            S: 250 queued as TWO
            S: 221 bye
            """), configuration: .test(), messages: [Self.message(to: ["r1@example.net", "r2@example.net"])],
            strategy: .whole)
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "rcpt #1 1 250",
            "accepted #1 250", "finished #1 delivered 2/2", "closed",
        ])
        #expect(result.failure == nil)
    }

    @Test func aCloseBeforeTheRepliesLeavesTheMessageUndelivered() throws {
        let result = try run(Script(Self.chunkingGreeting + """
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<b@example.net>
            C: BDAT 6 LAST
            C: body
            C: QUIT
            EOF
            """), configuration: .test(), messages: [Self.message(to: ["b@example.net"])], strategy: .whole)
        #expect(result.failure == .connectionClosed(.mail))
        #expect(result.outcomes.map(\.status) == [.notDelivered])
        #expect(result.outcomes.map(\.isSafeToRetry) == [false], "content went out: the server may hold it")
    }

    @Test func withoutPipeliningQuitWaitsForTheLastReply() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: body
            C: .
            S: 250 queued
            C: QUIT
            S: 221 bye
            """, messages: [Self.message(to: ["b@example.net"])])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "accepted #1 250", "finished #1 delivered 1/1",
            "closed",
        ])
    }
}
