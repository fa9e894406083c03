/// How the client verifies the server and presents itself. Shared by every driver.
public struct TLSConfiguration: Sendable, Hashable {
    /// PEM file of trusted CAs, used instead of the system store.
    public var caFile: String?
    /// Skip certificate and host-name verification. Only when the caller explicitly asks.
    public var insecure: Bool
    /// The name the certificate must match and that goes out as SNI; nil means the host the
    /// driver connects to.
    public var serverName: String?
    /// PEM certificate chain and private key to present, when the server asks for one.
    public var clientCertificateFile: String?
    /// The PEM private key for `clientCertificateFile`; nil reads it from that file too.
    public var clientKeyFile: String?
    /// Keep the sessions (tickets) servers give, and offer each to the same server on the next
    /// connection made with this context: an abbreviated handshake, no certificate to check
    /// again (it was checked when the session was made). Off: every connection does a full
    /// handshake.
    public var resumeSessions: Bool

    /// A configuration; the defaults verify against the system store, with no client certificate.
    public init(caFile: String? = nil, insecure: Bool = false, serverName: String? = nil,
                clientCertificateFile: String? = nil, clientKeyFile: String? = nil, resumeSessions: Bool = true) {
        self.caFile = caFile
        self.insecure = insecure
        self.serverName = serverName
        self.clientCertificateFile = clientCertificateFile
        self.clientKeyFile = clientKeyFile
        self.resumeSessions = resumeSessions
    }
}
