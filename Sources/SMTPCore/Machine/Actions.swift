/// Identifies one transaction (one message) within a session, in the order they were started.
public struct TransactionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The transaction's number: 1 for the session's first, counting up.
    public let rawValue: UInt64
    /// The identifier with this number.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Whether `lhs` was started before `rhs`.
    public static func < (lhs: TransactionID, rhs: TransactionID) -> Bool { lhs.rawValue < rhs.rawValue }
    /// "#" and the number.
    public var description: String { "#\(rawValue)" }
}

/// What the driver must do next. Returned by `SMTPMachine.nextAction()` until it says `.wait`.
public enum SMTPAction: Sendable {
    /// Output is pending: call `takeOutput(into:)` and write all of it before acting on any later
    /// action.
    case write
    /// Start the TLS handshake now, on the same connection. There are no unread plaintext bytes
    /// (the engine checked); report `tlsEstablished` or `tlsFailed`.
    case startTLS
    /// The engine wants the next chunk of this transaction's message content: call `sendBody` or
    /// `finishBody`. `fromStart` is true for the first chunk of each pass over the content (a
    /// second pass happens when recipients beyond the server's limit go in a new transaction).
    case sendBody(TransactionID, fromStart: Bool)
    /// A new transaction may start now (`startTransaction`), or the session may end (`quit`).
    case readyForTransaction
    /// Something happened that the caller may want to know.
    case event(SMTPEvent)
    /// Close the connection (after writing what `.write` handed out). The session is over.
    case close
    /// Nothing to do until an input: bytes, a deadline, TLS news, or a command from the caller.
    case wait
}

/// One line of the protocol conversation, for transcripts (AUTH payloads already redacted).
public enum TranscriptEntry: Hashable, Sendable {
    /// A command line the client sent, without CRLF.
    case command(String)
    /// A reply the server sent.
    case reply(SMTPReply)
    /// Message content of this many octets (wire form, dot-stuffing and terminator included).
    case data(byteCount: Int)
}

/// Why a transaction did not deliver to every recipient.
public enum TransactionFailure: Hashable, Sendable, CustomStringConvertible {
    /// MAIL FROM was refused.
    case senderRefused(SMTPReply)
    /// No RCPT was accepted.
    case noRecipientsAccepted
    /// Some recipients were refused (at RCPT, or by LMTP after the data); the others got it.
    case recipientsRefused
    /// DATA or a BDAT chunk was refused.
    case dataRefused(SMTPReply)
    /// The reply to the end of the data (final dot or BDAT LAST) was negative.
    case messageRefused(SMTPReply)
    /// The engine refused the transaction itself (bad input, missing extension, bad body).
    case local(SMTPError)
    /// The session ended under the transaction.
    case sessionEnded(SMTPError)
    /// The caller withdrew the message (`SMTPMachine.cancelTransaction`). The outcome says how
    /// far it got: `.notDelivered` when nothing that could deliver it reached the server,
    /// `.unknown` when its end of data had already gone out.
    case cancelled(CancelReason)

    /// A stable identifier for programs; a session that ended gives its error's code, a
    /// cancelled message its reason's ("cancelled", "deadline-exceeded").
    public var code: String {
        switch self {
        case .senderRefused: "sender-refused"
        case .noRecipientsAccepted: "no-recipients-accepted"
        case .recipientsRefused: "recipients-refused"
        case .dataRefused: "data-refused"
        case .messageRefused: "message-refused"
        case .local(let error), .sessionEnded(let error): error.code
        case .cancelled(let reason): reason.code
        }
    }

    /// The failure in words.
    public var description: String {
        switch self {
        case .senderRefused(let reply): "sender refused: \(reply)"
        case .noRecipientsAccepted: "all recipients were refused"
        case .recipientsRefused: "some recipients were refused"
        case .dataRefused(let reply): "message data refused: \(reply)"
        case .messageRefused(let reply): "message refused: \(reply)"
        case .local(let error): "\(error)"
        case .sessionEnded(let error): "\(error)"
        case .cancelled(let reason): "\(reason)"
        }
    }
}

/// What the engine reports as the session goes on.
public enum SMTPEvent: Sendable {
    /// The server's 220 greeting.
    case greeting(SMTPReply)
    /// What EHLO (or LHLO) returned; `.basic` after HELO. Sent again after STARTTLS.
    case capabilities(Capabilities)
    /// STARTTLS is about to be sent.
    case negotiatingTLS
    /// Opportunistic mode and the server does not offer STARTTLS: going on in plaintext.
    case continuingWithoutTLS
    /// The TLS handshake finished (STARTTLS or implicit).
    case tlsEstablished
    /// AUTH succeeded.
    case authenticated(mechanism: String)
    /// Greeting, EHLO, TLS and AUTH are done; transactions may follow.
    case sessionReady
    /// The reply to one RCPT (positive or negative). `index` is the recipient's position in the
    /// envelope.
    case recipient(TransactionID, index: Int, SMTPReply)
    /// The server took the message (the reply to the final dot or BDAT LAST).
    case messageAccepted(TransactionID, SMTPReply)
    /// The server refused the message at DATA, a BDAT chunk, or the end of the data.
    case messageRejected(TransactionID, SMTPReply)
    /// LMTP only: the per-recipient reply after the end of the data.
    case recipientDelivery(TransactionID, index: Int, SMTPReply)
    /// The transaction is over; exactly one per started transaction.
    case transactionFinished(TransactionID, MessageOutcome)
    /// A protocol line, when the configuration asks for transcripts.
    case transcript(TranscriptEntry)
    /// The session failed; `.close` follows (after QUIT when the protocol is still in step).
    case sessionFailed(SMTPError)
    /// QUIT was answered (or the server closed after QUIT): a clean end.
    case sessionClosed
}

/// A TLS failure as the driver reports it.
public enum TLSFailure: Hashable, Sendable {
    /// The handshake itself failed (protocol error, no common cipher, peer closed, plaintext
    /// answer on an implicit-TLS port).
    case handshake(String)
    /// The handshake completed but the certificate was not accepted (untrusted, expired, wrong
    /// name).
    case certificate(String)
}
