import Glibc
import SMTPCore

/// The system's errors in the words every driver uses, so one failure reads the same whichever
/// driver met it (libuv's status codes are negated errno values on Linux).
package enum SystemError {
    /// "connection refused", "timed out", ...: strerror, lower-cased.
    package static func words(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        guard let first = text.first else { return "error \(code)" }
        return first.lowercased() + text.dropFirst()
    }

    /// Why a connect attempt failed.
    package static func connectReason(_ code: Int32) -> ConnectFailureReason {
        switch code {
        case ECONNREFUSED: .refused
        case ETIMEDOUT: .timedOut
        case ENETUNREACH: .networkUnreachable
        case EHOSTUNREACH: .hostUnreachable
        default: .other(words(code))
        }
    }

    /// What a failed read or write means for the session.
    package static func transportFailure(_ code: Int32) -> TransportFailure {
        switch code {
        case ECONNRESET, EPIPE: .reset
        default: .io(words(code))
        }
    }
}
