import SMTPCore

/// One message to send: its envelope and its content. A `Sendable` value: it can be sent any
/// number of times, on any session or driver, and each send reads the content afresh.
public struct OutgoingMessage: Sendable {
    /// The sender, the recipients and what the body needs.
    public var envelope: Envelope
    /// Where the octets come from, read afresh at every send.
    public var content: any MessageContent

    /// When the envelope has no size, the content's (normalized) size becomes SIZE=.
    public init(envelope: Envelope, content: any MessageContent) {
        self.envelope = envelope
        self.content = content
        if self.envelope.size == nil { self.envelope.size = content.size }
    }

    /// A message held in memory.
    public init(from sender: String, to recipients: [String], content: [UInt8], bodyType: BodyType = .sevenBit) {
        self.init(envelope: Envelope(sender: sender, recipients: recipients.map { Recipient($0) }, bodyType: bodyType),
                  content: BytesContent(content))
    }
}
