import SMTPCore

/// How a batch went (the libuv batch and the socket batch report the same figures).
public struct BatchSummary: Sendable {
    /// Messages delivered to every recipient.
    public var delivered = 0
    /// Messages delivered to some recipients only.
    public var partiallyDelivered = 0
    /// Messages delivered to none, or whose delivery is unknown.
    public var failed = 0
    /// Connections opened, including replacements.
    public var connectionsOpened = 0
    /// Times a message went back to the queue (safe to retry) to be sent again on another session.
    public var retried = 0
    /// The last session-level error, if any session failed.
    public var lastError: String?
    /// Every resource was released (libuv: `uv_loop_close` succeeded, no handle left open).
    public var loopClosedCleanly = true
    /// Why the last connection attempt failed, when one did.
    public var connectFailure: TransportFailure?
    /// Full TLS handshakes the batch's connections completed.
    public var tlsFullHandshakes = 0
    /// TLS handshakes that resumed a session kept from an earlier connection of the batch.
    public var tlsResumedHandshakes = 0

    /// A summary with every count at zero.
    public init() {}

    /// Counts one message's final outcome.
    public mutating func count(_ outcome: MessageOutcome) {
        switch outcome.status {
        case .delivered: delivered += 1
        case .partiallyDelivered: partiallyDelivered += 1
        case .notDelivered, .unknown: failed += 1
        }
    }
}
