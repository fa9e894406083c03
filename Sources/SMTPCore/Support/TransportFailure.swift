/// Why the connection under a session could not be made, or ended, as the driver saw it. The
/// driver reports it (`transportFailed(_:at:)`); the engine turns it into the session's error,
/// tagged with the phase it interrupted, and every driver describes it in the same words.
public enum TransportFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host name did not resolve.
    case resolution(String)
    /// Connecting failed. `address` is what was tried ("127.0.0.1:25", several joined by "; "),
    /// `reason` the system's word for it ("connection refused", "timed out").
    case connect(address: String, reason: ConnectFailureReason)
    /// The server closed the connection (end of stream).
    case closedByPeer
    /// The connection was reset (ECONNRESET, EPIPE).
    case reset
    /// Another read or write error, in the system's words.
    case io(String)
    /// The TLS layer failed after the handshake: a fatal alert or a bad record. `code` is the
    /// TLS library's reason code, `reason` its words.
    case tls(code: Int, reason: String)

    /// The failure in words, the same from every driver.
    public var description: String {
        switch self {
        case .resolution(let why): why
        case .connect(let address, let reason): "cannot connect to \(address): \(reason)"
        case .closedByPeer: "connection closed by server"
        case .reset: "connection reset by server"
        case .io(let why): "connection failed: \(why)"
        case .tls(_, let reason): "TLS error: \(reason)"
        }
    }
}

/// Why a connect attempt failed, in words that are the same from every driver.
public enum ConnectFailureReason: Error, Hashable, Sendable, CustomStringConvertible {
    /// The server refused the connection (ECONNREFUSED).
    case refused
    /// The attempt timed out (the connect timeout, or ETIMEDOUT).
    case timedOut
    /// No route to the network (ENETUNREACH).
    case networkUnreachable
    /// No route to the host (EHOSTUNREACH).
    case hostUnreachable
    /// Any other system error, in the system's words (lower-cased).
    case other(String)

    /// The reason in words.
    public var description: String {
        switch self {
        case .refused: "connection refused"
        case .timedOut: "timed out"
        case .networkUnreachable: "network unreachable"
        case .hostUnreachable: "host unreachable"
        case .other(let why): why
        }
    }
}
