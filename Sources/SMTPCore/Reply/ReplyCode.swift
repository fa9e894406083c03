/// A three-digit SMTP reply code (RFC 5321 §4.2), already checked to be in range:
/// first digit 2-5, second 0-5, third 0-9.
///
/// The engine acts on codes, never on reply text; an unknown code is judged by its first digit.
public struct ReplyCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The code as a number.
    public let rawValue: UInt16

    /// Accepts only codes a server may send: 200-559 with a second digit of 0-5.
    public init?(rawValue: UInt16) {
        let first = rawValue / 100, second = (rawValue / 10) % 10
        guard (2...5).contains(first), second <= 5 else { return nil }
        self.rawValue = rawValue
    }

    init(unchecked rawValue: UInt16) { self.rawValue = rawValue }

    /// The reply class, the first digit.
    public var replyClass: Int { Int(rawValue / 100) }

    /// 2yz: the command succeeded.
    public var isPositiveCompletion: Bool { rawValue / 100 == 2 }
    /// 3yz: the server waits for more (354 after DATA, 334 in AUTH).
    public var isPositiveIntermediate: Bool { rawValue / 100 == 3 }
    /// 4yz: a temporary failure; the same command may work later.
    public var isTransientNegative: Bool { rawValue / 100 == 4 }
    /// 5yz: a permanent failure.
    public var isPermanentNegative: Bool { rawValue / 100 == 5 }
    /// 4yz or 5yz.
    public var isNegative: Bool { rawValue >= 400 }

    /// A 2yz that can complete an ordinary command (EHLO, MAIL, RCPT, RSET, the end of data).
    /// 220, 221 and 235 have their own meanings (ready, closing, authenticated) and answer only
    /// the greeting or STARTTLS, QUIT, and AUTH.
    var completesCommand: Bool {
        isPositiveCompletion && rawValue != 220 && rawValue != 221 && rawValue != 235
    }

    /// The three digits.
    public var description: String { String(rawValue) }

    /// 220: the greeting, and the go-ahead for STARTTLS.
    public static let serviceReady = ReplyCode(unchecked: 220)
    /// 221: the answer to QUIT.
    public static let closing = ReplyCode(unchecked: 221)
    /// 235: AUTH succeeded.
    public static let authenticationSucceeded = ReplyCode(unchecked: 235)
    /// 250: the command completed.
    public static let ok = ReplyCode(unchecked: 250)
    /// 334: an AUTH challenge.
    public static let authenticationChallenge = ReplyCode(unchecked: 334)
    /// 354: the answer to DATA; send the content.
    public static let startMailInput = ReplyCode(unchecked: 354)
    /// 421: the server is closing the channel.
    public static let serviceNotAvailable = ReplyCode(unchecked: 421)
    /// 452: insufficient storage, or too many recipients for this transaction.
    public static let insufficientStorage = ReplyCode(unchecked: 452)
    /// 552: exceeded storage allocation (the message is too large, or the mailbox is full).
    public static let exceededStorage = ReplyCode(unchecked: 552)
    /// 554: transaction failed (or, as a greeting, no SMTP service here).
    public static let transactionFailed = ReplyCode(unchecked: 554)
}
