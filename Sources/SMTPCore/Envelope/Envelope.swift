/// How the message content is encoded, which decides BODY= on MAIL FROM (RFC 6152, RFC 3030).
public enum BodyType: Hashable, Sendable {
    /// US-ASCII lines; an 8-bit byte in the body is refused.
    case sevenBit
    /// 8-bit lines; needs 8BITMIME (sends BODY=8BITMIME).
    case eightBitMIME
    /// Arbitrary octets; needs BINARYMIME and CHUNKING (sends BODY=BINARYMIME, always via BDAT).
    case binaryMIME
}

/// When a delivery status notification is wanted for a recipient (RFC 3461 NOTIFY).
public enum DSNNotify: Hashable, Sendable {
    /// NOTIFY=NEVER: no notification at all.
    case never
    /// NOTIFY= with the conditions that are true (SUCCESS, FAILURE, DELAY).
    case on(success: Bool, failure: Bool, delay: Bool)
}

/// What a DSN should carry (RFC 3461 RET).
public enum DSNReturn: String, Hashable, Sendable {
    /// RET=FULL: the whole message.
    case full = "FULL"
    /// RET=HDRS: the header only.
    case headers = "HDRS"
}

/// One forward-path of an envelope, with its DSN parameters.
public struct Recipient: Hashable, Sendable, ExpressibleByStringLiteral {
    /// The mailbox, without angle brackets.
    public var address: String
    /// NOTIFY=, sent only when the server offers DSN (and required to be offered when set).
    public var notify: DSNNotify?
    /// ORCPT= original recipient (an RFC 822 address), xtext-encoded on the wire.
    public var originalRecipient: String?

    /// A recipient with this address and, optionally, DSN parameters.
    public init(_ address: String, notify: DSNNotify? = nil, originalRecipient: String? = nil) {
        self.address = address
        self.notify = notify
        self.originalRecipient = originalRecipient
    }

    /// A recipient written as a string literal: its address, with no DSN parameters.
    public init(stringLiteral value: String) { self.init(value) }
}

/// One message's envelope: who it is from, who it is for, and what the body needs.
///
/// The engine validates it when the transaction starts and refuses it, before MAIL is sent, when
/// an address is malformed or the server lacks an extension the message needs.
public struct Envelope: Hashable, Sendable {
    /// The reverse-path without angle brackets; "" is the null sender `<>`.
    public var sender: String
    /// The forward-paths, one RCPT each, in this order.
    public var recipients: [Recipient]
    /// How the content is encoded (BODY=).
    public var bodyType: BodyType
    /// The message itself (headers) holds UTF-8 (RFC 6532): SMTPUTF8 is needed even when the
    /// addresses are ASCII.
    public var requiresSMTPUTF8: Bool
    /// The message size in octets when known, sent as SIZE= and checked against the server's limit.
    public var size: Int?
    /// RET= for DSN.
    public var dsnReturn: DSNReturn?
    /// ENVID= for DSN, xtext-encoded on the wire.
    public var dsnEnvelopeID: String?

    /// An envelope; only the sender and the recipients are needed, the rest defaults to a 7-bit message of unknown size with no DSN request.
    public init(sender: String, recipients: [Recipient], bodyType: BodyType = .sevenBit,
                requiresSMTPUTF8: Bool = false, size: Int? = nil,
                dsnReturn: DSNReturn? = nil, dsnEnvelopeID: String? = nil) {
        self.sender = sender
        self.recipients = recipients
        self.bodyType = bodyType
        self.requiresSMTPUTF8 = requiresSMTPUTF8
        self.size = size
        self.dsnReturn = dsnReturn
        self.dsnEnvelopeID = dsnEnvelopeID
    }

    /// Whether any DSN parameter is requested.
    var requestsDSN: Bool {
        dsnReturn != nil || dsnEnvelopeID != nil
            || recipients.contains { $0.notify != nil || $0.originalRecipient != nil }
    }
}
