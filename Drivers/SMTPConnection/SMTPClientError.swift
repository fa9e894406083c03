import SMTPCore
import SMTPTLS

/// A caller's mistake, found before any I/O: the only thing the drivers throw.
///
/// The rule, the same in every driver: what the caller can fix without the network (options the
/// engine refuses, a TLS set-up that cannot load its files) is thrown at once, before a socket
/// opens. Everything that happens on the way to the server and with it (name resolution,
/// connecting, TLS, the server's replies, timeouts) is reported in each message's
/// `MessageOutcome`, as `failure`, in the same words from every driver.
public enum SMTPClientError: Error, Sendable, CustomStringConvertible {
    /// The engine refused the options (an EHLO name that is not a domain or address literal).
    case invalidOptions(SMTPError)
    /// Our TLS set-up failed (CA file, client certificate, key).
    case tlsSetup(TLSSetupError)

    /// The error in words.
    public var description: String {
        switch self {
        case .invalidOptions(let error): "\(error)"
        case .tlsSetup(let error): "TLS set-up failed: \(error)"
        }
    }
}
