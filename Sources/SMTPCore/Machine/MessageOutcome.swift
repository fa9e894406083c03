/// What happened to one recipient of one message. The engine decides it from the replies; the
/// layers around it only report it.
public struct RecipientOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The recipient's final state.
    public enum Status: Hashable, Sendable {
        /// The server took the message for this recipient.
        case delivered
        /// Refused: at RCPT, by the reply to the data, or (LMTP) by its own reply after the data.
        /// `reply` holds the refusal; a 4xx code is a temporary one.
        case refused
        /// The data went out but no reply about it came: the server may or may not have it.
        case unknown
        /// The session ended, or the caller withdrew the message, before the server said anything
        /// that decides this recipient (a 250 to its RCPT decides nothing without the data).
        case notAttempted
    }

    /// The recipient's position in the envelope.
    public let index: Int
    /// The recipient's address, as the envelope gave it.
    public let address: String
    /// What happened to it.
    public internal(set) var status: Status
    /// The reply that decided it: the RCPT refusal, the LMTP reply for this recipient, or the
    /// reply to the end of the data. Nil when no reply decided it.
    public internal(set) var reply: SMTPReply?

    /// An outcome with these values (the engine makes them; tests and drivers may too).
    public init(index: Int, address: String, status: Status, reply: SMTPReply?) {
        self.index = index
        self.address = address
        self.status = status
        self.reply = reply
    }

    /// Whether the server took the message for this recipient.
    public var isDelivered: Bool { status == .delivered }

    /// "address: status", with the deciding reply when there is one.
    public var description: String {
        "\(address): \(status)" + (reply.map { " (\($0))" } ?? "")
    }
}

/// How one message ended: one value per message, with every recipient's final word.
///
/// `status` follows from the recipients: `.delivered` when every one was, `.partiallyDelivered`
/// when some were, `.unknown` when the data went out and its reply never came, `.notDelivered`
/// otherwise. `failure` is nil exactly when `status` is `.delivered`.
public struct MessageOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The message's overall state, from its recipients'.
    public enum Status: Hashable, Sendable {
        /// Accepted for every recipient.
        case delivered
        /// Accepted for some recipients only.
        case partiallyDelivered
        /// Accepted for none.
        case notDelivered
        /// The end of the data was sent but no reply came (timeout or connection lost): the
        /// server may or may not have taken the message.
        case unknown
    }

    /// How the message ended overall.
    public let status: Status
    /// Every recipient of the envelope, in envelope order.
    public let recipients: [RecipientOutcome]
    /// The reply to the end of the data (the last one, when recipients went in several
    /// transactions). Its text usually holds the server's queue id.
    public let dataReply: SMTPReply?
    /// Why not every recipient got it; nil when all did.
    public let failure: TransactionFailure?
    /// Nothing of the message reached the server and nothing was decided about it (refused at
    /// MAIL with a 4xx, or the connection ended before that), or the caller withdrew it before
    /// its end of data went out and no reply had decided a recipient: sending it again, on
    /// another session, cannot deliver it twice.
    public let isSafeToRetry: Bool

    /// An outcome with these values (the engine makes them; tests and drivers may too).
    public init(status: Status, recipients: [RecipientOutcome], dataReply: SMTPReply?, failure: TransactionFailure?,
                isSafeToRetry: Bool) {
        self.status = status
        self.recipients = recipients
        self.dataReply = dataReply
        self.failure = failure
        self.isSafeToRetry = isSafeToRetry
    }

    /// How many recipients the envelope had.
    public var recipientCount: Int { recipients.count }
    /// How many of them got the message.
    public var deliveredCount: Int { recipients.reduce(0) { $0 + ($1.isDelivered ? 1 : 0) } }
    /// The recipients that did not get the message.
    public var undelivered: [RecipientOutcome] { recipients.filter { !$0.isDelivered } }

    /// The outcome of a message that never reached the engine's transaction machine (the session
    /// ended, or never began, while it waited): no recipient attempted, safe to send again unless
    /// the reason is the caller's own (`.local`).
    public static func notAttempted(_ envelope: Envelope, because failure: TransactionFailure) -> MessageOutcome {
        let safe: Bool = if case .local = failure { false } else { true }
        return MessageOutcome(status: .notDelivered,
                              recipients: envelope.recipients.enumerated().map {
                                  RecipientOutcome(index: $0.offset, address: $0.element.address, status: .notAttempted, reply: nil)
                              },
                              dataReply: nil, failure: failure, isSafeToRetry: safe)
    }

    /// The status, the delivered count, the failure and whether it is safe to retry, in one line.
    public var description: String {
        var text = "\(status) to \(deliveredCount) of \(recipientCount)"
        if let failure { text += " [\(failure)]" }
        if isSafeToRetry { text += " (safe to retry)" }
        return text
    }
}
