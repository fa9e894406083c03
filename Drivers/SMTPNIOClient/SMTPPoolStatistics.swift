/// What a client's pool has done since it was made.
public struct SMTPPoolStatistics: Sendable, Hashable {
    /// The most connections open (or opening, or quitting) at once.
    public var peakConnections = 0
    /// Connections opened in all.
    public var connectionsOpened = 0
    /// Connections open now.
    public var connectionsOpen = 0
    /// TLS handshakes that were full ones (the shared TLS context's count).
    public var tlsFullHandshakes = 0
    /// TLS handshakes that resumed an earlier session.
    public var tlsResumedHandshakes = 0

    /// Statistics with these values (zero by default).
    public init(peakConnections: Int = 0, connectionsOpened: Int = 0, connectionsOpen: Int = 0, tlsFullHandshakes: Int = 0,
                tlsResumedHandshakes: Int = 0) {
        self.peakConnections = peakConnections
        self.connectionsOpened = connectionsOpened
        self.connectionsOpen = connectionsOpen
        self.tlsFullHandshakes = tlsFullHandshakes
        self.tlsResumedHandshakes = tlsResumedHandshakes
    }
}
