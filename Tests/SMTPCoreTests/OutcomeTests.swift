import SMTPCore
import Testing

/// The engine's account of each message: one outcome per message, every recipient's final
/// status and reply, and the reply to the data. Each transcript runs whole, byte by byte and at
/// random splits (`transcript`), and the whole event sequence and outcome are compared.
@Suite("Message outcomes")
struct OutcomeTests {
    private static let four = ["r1@example.net", "r2@example.net", "r3@example.net", "r4@example.net"]
    private static let message = TestMessage(from: "a@example.org", to: four, body: "body\r\n")

    private static let firstRound = """
        S: 220 mx ESMTP
        C: EHLO client.example
        S: 250-mx
        S: 250-ENHANCEDSTATUSCODES
        S: 250 PIPELINING
        C: MAIL FROM:<a@example.org>
        C: RCPT TO:<r1@example.net>
        C: RCPT TO:<r2@example.net>
        C: RCPT TO:<r3@example.net>
        C: RCPT TO:<r4@example.net>
        C: DATA
        S: 250 2.1.0 ok
        S: 250 2.1.5 ok
        S: 250 2.1.5 ok
        S: 452 4.5.3 Too many recipients
        S: 452 4.5.3 Too many recipients
        S: 354 go
        C: body
        C: .
        S: 250 2.0.0 queued as FIRST
        C: MAIL FROM:<a@example.org>
        C: RCPT TO:<r3@example.net>
        C: RCPT TO:<r4@example.net>
        C: DATA
        S: 250 2.1.0 ok

        """

    private func reply(_ line: String) -> SMTPReply {
        let code = ReplyCode(rawValue: UInt16(line.prefix(3))!)!
        var enhanced: EnhancedStatusCode?
        let rest = line.dropFirst(4)
        if let word = rest.split(separator: " ").first, word.split(separator: ".").count == 3 {
            let parts = word.split(separator: ".").map { UInt16($0)! }
            enhanced = EnhancedStatusCode(statusClass: UInt8(parts[0]), subject: parts[1], detail: parts[2])
        }
        return SMTPReply(code: code, lines: [String(rest)], enhancedStatusCode: enhanced)
    }

    @Test func followUpRefusedReportsTwoOfFour() throws {
        let result = try transcript(Self.firstRound + """
            S: 550 5.1.1 no such user r3
            S: 550 5.1.1 no such user r4
            S: 554 5.5.1 no valid recipients
            C: RSET
            C: QUIT
            S: 250 2.0.0 ok
            S: 221 2.0.0 bye
            """, messages: [Self.message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "rcpt #1 0 250", "rcpt #1 1 250", "accepted #1 250",
            "rcpt #1 2 550", "rcpt #1 3 550",
            "finished #1 partiallyDelivered 2/4 [some recipients were refused]",
            "closed",
        ])
        let first = reply("250 2.0.0 queued as FIRST")
        #expect(result.outcomes == [MessageOutcome(
            status: .partiallyDelivered,
            recipients: [
                RecipientOutcome(index: 0, address: "r1@example.net", status: .delivered, reply: first),
                RecipientOutcome(index: 1, address: "r2@example.net", status: .delivered, reply: first),
                RecipientOutcome(index: 2, address: "r3@example.net", status: .refused, reply: reply("550 5.1.1 no such user r3")),
                RecipientOutcome(index: 3, address: "r4@example.net", status: .refused, reply: reply("550 5.1.1 no such user r4")),
            ],
            dataReply: first, failure: .recipientsRefused, isSafeToRetry: false)])
    }

    @Test func followUpAcceptedDeliversToAllFour() throws {
        let result = try transcript(Self.firstRound + """
            S: 250 2.1.5 ok
            S: 250 2.1.5 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 2.0.0 queued as SECOND
            S: 221 2.0.0 bye
            """, messages: [Self.message])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready",
            "rcpt #1 0 250", "rcpt #1 1 250", "accepted #1 250",
            "rcpt #1 2 250", "rcpt #1 3 250", "accepted #1 250",
            "finished #1 delivered 4/4", "closed",
        ])
        let first = reply("250 2.0.0 queued as FIRST")
        let second = reply("250 2.0.0 queued as SECOND")
        #expect(result.outcomes.map(\.recipients) == [[
            RecipientOutcome(index: 0, address: "r1@example.net", status: .delivered, reply: first),
            RecipientOutcome(index: 1, address: "r2@example.net", status: .delivered, reply: first),
            RecipientOutcome(index: 2, address: "r3@example.net", status: .delivered, reply: second),
            RecipientOutcome(index: 3, address: "r4@example.net", status: .delivered, reply: second),
        ]])
        #expect(result.outcomes.map(\.dataReply) == [second])
        #expect(result.outcomes.map(\.failure) == [nil])
    }

    /// OpenSMTPD answers "too many recipients" with 451 4.5.3: the same follow-up transaction.
    @Test func enhancedCodeX53ToRCPTDefersLike452() throws {
        let text = Self.firstRound
            .replacingOccurrences(of: "S: 452 4.5.3 Too many recipients", with: "S: 451 4.5.3 Too many recipients")
        let result = try transcript(text + """
            S: 250 2.1.5 ok
            S: 250 2.1.5 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 2.0.0 queued as SECOND
            S: 221 2.0.0 bye
            """, messages: [Self.message])
        #expect(result.outcomes.map(\.status) == [.delivered])
        #expect(result.outcomes.map(\.deliveredCount) == [4])
    }

    @Test func timeoutAfterTheDotLeavesAcceptedRecipientsUnknown() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<r1@example.net>
            S: 250 ok
            C: RCPT TO:<r2@example.net>
            S: 550 no
            C: DATA
            S: 354 go
            C: body
            C: .
            WAIT 601
            """, messages: [TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net"], body: "body\r\n")])
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 250", "rcpt #1 1 550",
            "finished #1 unknown 0/2 [timed out waiting for end of data]",
            "failed: timed out waiting for end of data",
        ])
        #expect(result.outcomes.first?.recipients.map(\.status) == [.unknown, .refused])
        #expect(result.outcomes.first?.isSafeToRetry == false)
    }

    @Test func closedBeforeMAILRepliesIsSafeToRetry() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: DATA
            EOF
            """, messages: [TestMessage(from: "a@example.org", to: ["r1@example.net"], body: "body\r\n")])
        #expect(result.outcomes == [MessageOutcome(
            status: .notDelivered,
            recipients: [RecipientOutcome(index: 0, address: "r1@example.net", status: .notAttempted, reply: nil)],
            dataReply: nil, failure: .sessionEnded(.connectionClosed(.mail)), isSafeToRetry: true)])
    }

    @Test func temporaryRefusalAtMAILIsSafeToRetryAndAPermanentOneIsNot() throws {
        for (code, safe) in [("452 4.5.3 Too many messages", true), ("553 5.7.1 no", false)] {
            let result = try transcript("""
                S: 220 mx ESMTP
                C: EHLO client.example
                S: 250 mx
                C: MAIL FROM:<a@example.org>
                S: \(code)
                C: QUIT
                S: 221 bye
                """, messages: [TestMessage(from: "a@example.org", to: ["r1@example.net"], body: "body\r\n")])
            #expect(result.outcomes.map(\.isSafeToRetry) == [safe], "\(code)")
            #expect(result.outcomes.map(\.status) == [.notDelivered])
        }
    }

    @Test func lmtpRefusalsAtRCPTAndAfterTheDataReadAlike() throws {
        let result = try transcript("""
            S: 220 lmtp
            C: LHLO client.example
            S: 250-lmtp
            S: 250 PIPELINING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: RCPT TO:<r2@example.net>
            C: RCPT TO:<r3@example.net>
            C: DATA
            S: 250 ok
            S: 250 ok
            S: 550 no such user
            S: 250 ok
            S: 354 go
            C: body
            C: .
            C: QUIT
            S: 250 stored r1
            S: 552 over quota r3
            S: 221 bye
            """, configuration: .test(dialect: .lmtp),
            messages: [TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net", "r3@example.net"], body: "body\r\n")])
        let outcome = try #require(result.outcomes.first)
        #expect(outcome.recipients.map(\.status) == [.delivered, .refused, .refused])
        #expect(outcome.recipients.map { $0.reply?.description } == ["250 stored r1", "550 no such user", "552 over quota r3"])
        #expect(outcome.failure == .recipientsRefused)
        #expect(outcome.status == .partiallyDelivered)
    }
}

/// Found by the connection fuzz target: without PIPELINING, a 452 to the first RCPT defers the
/// recipients not yet written as well; when no further round follows, only the one the server
/// answered is refused by it, and the one never written is not attempted.
@Suite("Message outcomes: deferrals")
struct DeferralOutcomeTests {
    @Test func aRecipientNeverWrittenIsNotRefusedByAnotherOnesDeferral() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<r1@example.net>
            S: 452 too many recipients
            C: RSET
            S: 250 ok
            C: QUIT
            S: 221 bye
            """, messages: [TestMessage(from: "a@example.org", to: ["r1@example.net", "r2@example.net"], body: "b\r\n")])
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "rcpt #1 0 452",
                                  "finished #1 notDelivered 0/2 [all recipients were refused]", "closed"])
        #expect(result.outcomes.first?.recipients == [
            RecipientOutcome(index: 0, address: "r1@example.net", status: .refused,
                             reply: SMTPReply(code: ReplyCode(rawValue: 452)!, lines: ["too many recipients"])),
            RecipientOutcome(index: 1, address: "r2@example.net", status: .notAttempted, reply: nil),
        ])
    }
}

/// Exim at its per-connection limit answers the next MAIL with 421, even when BDAT was
/// pipelined behind it: no transaction exists, so the message is safe to send again.
@Suite("Message outcomes: 421 to MAIL")
struct ServiceClosingAtMAILTests {
    @Test func a421ToMAILWithContentPipelinedBehindItIsSafeToRetry() throws {
        // Whole chunks only: the BDAT framing follows the harness's body pieces.
        let result = try run(Script("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250-PIPELINING
            S: 250 CHUNKING
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<r1@example.net>
            C: BDAT 6 LAST
            C: body
            C: QUIT
            S: 421 4.7.0 too many messages in this connection
            """), configuration: .test(), messages: [TestMessage(from: "a@example.org", to: ["r1@example.net"], body: "body\r\n")],
            strategy: .whole)
        let reply = SMTPReply(code: ReplyCode(rawValue: 421)!, lines: ["4.7.0 too many messages in this connection"])
        #expect(result.outcomes == [MessageOutcome(
            status: .notDelivered,
            recipients: [RecipientOutcome(index: 0, address: "r1@example.net", status: .notAttempted, reply: nil)],
            dataReply: nil, failure: .senderRefused(reply), isSafeToRetry: true)])
        #expect(result.failure == .serviceNotAvailable(reply))
    }
}
