/// One message's progress through MAIL, RCPT, DATA or BDAT, and the end of the data: the
/// transaction machine.
///
/// The session machine owns the wire (what is written, which reply answers which command, the
/// pipelining rules); this machine owns what each reply *means* for the message. Its inputs are
/// the replies to the message's own commands (`mailReplied`, `recipientReplied`, `dataReplied`,
/// `chunkReplied`, `finalReplied`) and the session ending under it (`outcome(sessionError:)`);
/// each returns a verdict the session machine acts on. It keeps every recipient's result, so
/// the outcome it produces is the only account of the message.
///
/// A transaction is sent in rounds. The first round carries every recipient; when the server
/// answers RCPT with "too many recipients" (452, or any refusal with enhanced code X.5.3, RFC
/// 5321 §4.5.3.1.10) after accepting some, those recipients go in a further round, a new MAIL
/// transaction over the same content, once the current round has delivered.
struct Transaction: Sendable {
    /// What to send next, or what the transaction is waiting for.
    enum Step: Sendable, Equatable {
        case mail
        case recipients
        case dataCommand
        case awaitingGoAhead
        case body
        /// The end of the data is sent; the final reply (or LMTP replies) are pending.
        case ended
    }

    let id: TransactionID
    let envelope: Envelope
    let usesChunking: Bool
    let needsSMTPUTF8: Bool
    let lmtp: Bool
    var encoder: BodyEncoder

    var step: Step = .mail
    /// Recipients of the current round: all of them, or the retry list.
    var retryRound: [Int]?
    /// How many of this round's RCPT commands were written.
    var recipientsSent = 0

    // Per round.
    var mailAccepted = false
    /// Recipients accepted at RCPT in this round, in RCPT order (LMTP answers them in this order).
    var accepted = RecipientSet()
    /// LMTP replies after the data received so far in this round.
    var lmtpRepliesSeen = 0
    var roundFailure: TransactionFailure?
    /// The final reply (dot or BDAT LAST) arrived, so the server holds no transaction state.
    var finalReplyReceived = false
    /// DATA got 354 with nothing to send: the terminator went alone.
    var sentEmptyData = false
    /// Body octets written for the current round (wire form).
    var wireBytes = 0
    /// Recipients deferred by "too many recipients" in this round (each answered one keeps the
    /// reply in `results` until a later round decides it; one never written has none).
    var deferred: [Int] = []

    // Whole transaction.
    /// Every recipient's result so far; `.notAttempted` until a reply decides it.
    var results: [RecipientOutcome]
    var dataReply: SMTPReply?
    /// Some message content went on the wire in some round.
    var contentSent = false
    /// Where the first round's MAIL begins in the engine's output, and the output's handover
    /// count then (`SMTPMachine.outputHandovers`): while that count holds, none of this
    /// message's bytes has reached the driver. Nil until MAIL is written.
    var firstWrite: (offset: Int, handover: UInt64)?
    /// The output's handover count when the end of the data (final dot or BDAT LAST) was written.
    var endHandover: UInt64 = 0
    /// The caller withdrew the message: its outcome is reported, nothing more of it is written,
    /// and its remaining replies are read without a word.
    var cancelled: CancelReason?

    init(id: TransactionID, envelope: Envelope, usesChunking: Bool, needsSMTPUTF8: Bool, lmtp: Bool) {
        self.id = id
        self.envelope = envelope
        self.usesChunking = usesChunking
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.lmtp = lmtp
        self.encoder = Transaction.makeEncoder(envelope: envelope, usesChunking: usesChunking)
        results = envelope.recipients.enumerated().map {
            RecipientOutcome(index: $0.offset, address: $0.element.address, status: .notAttempted, reply: nil)
        }
    }

    private static func makeEncoder(envelope: Envelope, usesChunking: Bool) -> BodyEncoder {
        switch envelope.bodyType {
        case .binaryMIME: BodyEncoder(mode: .binary, allowsEightBit: true)
        case .eightBitMIME: BodyEncoder(mode: usesChunking ? .chunkedText : .dotStuffed, allowsEightBit: true)
        case .sevenBit: BodyEncoder(mode: usesChunking ? .chunkedText : .dotStuffed, allowsEightBit: false)
        }
    }

    var roundCount: Int { retryRound?.count ?? envelope.recipients.count }

    func recipientIndex(atRoundPosition position: Int) -> Int {
        retryRound?[position] ?? position
    }

    /// The server may still hold MAIL state for this round: RSET before anything else.
    var needsReset: Bool {
        (mailAccepted && !finalReplyReceived) || sentEmptyData
    }

    /// Another transaction (or QUIT) may be pipelined behind this one: its data went through
    /// DATA and the final dot is all that is pending, with no second round to come.
    var allowsOverlap: Bool {
        step == .ended && !usesChunking && !sentEmptyData && roundFailure == nil && deferred.isEmpty
    }

    /// QUIT may be pipelined behind this transaction before its replies are in: nothing more
    /// will be written for it, whatever they say. True when another transaction may overlap,
    /// and also after BDAT LAST for a round of one recipient: a refusal there leaves no
    /// accepted recipient, so no further round can follow (with more recipients, a "too many
    /// recipients" reply still on its way may call for one, so QUIT waits for the replies).
    var allowsQuitBehind: Bool {
        allowsOverlap || (step == .ended && usesChunking && roundCount == 1 && roundFailure == nil && !sentEmptyData)
    }

    /// Marks the round failed, keeping the first reason.
    mutating func failRound(_ failure: TransactionFailure) {
        if roundFailure == nil { roundFailure = failure }
    }

    // MARK: Inputs: the replies to this message's commands

    /// A reply that does not fit its command (the session machine treats it as a violation).
    struct Misfit: Error {}

    /// The reply to MAIL.
    mutating func mailReplied(_ reply: SMTPReply) throws(Misfit) {
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand: mailAccepted = true
        case 4, 5: failRound(.senderRefused(reply.detached()))
        default: throw Misfit()
        }
    }

    enum RecipientVerdict: Equatable {
        /// Report the reply as a `.recipient` event.
        case report
        /// Deferred to a further round: report nothing yet.
        case deferred
        /// MAIL was refused, so this reply decides nothing.
        case ignore
    }

    /// The reply to the RCPT of envelope recipient `recipient`.
    mutating func recipientReplied(_ reply: SMTPReply, recipient: Int, pipelining: Bool) throws(Misfit) -> RecipientVerdict {
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand:
            guard mailAccepted else { return .ignore }
            accepted.insert(recipient)
            return .report
        case 4, 5:
            guard mailAccepted else { return .ignore }
            guard Self.meansTooManyRecipients(reply) else {
                results[recipient].status = .refused
                results[recipient].reply = reply.detached()
                return .report
            }
            deferred.append(recipient)
            results[recipient].reply = reply.detached()
            if !pipelining {
                // Lock-step: the RCPTs not yet written go in the next round too.
                for position in recipientsSent..<roundCount {
                    deferred.append(recipientIndex(atRoundPosition: position))
                }
                recipientsSent = roundCount
            }
            return .deferred
        default:
            throw Misfit()
        }
    }

    /// 452, or any refusal whose enhanced code is X.5.3 ("too many recipients": 552 5.5.3 in RFC
    /// 5321 §4.5.3.1.10, 451 4.5.3 from OpenSMTPD): the rest go in a further transaction.
    static func meansTooManyRecipients(_ reply: SMTPReply) -> Bool {
        if reply.code == .insufficientStorage { return true }
        if let enhanced = reply.enhancedStatusCode, reply.code.isNegative {
            return enhanced.subject == 5 && enhanced.detail == 3
        }
        return false
    }

    enum GoAheadVerdict: Equatable {
        /// Ask for the content.
        case sendBody
        /// Nothing may be sent, yet the server waits for data: end it empty.
        case sendEmptyData
        /// The message was refused at DATA: report `.messageRejected`.
        case rejected
        /// Nothing to report (the round had already failed, or no recipient was accepted).
        case quiet
    }

    /// The reply to DATA.
    mutating func dataReplied(_ reply: SMTPReply) throws(Misfit) -> GoAheadVerdict {
        switch reply.code.replyClass {
        case 3 where reply.code == .startMailInput:
            if roundFailure == nil, !accepted.isEmpty {
                step = .body
                contentSent = true
                return .sendBody
            }
            failRound(.noRecipientsAccepted)
            sentEmptyData = true
            step = .ended
            return .sendEmptyData
        case 4, 5:
            return refuseData(reply)
        default:
            throw Misfit()
        }
    }

    /// The reply to a BDAT chunk that is not the last. Returns whether more chunks may follow.
    mutating func chunkReplied(_ reply: SMTPReply) throws(Misfit) -> GoAheadVerdict {
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand:
            return step == .body && roundFailure == nil ? .sendBody : .quiet
        case 4, 5:
            // RFC 3030: after a failed chunk, send no more.
            return refuseData(reply)
        default:
            throw Misfit()
        }
    }

    /// A negative reply to DATA or a chunk, or one that arrives while DATA content streams (a
    /// server giving up on the message early): the accepted recipients are refused with it.
    mutating func refuseData(_ reply: SMTPReply) -> GoAheadVerdict {
        guard roundFailure == nil else { return .quiet }
        guard !accepted.isEmpty else {
            failRound(.noRecipientsAccepted)
            return .quiet
        }
        let detached = reply.detached()
        failRound(.dataRefused(detached))
        settleAccepted(.refused, detached)
        return .rejected
    }

    enum FinalVerdict: Equatable {
        /// Report `.messageAccepted`.
        case accepted
        /// Report `.messageRejected`.
        case rejected
        /// LMTP: report `.recipientDelivery` for this recipient. `more` replies follow that the
        /// session machine did not expect yet (BDAT LAST went out before the RCPT replies).
        case delivery(recipient: Int, more: Int)
        /// Nothing to report.
        case quiet
    }

    /// The reply to the final dot or BDAT LAST; with LMTP, one of several.
    mutating func finalReplied(_ reply: SMTPReply) throws(Misfit) -> FinalVerdict {
        let positive: Bool
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand: positive = true
        case 4, 5: positive = false
        default: throw Misfit()
        }
        if lmtp, !accepted.isEmpty, !sentEmptyData, roundFailure == nil {
            let more = usesChunking && lmtpRepliesSeen == 0 ? accepted.count - 1 : 0
            let recipient = accepted[lmtpRepliesSeen]
            lmtpRepliesSeen += 1
            if lmtpRepliesSeen == accepted.count { finalReplyReceived = true }
            let detached = reply.detached()
            results[recipient].status = positive ? .delivered : .refused
            results[recipient].reply = detached
            dataReply = detached
            return .delivery(recipient: recipient, more: more)
        }
        finalReplyReceived = positive || !usesChunking
        if sentEmptyData || roundFailure != nil { return .quiet }
        guard !accepted.isEmpty else {
            failRound(.noRecipientsAccepted)
            return .quiet
        }
        let detached = reply.detached()
        dataReply = detached
        if positive {
            settleAccepted(.delivered, detached)
            return .accepted
        }
        failRound(.messageRefused(detached))
        settleAccepted(.refused, detached)
        return .rejected
    }

    /// Every recipient accepted at RCPT in this round gets `status`, decided by `reply`.
    private mutating func settleAccepted(_ status: RecipientOutcome.Status, _ reply: SMTPReply) {
        for recipient in accepted {
            results[recipient].status = status
            results[recipient].reply = reply
        }
    }

    // MARK: Rounds and the end

    /// Starts the retry round for deferred recipients, if the current round delivered.
    /// Returns false when there is nothing (more) to retry.
    mutating func startRetryRoundIfUseful() -> Bool {
        guard !deferred.isEmpty, roundFailure == nil, !accepted.isEmpty, finalReplyReceived else { return false }
        retryRound = deferred
        deferred = []
        step = .mail
        recipientsSent = 0
        mailAccepted = false
        accepted = RecipientSet()
        lmtpRepliesSeen = 0
        finalReplyReceived = false
        sentEmptyData = false
        wireBytes = 0
        encoder = Transaction.makeEncoder(envelope: envelope, usesChunking: usesChunking)
        return true
    }

    /// The transaction is over with recipients still deferred (its round failed, so no further
    /// round): each one the server answered is refused by that answer; one never written stays
    /// not attempted. Returns the refused, for their `.recipient` events.
    mutating func refuseDeferred() -> [RecipientOutcome] {
        var refused: [RecipientOutcome] = []
        for recipient in deferred where results[recipient].reply != nil {
            results[recipient].status = .refused
            refused.append(results[recipient])
        }
        deferred = []
        return refused
    }

    /// Every recipient's result, with the replies of deferrals that decided nothing taken out.
    private var settledResults: [RecipientOutcome] {
        var recipients = results
        for recipient in deferred where recipients[recipient].status == .notAttempted {
            recipients[recipient].reply = nil // the deferral decided nothing: the transaction ended first
        }
        return recipients
    }

    /// The message's status from its recipients', and how many got it.
    private static func status(of recipients: [RecipientOutcome]) -> (MessageOutcome.Status, delivered: Int) {
        var delivered = 0
        var unknown = 0
        for recipient in recipients {
            switch recipient.status {
            case .delivered: delivered += 1
            case .unknown: unknown += 1
            case .refused, .notAttempted: break
            }
        }
        if unknown > 0 { return (.unknown, delivered) }
        if delivered == recipients.count { return (.delivered, delivered) }
        return (delivered > 0 ? .partiallyDelivered : .notDelivered, delivered)
    }

    /// The outcome of a message the caller withdraws now. `endPending`: its end of data reached
    /// the driver and the reply that decides it has not come, so every recipient of this round
    /// the server may have taken (accepted at RCPT, or not answered yet when BDAT went ahead of
    /// the RCPT replies) is `.unknown`, and the message is not safe to send again. Otherwise
    /// nothing of it can be delivered any more: a recipient accepted at RCPT stays
    /// `.notAttempted` (the server took no data for it), and it is safe to send again when no
    /// reply decided any recipient, the rule of every outcome.
    func cancelledOutcome(_ reason: CancelReason, endPending: Bool) -> MessageOutcome {
        var recipients = settledResults
        if endPending {
            for position in 0..<roundCount {
                let recipient = recipientIndex(atRoundPosition: position)
                if recipients[recipient].status == .notAttempted, !deferred.contains(recipient) {
                    recipients[recipient].status = .unknown
                }
            }
        }
        let (status, _) = Self.status(of: recipients)
        let safe = retryRound == nil && !endPending && recipients.allSatisfy { $0.status == .notAttempted }
        return MessageOutcome(status: status, recipients: recipients, dataReply: dataReply,
                              failure: status == .delivered ? nil : .cancelled(reason), isSafeToRetry: safe)
    }

    /// The outcome once the transaction is over; `sessionError` when the session ended under it.
    func outcome(sessionError: SMTPError? = nil) -> MessageOutcome {
        var recipients = settledResults
        if sessionError != nil, step == .ended, !finalReplyReceived, !sentEmptyData, roundFailure == nil {
            // The end of the data went out and its reply never came.
            for recipient in accepted where recipients[recipient].status == .notAttempted {
                recipients[recipient].status = .unknown
            }
        }
        let (status, delivered) = Self.status(of: recipients)
        var failure: TransactionFailure?
        if status != .delivered {
            // A later round in which none was accepted still leaves the earlier rounds' deliveries.
            let round = delivered > 0 && roundFailure == .noRecipientsAccepted ? nil : roundFailure
            failure = round ?? sessionError.map { .sessionEnded($0) }
                ?? (delivered > 0 ? .recipientsRefused : .noRecipientsAccepted)
        }
        // Safe to send again: nothing was decided for any recipient in any round, and either MAIL
        // was refused with a 4xx (no transaction exists, whatever was pipelined behind it) or the
        // session ended before any content went out.
        var safe = false
        if retryRound == nil, recipients.allSatisfy({ $0.status == .notAttempted }) {
            switch roundFailure {
            case .senderRefused(let reply)?: safe = reply.code.replyClass == 4
            case nil: safe = sessionError != nil && !contentSent
            default: safe = false
            }
        }
        return MessageOutcome(status: status, recipients: recipients, dataReply: dataReply, failure: failure,
                              isSafeToRetry: safe)
    }
}
