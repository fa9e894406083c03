import SMTPCore

/// One message to send: its envelope and where its content comes from.
public struct OutgoingMessage {
    public var envelope: Envelope
    public var body: any MessageBodySource

    public init(envelope: Envelope, body: any MessageBodySource) {
        self.envelope = envelope
        self.body = body
        if self.envelope.size == nil { self.envelope.size = body.knownSize }
    }

    public init(from sender: String, to recipients: [String], content: [UInt8], bodyType: BodyType = .sevenBit) {
        self.init(envelope: Envelope(sender: sender, recipients: recipients.map { Recipient($0) }, bodyType: bodyType),
                  body: BytesBody(content))
    }
}

/// What happened to one recipient of one message.
public struct RecipientReport: Hashable, Sendable {
    public var address: String
    /// The server took the message for this recipient.
    public var delivered: Bool
    /// The reply that decided it (RCPT refusal, the final reply, or the LMTP delivery reply);
    /// nil when the session ended before any reply about this recipient.
    public var reply: SMTPReply?

    public init(address: String, delivered: Bool, reply: SMTPReply?) {
        self.address = address
        self.delivered = delivered
        self.reply = reply
    }
}

/// How one message went.
public struct DeliveryReport: Sendable {
    public var status: TransactionOutcome.Status
    public var recipients: [RecipientReport]
    /// The reply to the end of the data, when there was one.
    public var finalReply: SMTPReply?
    /// Why not every recipient got it; nil when all did.
    public var failure: TransactionFailure?

    public var deliveredCount: Int { recipients.filter(\.delivered).count }
    public var refused: [RecipientReport] { recipients.filter { !$0.delivered } }

    public init(status: TransactionOutcome.Status, recipients: [RecipientReport], finalReply: SMTPReply?, failure: TransactionFailure?) {
        self.status = status
        self.recipients = recipients
        self.finalReply = finalReply
        self.failure = failure
    }

    /// The report for a message that never reached the server's data phase.
    public static func notSent(_ envelope: Envelope, because failure: TransactionFailure) -> DeliveryReport {
        DeliveryReport(status: .notDelivered,
                       recipients: envelope.recipients.map { RecipientReport(address: $0.address, delivered: false, reply: nil) },
                       finalReply: nil, failure: failure)
    }
}
