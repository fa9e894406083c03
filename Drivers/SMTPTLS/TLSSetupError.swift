/// A TLS set-up problem on our side (unreadable CA file, bad client key, a host that cannot be
/// verified), found before any byte is exchanged. `code` says which; `message` names the file (or
/// host) and the cause, with OpenSSL's reason where OpenSSL found it.
public struct TLSSetupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of set-up problem it is, for programs; the message has the details.
    public enum Code: Hashable, Sendable {
        /// OpenSSL could not create or configure a context or session (out of memory, bad policy).
        case openSSL
        /// The CA file cannot be read (missing, a directory, no permission).
        case caFileUnreadable
        /// The CA file has no "-----BEGIN" line.
        case caFileNotPEM
        /// The CA file is PEM but holds no certificate block.
        case caFileHasNoCertificates
        /// PEM, with certificate blocks, that OpenSSL still refuses.
        case caFileInvalid
        /// The system trust store cannot be loaded.
        case systemTrustStore
        /// The client certificate file cannot be read.
        case clientCertificateUnreadable
        /// The client certificate file is not a PEM certificate OpenSSL accepts.
        case clientCertificateInvalid
        /// The client key file cannot be read.
        case clientKeyUnreadable
        /// The client key file is not a usable PEM private key (encrypted, or no key in it).
        case clientKeyInvalid
        /// The client key does not belong to the client certificate.
        case clientKeyMismatch
        /// The name to verify cannot be checked as RFC 9525 says (an IPv4 short form, empty).
        case host
    }

    /// Which problem it is.
    public var code: Code
    /// The problem in words, naming the file or host and the cause.
    public var message: String

    /// An error of this kind, with these words.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
