import SMTPCore
import SMTPTLS

/// Why a driver could not run a session at all, or why the session ended.
public enum SMTPClientError: Error, Sendable, CustomStringConvertible {
    /// The host name did not resolve.
    case resolution(String)
    /// No address accepted the connection (refused, unreachable, timed out).
    case connect(String)
    /// Our TLS set-up failed (CA file, client certificate).
    case tlsSetup(TLSSetupError)
    /// The session ended with this error (set-up refused, TLS failed, timeout, violation).
    case session(SMTPError)

    public var description: String {
        switch self {
        case .resolution(let why): why
        case .connect(let why): "cannot connect: \(why)"
        case .tlsSetup(let error): "TLS set-up failed: \(error)"
        case .session(let error): "\(error)"
        }
    }
}
