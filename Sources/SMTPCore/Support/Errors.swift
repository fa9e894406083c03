/// The phase of a session, as timeouts and connection losses report it.
public enum SMTPPhase: String, Hashable, Sendable, CustomStringConvertible {
    /// Opening the connection, before the greeting could arrive.
    case connect
    /// The TLS handshake (after STARTTLS, or first in implicit-TLS mode).
    case tlsHandshake = "TLS handshake"
    /// Waiting for the server's 220 greeting.
    case greeting
    /// EHLO, HELO or LHLO and its reply.
    case hello = "EHLO/HELO"
    /// The STARTTLS command and its reply.
    case startTLS = "STARTTLS"
    /// The AUTH exchange.
    case authentication = "AUTH"
    /// MAIL FROM and its reply.
    case mail = "MAIL"
    /// RCPT TO and its reply.
    case recipient = "RCPT"
    /// DATA and its 354.
    case dataInitiation = "DATA"
    /// The message content, while it is sent (a DATA block or a BDAT chunk).
    case dataBlock = "message data"
    /// The reply to the end of the data: the final dot, or the last BDAT.
    case dataTermination = "end of data"
    /// RSET and its reply.
    case reset = "RSET"
    /// QUIT and its reply.
    case quit = "QUIT"
    /// Between transactions, with no command outstanding.
    case idle
    /// Bytes nobody asked for, between transactions: the rest of that reply is awaited (to fail
    /// the session as unsolicited) for the command timeout, from its first byte.
    case unsolicitedReply = "the end of an unsolicited reply"

    /// The phase's name, as error messages print it ("RCPT", "TLS handshake").
    public var description: String { rawValue }
}

/// An SMTP service extension the engine may need for a transaction.
public enum SMTPExtension: String, Hashable, Sendable, CustomStringConvertible {
    /// ESMTP itself, which EHLO opens: a server that answered only HELO offers no extension.
    case esmtp = "ESMTP (EHLO)"
    /// SIZE (RFC 1870), the message size declaration.
    case size = "SIZE"
    /// 8BITMIME (RFC 6152), for a body of 8-bit text.
    case eightBitMIME = "8BITMIME"
    /// BINARYMIME (RFC 3030), for a binary body.
    case binaryMIME = "BINARYMIME"
    /// CHUNKING (RFC 3030): BDAT, which a binary body needs.
    case chunking = "CHUNKING"
    /// SMTPUTF8 (RFC 6531), for addresses with non-ASCII characters.
    case smtpUTF8 = "SMTPUTF8"
    /// DSN (RFC 3461), for NOTIFY, ORCPT, RET and ENVID.
    case dsn = "DSN"

    /// The extension's keyword, as error messages print it.
    public var description: String { rawValue }
}

/// Ways a server's bytes can break the protocol. Each one ends the session.
public enum SMTPProtocolViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// A reply line that does not start with three digits and a separator.
    case malformedLine
    /// A code outside 2yz-5yz, or with a second digit above 5.
    case invalidCode(UInt16)
    /// A multi-line reply whose lines carry different codes.
    case inconsistentCode(first: UInt16, later: UInt16)
    /// A line ended by LF alone.
    case bareLineFeed
    /// A CR not followed by LF.
    case bareCarriageReturn
    /// A reply line longer than the limit (`ReplyParser.Limits.maxLineLength`).
    case lineTooLong(limit: Int)
    /// A multi-line reply with more lines than the limit.
    case tooManyLines(limit: Int)
    /// A reply larger in total than the limit, in octets.
    case replyTooLarge(limit: Int)
    /// A reply when no command was waiting for one.
    case unsolicitedReply(ReplyCode)
    /// A reply code that makes no sense for the command it answers (354 to MAIL, 334 to RCPT, 221 to EHLO).
    case unexpectedReply(ReplyCode, phase: SMTPPhase)
    /// Bytes that followed the 220 to STARTTLS before TLS began, in the same read or a later
    /// one: a response-injection attempt.
    case bytesAfterSTARTTLS
    /// Plaintext bytes while the TLS handshake was supposed to run.
    case bytesDuringTLSHandshake

    /// The violation in words, for logs and error messages.
    public var description: String {
        switch self {
        case .malformedLine: "malformed reply line"
        case .invalidCode(let code): "invalid reply code \(code)"
        case .inconsistentCode(let first, let later): "multi-line reply changed its code from \(first) to \(later)"
        case .bareLineFeed: "reply line ended by a bare LF"
        case .bareCarriageReturn: "bare CR inside a reply line"
        case .lineTooLong(let limit): "reply line longer than \(limit) bytes"
        case .tooManyLines(let limit): "reply with more than \(limit) lines"
        case .replyTooLarge(let limit): "reply larger than \(limit) bytes"
        case .unsolicitedReply(let code): "unsolicited reply \(code) when no command was pending"
        case .unexpectedReply(let code, let phase): "unexpected reply \(code) to \(phase)"
        case .bytesAfterSTARTTLS: "bytes received after the 220 to STARTTLS, before TLS (response injection)"
        case .bytesDuringTLSHandshake: "plaintext bytes received during the TLS handshake"
        }
    }
}

/// Why an address, or a name the client sends, was refused before anything was sent.
public enum AddressProblem: Error, Hashable, Sendable, CustomStringConvertible {
    /// The address is empty (the null reverse-path is not an address).
    case empty
    /// CR, LF, NUL, another control character, a space or an angle bracket.
    case forbiddenCharacter(UInt8)
    /// No "@domain" part.
    case missingAtSign
    /// The part before the "@" is neither a dot-string nor a quoted string (RFC 5321 §4.1.2).
    case invalidLocalPart
    /// The part after the "@" is neither a domain name nor an address literal.
    case invalidDomain
    /// A local part longer than 64 octets.
    case localPartTooLong
    /// A domain longer than 255 octets.
    case domainTooLong
    /// An address longer than 254 octets in all.
    case pathTooLong

    /// The problem in words ("contains CR", "no @domain").
    public var description: String {
        switch self {
        case .empty: "empty address"
        case .forbiddenCharacter(let byte):
            switch byte {
            case 13: "contains CR"
            case 10: "contains LF"
            case 0: "contains NUL"
            case UInt8(ascii: "<"), UInt8(ascii: ">"): "contains an angle bracket"
            case UInt8(ascii: " "): "contains a space"
            default: "contains the control character 0x\(String(byte, radix: 16, uppercase: true))"
            }
        case .missingAtSign: "no @domain"
        case .invalidLocalPart: "malformed local part"
        case .invalidDomain: "malformed domain"
        case .localPartTooLong: "local part longer than 64 octets"
        case .domainTooLong: "domain longer than 255 octets"
        case .pathTooLong: "address longer than 254 octets"
        }
    }
}

/// Why message data was refused while it streamed. DATA cannot be aborted, so the engine closes
/// the connection rather than send a truncated message.
public enum BodyProblem: Error, Hashable, Sendable, CustomStringConvertible {
    /// A NUL byte, which no SMTP body may carry.
    case nulByte
    /// A line longer than the limit (998 octets unless configured), which DATA and 8BITMIME forbid.
    case lineTooLong(limit: Int)
    /// A byte above 127 in a body declared 7-bit.
    case eightBitData
    /// The caller's content source failed, for this reason.
    case sourceFailed(String)
    /// The content grew past the SIZE= it was announced with.
    case largerThanDeclared(size: Int)

    /// The problem in words.
    public var description: String {
        switch self {
        case .nulByte: "message contains a NUL byte"
        case .lineTooLong(let limit): "message has a line longer than \(limit) octets"
        case .eightBitData: "message contains 8-bit data but was declared 7-bit"
        case .sourceFailed(let why): "message content failed: \(why)"
        case .largerThanDeclared(let size): "message is larger than the \(size) octets announced with SIZE="
        }
    }
}

/// Why the engine stopped an AUTH exchange itself.
public enum AuthAbortReason: Hashable, Sendable, CustomStringConvertible {
    /// The server sent more challenges than `Limits.maxAuthRounds` allows.
    case tooManyChallenges(limit: Int)
    /// A 334 challenge that is not valid base64.
    case invalidChallenge
    /// The mechanism itself gave up, for this reason (a bad server signature, say).
    case mechanismFailed(String)

    /// The reason in words.
    public var description: String {
        switch self {
        case .tooManyChallenges(let limit): "more than \(limit) AUTH challenges"
        case .invalidChallenge: "AUTH challenge is not valid base64"
        case .mechanismFailed(let why): why
        }
    }
}

/// Everything that can end a session or a transaction other than a plain negative reply.
///
/// Server violations, refusals of the session's set-up, timeouts and lost connections are all
/// here, typed, so a caller can tell "TLS was not offered" from "the certificate was bad" from
/// "the server refused EHLO after STARTTLS". A 550 to RCPT is not an error: it is an event.
public enum SMTPError: Error, Hashable, Sendable, CustomStringConvertible {
    // Caller input, refused before anything was sent.
    /// An address the caller gave is malformed or unsafe to send; nothing was sent.
    case invalidAddress(String, AddressProblem)
    /// The name for EHLO/HELO is not a domain name or an address literal of at most 255 octets.
    case invalidHeloName(String)
    /// A MAIL or RCPT parameter (ORCPT, ENVID, SIZE) has a value that cannot be sent.
    case invalidParameter(String)
    /// An envelope without recipients.
    case noRecipients
    /// The message needs an extension the server did not offer; refused before MAIL.
    case extensionRequired(SMTPExtension)
    /// The message is larger than the server's SIZE limit; refused before MAIL.
    case messageTooLarge(size: Int, limit: Int)
    /// The content was refused while it streamed.
    case invalidBody(BodyProblem)
    /// A method called at a time the call-order contract does not allow.
    case misuse(String)

    // The server broke the protocol.
    /// The server's bytes broke the protocol.
    case protocolViolation(SMTPProtocolViolation)

    // The server refused to set up the session.
    /// The greeting was a 4xx or 5xx other than 421 (554, "no SMTP service here").
    case greetingRefused(SMTPReply)
    /// A 421 to any command but QUIT, or unsolicited: the server is closing the channel.
    case serviceNotAvailable(SMTPReply)
    /// EHLO (or LHLO) refused where HELO cannot follow: under required TLS, or in LMTP.
    case ehloRefused(SMTPReply)
    /// HELO, the fallback after a refused EHLO, refused too.
    case heloRefused(SMTPReply)
    /// EHLO refused once TLS was up.
    case ehloRefusedAfterTLS(SMTPReply)
    /// RSET after a failed transaction refused.
    case resetRefused(SMTPReply)

    // TLS.
    /// TLS is required, and the server does not offer STARTTLS.
    case tlsNotOffered
    /// The server offered STARTTLS, then refused it.
    case startTLSRefused(SMTPReply)
    /// The TLS handshake failed, for this reason.
    case tlsHandshakeFailed(String)
    /// The server's certificate was not accepted, for this reason (expired, wrong name, untrusted).
    case certificateRejected(String)

    // AUTH.
    /// Credentials would go out without TLS, and `AuthenticationOptions.allowWithoutTLS` is not set.
    case authenticationRequiresTLS
    /// Authentication is configured, and the server does not offer AUTH.
    case authenticationNotOffered
    /// None of the configured mechanisms is among those the server offers (listed).
    case noCommonAuthenticationMechanism(offered: [String])
    /// The server refused the credentials.
    case authenticationFailed(SMTPReply)
    /// The engine ended the AUTH exchange itself ("*"), for this reason.
    case authenticationAborted(AuthAbortReason)

    // Time and the connection.
    /// The phase's deadline passed without the reply (see `Timeouts`).
    case timeout(SMTPPhase)
    /// The server closed the connection during this phase.
    case connectionClosed(SMTPPhase)
    /// The transport failed (could not connect, reset, a TLS record error) during this phase.
    case transportFailed(TransportFailure, SMTPPhase)
    /// The caller cancelled the session (`SMTPMachine.cancel(at:)`).
    case cancelled
    /// The caller cancelled a message whose data could not be stopped any other way (its
    /// content was streaming after DATA, or its end of data had gone out): the connection was
    /// dropped, and the session ended with it.
    case messageCancelled(CancelReason)

    /// The error in words, for people; `code` is the stable identifier for programs.
    public var description: String {
        switch self {
        case .invalidAddress(let address, let problem):
            "invalid address \"\(SMTPReply.printable(address))\": \(problem)"
        case .invalidHeloName(let name): "invalid EHLO/HELO name \"\(SMTPReply.printable(name))\""
        case .invalidParameter(let why): "invalid parameter: \(why)"
        case .noRecipients: "no recipients"
        case .extensionRequired(let ext): "the message needs \(ext), which the server does not offer"
        case .messageTooLarge(let size, let limit): "message of \(size) bytes exceeds the server's SIZE limit of \(limit)"
        case .invalidBody(let problem): "\(problem)"
        case .misuse(let what): "engine misuse: \(what)"
        case .protocolViolation(let violation): "protocol violation: \(violation)"
        case .greetingRefused(let reply): "server refused the connection: \(reply)"
        case .serviceNotAvailable(let reply): "service not available: \(reply)"
        case .ehloRefused(let reply): "server refused EHLO: \(reply)"
        case .heloRefused(let reply): "server refused HELO: \(reply)"
        case .ehloRefusedAfterTLS(let reply): "server refused EHLO after STARTTLS: \(reply)"
        case .resetRefused(let reply): "server refused RSET: \(reply)"
        case .tlsNotOffered: "server does not offer STARTTLS and TLS is required"
        case .startTLSRefused(let reply): "server refused STARTTLS: \(reply)"
        case .tlsHandshakeFailed(let why): "TLS handshake failed: \(why)"
        case .certificateRejected(let why): "server certificate not accepted: \(why)"
        case .authenticationRequiresTLS: "refusing to authenticate over a connection without TLS"
        case .authenticationNotOffered: "server does not offer AUTH"
        case .noCommonAuthenticationMechanism(let offered):
            "no usable AUTH mechanism (server offers: \(offered.isEmpty ? "none" : offered.joined(separator: " ")))"
        case .authenticationFailed(let reply): "authentication failed: \(reply)"
        case .authenticationAborted(let reason): "authentication aborted: \(reason)"
        case .timeout(let phase): "timed out waiting for \(phase)"
        case .connectionClosed(let phase): "connection closed by server during \(phase)"
        case .transportFailed(let failure, let phase):
            switch failure {
            case .resolution, .connect: "\(failure)"
            case .closedByPeer: "connection closed by server during \(phase)"
            case .reset, .io, .tls: "\(failure) during \(phase)"
            }
        case .cancelled: "cancelled"
        case .messageCancelled(let reason): "connection dropped: a message was withdrawn (\(reason))"
        }
    }
}

extension SMTPError {
    /// The session's error when its connection could not be made at all (before the engine saw
    /// a byte), so every driver reports it the same way.
    public static func couldNotConnect(_ failure: TransportFailure) -> SMTPError {
        .transportFailed(failure, .connect)
    }
}

extension SMTPError {
    /// A stable identifier for the kind of error, for programs (logs, metrics, retry rules): it
    /// does not change when the words do. TLS failures carry theirs too ("tls-handshake-failed",
    /// "tls-certificate-rejected"), and a transport failure says which one ("transport-reset").
    public var code: String {
        switch self {
        case .invalidAddress: "invalid-address"
        case .invalidHeloName: "invalid-helo-name"
        case .invalidParameter: "invalid-parameter"
        case .noRecipients: "no-recipients"
        case .extensionRequired: "extension-required"
        case .messageTooLarge: "message-too-large"
        case .invalidBody: "invalid-body"
        case .misuse: "misuse"
        case .protocolViolation: "protocol-violation"
        case .greetingRefused: "greeting-refused"
        case .serviceNotAvailable: "service-not-available"
        case .ehloRefused: "ehlo-refused"
        case .heloRefused: "helo-refused"
        case .ehloRefusedAfterTLS: "ehlo-refused-after-tls"
        case .resetRefused: "reset-refused"
        case .tlsNotOffered: "tls-not-offered"
        case .startTLSRefused: "starttls-refused"
        case .tlsHandshakeFailed: "tls-handshake-failed"
        case .certificateRejected: "tls-certificate-rejected"
        case .authenticationRequiresTLS: "auth-requires-tls"
        case .authenticationNotOffered: "auth-not-offered"
        case .noCommonAuthenticationMechanism: "auth-no-common-mechanism"
        case .authenticationFailed: "auth-failed"
        case .authenticationAborted: "auth-aborted"
        case .timeout: "timeout"
        case .connectionClosed: "connection-closed"
        case .transportFailed(let failure, _):
            switch failure {
            case .resolution: "transport-resolution"
            case .connect(_, .refused): "transport-connect-refused"
            case .connect(_, .timedOut): "transport-connect-timed-out"
            case .connect: "transport-connect-failed"
            case .closedByPeer: "connection-closed"
            case .reset: "transport-reset"
            case .io: "transport-io"
            case .tls: "transport-tls"
            }
        case .cancelled: "cancelled"
        case .messageCancelled: "message-cancelled"
        }
    }

    /// The server's reply behind the error, when a reply caused it.
    public var reply: SMTPReply? {
        switch self {
        case .greetingRefused(let reply), .serviceNotAvailable(let reply), .ehloRefused(let reply), .heloRefused(let reply),
             .ehloRefusedAfterTLS(let reply), .resetRefused(let reply), .startTLSRefused(let reply),
             .authenticationFailed(let reply):
            reply
        case .invalidAddress, .invalidHeloName, .invalidParameter, .noRecipients, .extensionRequired, .messageTooLarge,
             .invalidBody, .misuse, .protocolViolation, .tlsNotOffered, .tlsHandshakeFailed, .certificateRejected,
             .authenticationRequiresTLS, .authenticationNotOffered, .noCommonAuthenticationMechanism, .authenticationAborted,
             .timeout, .connectionClosed, .transportFailed, .cancelled, .messageCancelled:
            nil
        }
    }
}
