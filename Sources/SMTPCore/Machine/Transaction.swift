/// One message's progress through MAIL, RCPT, DATA or BDAT, and the end of the data.
///
/// A transaction is sent in rounds. The first round carries every recipient; when the server
/// answers RCPT with 452 ("too many recipients", RFC 5321 §4.5.3.1.10) after accepting some,
/// those recipients go in a further round, a new MAIL transaction over the same content, once the
/// current round has delivered. The session machine owns the wire; this type keeps the counts
/// and decides what each reply means for the message.
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
    /// Replies still owed to this transaction's commands.
    var outstanding = 0

    // Per round.
    var mailAccepted = false
    var acceptedInRound = 0
    /// LMTP maps each post-data reply to an accepted recipient, in RCPT order.
    var acceptedIndices: [Int] = []
    var lmtpRepliesLeft = 0
    var roundFailure: TransactionFailure?
    /// The final reply (dot or BDAT LAST) arrived, so the server holds no transaction state.
    var finalReplyReceived = false
    /// DATA got 354 with nothing to send: the terminator went alone.
    var sentEmptyData = false
    /// Body bytes written for the current round (wire form).
    var wireBytes = 0
    /// Recipients deferred by 452 in this round, and the reply that deferred them.
    var deferred: [Int] = []
    var deferralReply: SMTPReply?

    // Whole transaction.
    var delivered = 0
    var lastFailure: TransactionFailure?

    init(id: TransactionID, envelope: Envelope, usesChunking: Bool, needsSMTPUTF8: Bool, lmtp: Bool) {
        self.id = id
        self.envelope = envelope
        self.usesChunking = usesChunking
        self.needsSMTPUTF8 = needsSMTPUTF8
        self.lmtp = lmtp
        self.encoder = Transaction.makeEncoder(envelope: envelope, usesChunking: usesChunking)
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

    /// All replies for the round are in and nothing more will be sent for it.
    var isRoundResolved: Bool {
        outstanding == 0 && (step == .ended || roundFailure != nil)
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

    /// Marks the round failed, keeping the first reason.
    mutating func failRound(_ failure: TransactionFailure) {
        if roundFailure == nil { roundFailure = failure }
    }

    /// Starts the retry round for deferred recipients, if the current round delivered.
    /// Returns false when there is nothing (more) to retry.
    mutating func startRetryRoundIfUseful() -> Bool {
        guard !deferred.isEmpty, roundFailure == nil, acceptedInRound > 0, finalReplyReceived else { return false }
        retryRound = deferred
        deferred = []
        deferralReply = nil
        step = .mail
        recipientsSent = 0
        mailAccepted = false
        acceptedInRound = 0
        acceptedIndices = []
        lmtpRepliesLeft = 0
        finalReplyReceived = false
        sentEmptyData = false
        wireBytes = 0
        encoder = Transaction.makeEncoder(envelope: envelope, usesChunking: usesChunking)
        return true
    }

    /// The outcome once the transaction is over; `sessionError` when the session ended under it.
    func outcome(sessionError: SMTPError? = nil) -> TransactionOutcome {
        let total = envelope.recipients.count
        var failure = roundFailure ?? lastFailure
        var status: TransactionOutcome.Status
        if let sessionError, failure == nil { failure = .sessionEnded(sessionError) }
        if sessionError != nil, step == .ended, !finalReplyReceived, !sentEmptyData, roundFailure == nil {
            status = .unknown
        } else if delivered == total {
            status = .delivered
            failure = nil
        } else if delivered > 0 {
            status = .partiallyDelivered
        } else {
            status = .notDelivered
        }
        if delivered == 0, status == .notDelivered, failure == nil { failure = .noRecipientsAccepted }
        return TransactionOutcome(status: status, recipientCount: total, deliveredCount: delivered, failure: failure)
    }
}
