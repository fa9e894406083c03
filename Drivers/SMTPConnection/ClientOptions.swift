import SMTPCore
import SMTPTLS

/// Everything a driver needs to run sessions against one server.
public struct ClientOptions: Sendable {
    /// The server's host name or address (the name TLS verifies, unless `tls.serverName` says otherwise).
    public var host: String
    /// The server's TCP port.
    public var port: UInt16
    /// Connect to this Unix-domain socket instead of `host`:`port` (an LMTP server's socket).
    /// Both drivers support it.
    public var unixSocketPath: String?
    /// When the session uses TLS.
    public var tlsPolicy: TLSPolicy
    /// How TLS verifies the server and presents the client.
    public var tls: TLSConfiguration
    /// nil: this machine's FQDN, or an address literal of the local end of the connection.
    public var heloName: String?
    /// Credentials and mechanisms for AUTH; nil skips AUTH.
    public var authentication: AuthenticationOptions?
    /// SMTP or LMTP.
    public var dialect: Dialect
    /// Use PIPELINING when offered.
    public var usePipelining: Bool
    /// Use CHUNKING (BDAT) when offered.
    public var useChunking: Bool
    /// How long each phase may wait for the server.
    public var timeouts: Timeouts
    /// The engine's bounds on replies, AUTH rounds and pending output.
    public var limits: Limits
    /// Limit for connecting (each address tried).
    public var connectTimeout: Duration
    /// Ask the engine for transcript events.
    public var transcript: Bool
    /// Octets read from a message source per chunk.
    public var chunkSize: Int

    /// Options for one server; the defaults are opportunistic TLS verified against the system store, no AUTH, SMTP, pipelining and chunking when offered, RFC 5321 timeouts, and a 30 s connect limit.
    public init(host: String, port: UInt16, tlsPolicy: TLSPolicy = .opportunistic, tls: TLSConfiguration = TLSConfiguration(),
                heloName: String? = nil, authentication: AuthenticationOptions? = nil, dialect: Dialect = .smtp,
                usePipelining: Bool = true, useChunking: Bool = true, timeouts: Timeouts = Timeouts(), limits: Limits = Limits(),
                connectTimeout: Duration = .seconds(30), transcript: Bool = false, chunkSize: Int = 64 * 1024) {
        self.host = host
        self.port = port
        self.tlsPolicy = tlsPolicy
        self.tls = tls
        self.heloName = heloName
        self.authentication = authentication
        self.dialect = dialect
        self.usePipelining = usePipelining
        self.useChunking = useChunking
        self.timeouts = timeouts
        self.limits = limits
        self.connectTimeout = connectTimeout
        self.transcript = transcript
        self.chunkSize = chunkSize
    }

    /// The engine configuration for one session, once the EHLO name is known.
    public func engineConfiguration(heloName: String) -> SMTPConfiguration {
        SMTPConfiguration(heloName: heloName, tls: tlsPolicy, authentication: authentication, dialect: dialect,
                          usePipelining: usePipelining, useChunking: useChunking, timeouts: timeouts, limits: limits,
                          emitsTranscript: transcript)
    }

    /// Whether the policy may need a TLS context at all.
    public var mayUseTLS: Bool { tlsPolicy != .off }

    /// Checks what can be checked before any I/O (the EHLO name).
    public func validate() throws(SMTPClientError) {
        if let heloName, !MailboxSyntax.isValidHeloName(heloName) {
            throw .invalidOptions(.invalidHeloName(heloName))
        }
    }

    /// The TLS context the policy needs (nil with TLS off); its files are loaded now.
    public func makeTLSContext() throws(SMTPClientError) -> TLSClientContext? {
        guard mayUseTLS else { return nil }
        do { return try TLSClientContext(configuration: tls) } catch { throw .tlsSetup(error) }
    }
}
