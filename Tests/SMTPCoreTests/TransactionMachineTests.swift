@testable import SMTPCore
import Testing

/// The transaction machine alone: replies in, verdicts and the outcome out, with no session and
/// no wire. (The session machine's transcript tests cover how these verdicts reach the wire.)
@Suite("Transaction machine")
struct TransactionMachineTests {
    private func reply(_ code: UInt16, _ text: String = "x", enhanced: (UInt8, UInt16, UInt16)? = nil) -> SMTPReply {
        SMTPReply(code: ReplyCode(rawValue: code)!, lines: [text],
                  enhancedStatusCode: enhanced.flatMap { EnhancedStatusCode(statusClass: $0.0, subject: $0.1, detail: $0.2) })
    }

    private func transaction(_ recipients: [String], lmtp: Bool = false, chunking: Bool = false) -> Transaction {
        Transaction(id: TransactionID(rawValue: 1), envelope: Envelope(sender: "a@example.org", recipients: recipients.map { Recipient($0) }),
                    usesChunking: chunking, needsSMTPUTF8: false, lmtp: lmtp)
    }

    @Test func acceptedRecipientsAreDeliveredByTheDataReply() throws {
        var machine = transaction(["r1@x.example", "r2@x.example"])
        try machine.mailReplied(reply(250))
        #expect(try machine.recipientReplied(reply(250), recipient: 0, pipelining: true) == .report)
        #expect(try machine.recipientReplied(reply(550, "no"), recipient: 1, pipelining: true) == .report)
        #expect(try machine.dataReplied(reply(354)) == .sendBody)
        machine.step = .ended
        let queued = reply(250, "queued as ABC")
        #expect(try machine.finalReplied(queued) == .accepted)
        let outcome = machine.outcome()
        #expect(outcome == MessageOutcome(status: .partiallyDelivered, recipients: [
            RecipientOutcome(index: 0, address: "r1@x.example", status: .delivered, reply: queued),
            RecipientOutcome(index: 1, address: "r2@x.example", status: .refused, reply: reply(550, "no")),
        ], dataReply: queued, failure: .recipientsRefused, isSafeToRetry: false))
    }

    @Test func tooManyRecipientsDefersAndTheNextRoundDecidesThem() throws {
        var machine = transaction(["r1@x.example", "r2@x.example"])
        try machine.mailReplied(reply(250))
        _ = try machine.recipientReplied(reply(250), recipient: 0, pipelining: true)
        #expect(try machine.recipientReplied(reply(452, "too many"), recipient: 1, pipelining: true) == .deferred)
        _ = try machine.dataReplied(reply(354))
        machine.step = .ended
        _ = try machine.finalReplied(reply(250, "first"))
        #expect(machine.results.map(\.status) == [.delivered, .notAttempted])
        let retrying = machine.startRetryRoundIfUseful()
        #expect(retrying)
        #expect(machine.roundCount == 1 && machine.recipientIndex(atRoundPosition: 0) == 1)
        try machine.mailReplied(reply(250))
        _ = try machine.recipientReplied(reply(550, "no such user"), recipient: 1, pipelining: true)
        #expect(try machine.dataReplied(reply(554, "no valid recipients")) == .quiet)
        let outcome = machine.outcome()
        #expect(outcome.status == .partiallyDelivered)
        #expect(outcome.recipients.map(\.status) == [.delivered, .refused])
        #expect(outcome.recipients[1].reply == reply(550, "no such user"))
        #expect(outcome.failure == .recipientsRefused)
    }

    @Test func whatMeansTooManyRecipients() {
        #expect(Transaction.meansTooManyRecipients(reply(452)))
        #expect(Transaction.meansTooManyRecipients(reply(451, enhanced: (4, 5, 3))))
        #expect(Transaction.meansTooManyRecipients(reply(552, enhanced: (5, 5, 3))))
        #expect(!Transaction.meansTooManyRecipients(reply(451, enhanced: (4, 3, 0))))
        #expect(!Transaction.meansTooManyRecipients(reply(550, enhanced: (5, 1, 1))))
        #expect(!Transaction.meansTooManyRecipients(reply(552)))
    }

    @Test func withoutPipeliningADeferralDefersTheRCPTsNotYetWritten() throws {
        var machine = transaction(["r1@x.example", "r2@x.example", "r3@x.example"])
        try machine.mailReplied(reply(250))
        machine.recipientsSent = 2
        _ = try machine.recipientReplied(reply(250), recipient: 0, pipelining: false)
        _ = try machine.recipientReplied(reply(452), recipient: 1, pipelining: false)
        #expect(machine.deferred == [1, 2])
        #expect(machine.recipientsSent == 3)
    }

    @Test func lmtpGivesEachAcceptedRecipientItsOwnReply() throws {
        var machine = transaction(["r1@x.example", "r2@x.example", "r3@x.example"], lmtp: true, chunking: true)
        try machine.mailReplied(reply(250))
        for index in 0..<3 { _ = try machine.recipientReplied(reply(250), recipient: index, pipelining: true) }
        machine.step = .ended
        // BDAT LAST went before the RCPT replies: the first reply says two more follow.
        #expect(try machine.finalReplied(reply(250, "ok 1")) == .delivery(recipient: 0, more: 2))
        #expect(try machine.finalReplied(reply(552, "over quota")) == .delivery(recipient: 1, more: 0))
        #expect(try machine.finalReplied(reply(250, "ok 3")) == .delivery(recipient: 2, more: 0))
        let outcome = machine.outcome()
        #expect(outcome.recipients.map(\.status) == [.delivered, .refused, .delivered])
        #expect(outcome.recipients[1].reply == reply(552, "over quota"))
        #expect(outcome.status == .partiallyDelivered && outcome.failure == .recipientsRefused)
    }

    @Test func aSessionEndingAfterTheDotLeavesTheAcceptedUnknown() throws {
        var machine = transaction(["r1@x.example"])
        try machine.mailReplied(reply(250))
        _ = try machine.recipientReplied(reply(250), recipient: 0, pipelining: true)
        _ = try machine.dataReplied(reply(354))
        machine.step = .ended
        let outcome = machine.outcome(sessionError: .timeout(.dataTermination))
        #expect(outcome.status == .unknown)
        #expect(outcome.recipients.map(\.status) == [.unknown])
        #expect(outcome.failure == .sessionEnded(.timeout(.dataTermination)))
        #expect(!outcome.isSafeToRetry)
    }

    @Test func safeToRetryOnlyWhenNothingReachedTheServer() throws {
        var untouched = transaction(["r1@x.example"])
        #expect(untouched.outcome(sessionError: .serviceNotAvailable(reply(421))).isSafeToRetry)
        try untouched.mailReplied(reply(452, "too many messages"))
        #expect(untouched.outcome().isSafeToRetry)

        var refused = transaction(["r1@x.example"])
        try refused.mailReplied(reply(550, "no"))
        #expect(!refused.outcome().isSafeToRetry, "a permanent refusal is final")

        var dataSent = transaction(["r1@x.example"])
        try dataSent.mailReplied(reply(250))
        _ = try dataSent.recipientReplied(reply(250), recipient: 0, pipelining: true)
        _ = try dataSent.dataReplied(reply(354))
        #expect(!dataSent.outcome(sessionError: .connectionClosed(.dataBlock)).isSafeToRetry)
    }

    @Test func aReplyThatFitsNoCommandIsAMisfit() throws {
        let fresh = transaction(["r1@x.example"])
        #expect(throws: Transaction.Misfit.self) { var machine = fresh; try machine.mailReplied(reply(354)) }
        var afterMail = fresh
        try afterMail.mailReplied(reply(250))
        let mailed = afterMail
        #expect(throws: Transaction.Misfit.self) {
            var machine = mailed
            _ = try machine.recipientReplied(reply(334), recipient: 0, pipelining: true)
        }
        #expect(throws: Transaction.Misfit.self) { var machine = mailed; _ = try machine.dataReplied(reply(250)) }
    }
}

@Suite("Recipient set")
struct RecipientSetTests {
    @Test func keepsAscendingPositionsAcrossTheInlineLimit() {
        var set = RecipientSet()
        #expect(set.isEmpty && set.count == 0)
        let positions = [0, 3, 63, 64, 100, 130]
        for position in positions { set.insert(position) }
        #expect(Array(set) == positions)
        #expect(set.count == positions.count)
        #expect(positions.indices.map { set[$0] } == positions)
        #expect(!set.isEmpty)
    }
}
