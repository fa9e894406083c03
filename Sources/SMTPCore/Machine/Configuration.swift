/// How the session uses TLS. The policy lives in the engine; the driver only runs handshakes
/// when asked.
public enum TLSPolicy: Hashable, Sendable {
    /// STARTTLS when the server offers it; plaintext when it does not. Once offered, a refusal or
    /// a failed handshake ends the session: there is no fallback to plaintext.
    case opportunistic
    /// STARTTLS or nothing: a server that does not offer it, or refuses it, ends the session
    /// before anything else is sent, and HELO is never used.
    case required
    /// TLS from the first byte (RFC 8314, port 465): the driver handshakes before the greeting.
    case implicit
    /// Never STARTTLS.
    case off
}

/// SMTP, or LMTP (RFC 2033: LHLO, one reply per accepted recipient after the data).
public enum Dialect: Hashable, Sendable {
    /// SMTP (RFC 5321): EHLO, with HELO as a fallback.
    case smtp
    /// LMTP (RFC 2033): LHLO, and one reply per accepted recipient after the data.
    case lmtp
}

/// Per-phase limits on waiting for the server (RFC 5321 §4.5.3.2 values by default).
public struct Timeouts: Hashable, Sendable {
    /// The greeting (RFC: 5 minutes).
    public var greeting: Duration = .seconds(300)
    /// A TLS handshake, STARTTLS or implicit.
    public var tlsHandshake: Duration = .seconds(120)
    /// EHLO/HELO/LHLO, STARTTLS and AUTH replies.
    public var command: Duration = .seconds(300)
    /// MAIL (RFC: 5 minutes).
    public var mail: Duration = .seconds(300)
    /// RCPT (RFC: 5 minutes).
    public var recipient: Duration = .seconds(300)
    /// The 354 to DATA (RFC: 2 minutes).
    public var dataInitiation: Duration = .seconds(120)
    /// Each block of message data, and each BDAT chunk's reply (RFC: 3 minutes).
    public var dataBlock: Duration = .seconds(180)
    /// The reply to the final dot or BDAT LAST (RFC: 10 minutes). A timeout here leaves the
    /// delivery unknown.
    public var dataTermination: Duration = .seconds(600)
    /// RSET.
    public var reset: Duration = .seconds(300)
    /// QUIT. Nothing is at stake any more, so this is short.
    public var quit: Duration = .seconds(30)

    /// The RFC 5321 §4.5.3.2 values above.
    public init() {}

    /// One limit for every wait (the command-line `--timeout`).
    public init(all limit: Duration) {
        greeting = limit
        tlsHandshake = limit
        command = limit
        mail = limit
        recipient = limit
        dataInitiation = limit
        dataBlock = limit
        dataTermination = limit
        reset = limit
        quit = limit
    }
}

/// Bounds that keep the engine's memory and effort fixed whatever the server does.
public struct Limits: Hashable, Sendable {
    /// Reply framing limits (line length, lines per reply, reply size).
    public var reply = ReplyParser.Limits()
    /// AUTH challenges answered before the engine cancels the exchange.
    public var maxAuthRounds = 10
    /// Pending output above which the engine asks the driver to write before taking more body.
    public var outputHighWater = 64 * 1024

    /// The default limits above.
    public init() {}
}

/// Everything the engine needs to run one session.
public struct SMTPConfiguration: Sendable {
    /// The EHLO/HELO argument: this host's domain name or an address literal like "[192.0.2.1]".
    public var heloName: String
    /// When the session uses TLS.
    public var tls: TLSPolicy
    /// Credentials and mechanisms; nil skips AUTH.
    public var authentication: AuthenticationOptions?
    /// SMTP or LMTP.
    public var dialect: Dialect
    /// Use PIPELINING when offered.
    public var usePipelining: Bool
    /// Use CHUNKING (BDAT) when offered.
    public var useChunking: Bool
    /// How long each phase may wait for the server.
    public var timeouts: Timeouts
    /// Bounds on replies, AUTH rounds and pending output.
    public var limits: Limits
    /// Emit `.transcript` events for every command and reply (AUTH payloads redacted).
    public var emitsTranscript: Bool

    /// A configuration; only the EHLO name is needed. `SMTPMachine.init(configuration:)` checks it.
    public init(heloName: String, tls: TLSPolicy = .opportunistic, authentication: AuthenticationOptions? = nil,
                dialect: Dialect = .smtp, usePipelining: Bool = true, useChunking: Bool = true,
                timeouts: Timeouts = Timeouts(), limits: Limits = Limits(), emitsTranscript: Bool = false) {
        self.heloName = heloName
        self.tls = tls
        self.authentication = authentication
        self.dialect = dialect
        self.usePipelining = usePipelining
        self.useChunking = useChunking
        self.timeouts = timeouts
        self.limits = limits
        self.emitsTranscript = emitsTranscript
    }
}
