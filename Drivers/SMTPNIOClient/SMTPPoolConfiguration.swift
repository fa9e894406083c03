/// How the client's connection pool behaves: how many connections, how long they live, how
/// often a message is tried, and how long to wait when the server throttles.
public struct SMTPPoolConfiguration: Sendable, Hashable {
    /// The most connections open (or opening, or quitting) at once; at least 1.
    public var maxConnections: Int
    /// An idle connection sends QUIT once it has had nothing to do for this long.
    public var idleTimeout: Duration
    /// A connection takes at most this many messages, QUITs behind the last (pipelined where
    /// the server allows), and a fresh one takes its place (nil: no limit).
    public var maxMessagesPerConnection: Int?
    /// Messages one connection carries at once; more than 1 pipelines them one behind the other
    /// where the server offers PIPELINING (the engine decides how far). At least 1.
    public var messagesInFlightPerConnection: Int
    /// The most times one message is sent while its outcome says it is safe to send again
    /// (`MessageOutcome.isSafeToRetry`: nothing of it reached the server); at least 1.
    public var maxAttempts: Int
    /// The first wait after the server throttles (421, 451 or 454 with an enhanced code 4.7.x):
    /// no new connection and no message is started until it passes.
    public var initialBackoff: Duration
    /// The longest wait: each throttle in a row doubles the wait up to this; a delivery resets it.
    public var maximumBackoff: Duration
    /// How long `shutdown()` lets queued and running sends finish before it withdraws them.
    public var shutdownGracePeriod: Duration

    /// The defaults: 4 connections, 30 s idle timeout, no per-connection limit, one message at a
    /// time per connection, 3 attempts, back-off from 1 s to 60 s, 10 s of grace at shutdown.
    public init(maxConnections: Int = 4, idleTimeout: Duration = .seconds(30), maxMessagesPerConnection: Int? = nil,
                messagesInFlightPerConnection: Int = 1, maxAttempts: Int = 3, initialBackoff: Duration = .seconds(1),
                maximumBackoff: Duration = .seconds(60), shutdownGracePeriod: Duration = .seconds(10)) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.maxMessagesPerConnection = maxMessagesPerConnection
        self.messagesInFlightPerConnection = messagesInFlightPerConnection
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// The same values with every bound made sane (counts at least 1, durations not negative,
    /// the maximum back-off not below the initial one).
    var normalized: SMTPPoolConfiguration {
        var copy = self
        copy.maxConnections = max(1, maxConnections)
        copy.maxMessagesPerConnection = maxMessagesPerConnection.map { max(1, $0) }
        copy.messagesInFlightPerConnection = max(1, messagesInFlightPerConnection)
        copy.maxAttempts = max(1, maxAttempts)
        copy.idleTimeout = max(.zero, idleTimeout)
        copy.initialBackoff = max(.zero, initialBackoff)
        copy.maximumBackoff = max(copy.initialBackoff, maximumBackoff)
        copy.shutdownGracePeriod = max(.zero, shutdownGracePeriod)
        return copy
    }
}
