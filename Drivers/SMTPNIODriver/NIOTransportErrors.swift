import NIOCore
import SMTPConnection
import SMTPCore

/// NIO's errors in the words every driver uses (`SystemError`), so a refused connect or a reset
/// reads the same through this driver as through the socket and libuv drivers.
enum NIOTransportErrors {
    /// Why one connect attempt failed: the errno of a failed connect(2) or of the socket's
    /// SO_ERROR after a non-blocking connect, or the bootstrap's connect timeout.
    static func connectReason(_ error: any Error) -> ConnectFailureReason {
        if let error = error as? IOError { return SystemError.connectReason(error.errnoCode) }
        if let error = error as? ChannelError, case .connectTimeout = error { return .timedOut }
        return .other("\(error)")
    }

    /// What a failed read or write means for the session. NIO closes a channel on a read or
    /// write error and fails the writes still pending with that error; a peer that closed while
    /// a write waited fails it with `ChannelError.eof`.
    static func transportFailure(_ error: any Error) -> TransportFailure {
        if let error = error as? IOError { return SystemError.transportFailure(error.errnoCode) }
        if let error = error as? ChannelError {
            switch error {
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed: return .closedByPeer
            default: break
            }
        }
        return .io("\(error)")
    }
}
