/// A TLS set-up problem on our side (unreadable CA file, bad client key, a host that cannot be
/// verified), found before any byte is exchanged. `code` says which; `message` names the file (or
/// host) and the cause, with OpenSSL's reason where OpenSSL found it.
public struct TLSSetupError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// OpenSSL could not create or configure a context or session (out of memory, bad policy).
        case openSSL
        case caFileUnreadable
        case caFileNotPEM
        case caFileHasNoCertificates
        /// PEM, with certificate blocks, that OpenSSL still refuses.
        case caFileInvalid
        case systemTrustStore
        case clientCertificateUnreadable
        case clientCertificateInvalid
        case clientKeyUnreadable
        case clientKeyInvalid
        case clientKeyMismatch
        /// The name to verify cannot be checked as RFC 9525 says (an IPv4 short form, empty).
        case host
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
