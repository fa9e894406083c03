import SMTPCore

/// Identifies one `send` within a client.
typealias RequestID = UInt64
/// Identifies one connection within a client (also its `smtp.connection` log metadata).
typealias ConnectionID = UInt64

/// The pool's decisions, as a plain value: which message goes on which connection, when a
/// connection opens or QUITs, when a message is sent again, when the pool backs off. It does no
/// I/O and reads no clock: the glue (`PoolDriver`) feeds it events with the time and carries out
/// the actions it appends. Every input appends to `actions`; the glue empties it.
struct PoolState {
    /// A connection's life, as the pool sees it.
    enum Phase: Hashable {
        /// Connecting, TLS, AUTH: not yet ready for a message.
        case connecting
        /// Ready: takes messages.
        case ready
        /// QUIT (or close) was asked for; it counts against `maxConnections` until it has closed.
        case quitting
    }

    struct Connection {
        var phase = Phase.connecting
        var inFlight: [RequestID] = []
        /// Messages given to it so far.
        var taken = 0
        /// Takes no more messages (a message came back to be sent again, or the server throttled).
        var retiring = false
        /// Since when it has had nothing to do (nil while it carries a message or connects).
        var idleSince: ContinuousClock.Instant?
    }

    struct Request {
        var attempts = 0
        var connection: ConnectionID?
        /// A stop was asked for while a connection held it: its outcome is final, whatever it says.
        var stopping: StopReason?
    }

    /// How a request ends.
    enum Completion: Hashable {
        /// The engine's outcome, as the connection reported it.
        case outcome(MessageOutcome)
        /// No connection took it: the glue reports `.notAttempted(envelope, because:)`.
        case notAttempted(TransactionFailure)
    }

    enum Action: Hashable {
        /// Open a new connection with this id.
        case connect(ConnectionID)
        /// Give the request to the connection; `resetFirst`: it carried a message before.
        case send(RequestID, on: ConnectionID, resetFirst: Bool)
        /// QUIT once the connection has nothing in flight.
        case quit(ConnectionID)
        /// Abandon a connection that is still connecting (shutdown).
        case close(ConnectionID)
        /// Ask the engine to stop this request on its connection.
        case stop(RequestID, on: ConnectionID, StopReason)
        /// The request is over.
        case finish(RequestID, Completion)
        /// Shutdown is done: no request and no connection left.
        case shutdownComplete
    }

    let configuration: SMTPPoolConfiguration
    var backoff: Backoff
    var waiting = RequestQueue()
    var requests: [RequestID: Request] = [:]
    var connections: [ConnectionID: Connection] = [:]
    var nextConnection: ConnectionID = 1
    var isShuttingDown = false
    var shutdownReported = false
    /// The shutdown's grace period is over.
    var graceOver = false
    /// The most connections open at once so far (for benchmarks and tests).
    var peakConnections = 0
    /// Connections opened so far.
    var connectionsOpened = 0
    var actions: [Action] = []

    init(configuration: SMTPPoolConfiguration) {
        self.configuration = configuration.normalized
        backoff = Backoff(initial: self.configuration.initialBackoff, maximum: self.configuration.maximumBackoff)
    }

    // MARK: Inputs

    /// A new send.
    mutating func submit(_ request: RequestID, at now: ContinuousClock.Instant) {
        requests[request] = Request()
        waiting.append(request)
        dispatch(at: now)
    }

    /// The connection finished its greeting, TLS and AUTH.
    mutating func connectionReady(_ id: ConnectionID, at now: ContinuousClock.Instant) {
        guard connections[id]?.phase == .connecting else { return }
        connections[id]!.phase = .ready
        connections[id]!.idleSince = now
        dispatch(at: now)
    }

    /// A connection reported a request's outcome.
    mutating func finished(_ request: RequestID, on id: ConnectionID, with outcome: MessageOutcome,
                           at now: ContinuousClock.Instant) {
        if var connection = connections[id], let index = connection.inFlight.firstIndex(of: request) {
            connection.inFlight.remove(at: index)
            if connection.inFlight.isEmpty, connection.phase == .ready { connection.idleSince = now }
            if Throttling.isThrottle(outcome) { connection.retiring = true }
            if outcome.isSafeToRetry { connection.retiring = true }
            connections[id] = connection
        }
        if Throttling.isThrottle(outcome) { backoff.throttled(at: now) }
        if outcome.deliveredCount > 0 { backoff.delivered() }
        settle(request, outcome)
        dispatch(at: now)
    }

    /// A connection closed (`error`: what ended it; nil after a clean QUIT).
    mutating func connectionClosed(_ id: ConnectionID, error: SMTPError?, at now: ContinuousClock.Instant) {
        guard let connection = connections.removeValue(forKey: id) else { return }
        // The connection completes every message it took before it reports the close; any left
        // ended with it.
        for request in connection.inFlight where requests.removeValue(forKey: request) != nil {
            actions.append(.finish(request, .notAttempted(.sessionEnded(error ?? .connectionClosed(.idle)))))
        }
        if Throttling.isThrottle(error) { backoff.throttled(at: now) }
        if connection.phase == .connecting, let error, error != .cancelled, !Throttling.isThrottle(error) {
            chargeFruitlessConnection(error)
        }
        dispatch(at: now)
    }

    /// Stop a request: withdraw it if no connection holds it, else ask the engine.
    mutating func stop(_ request: RequestID, because reason: StopReason, at now: ContinuousClock.Instant) {
        guard var entry = requests[request] else { return }
        if let id = entry.connection {
            guard entry.stopping == nil else { return }
            entry.stopping = reason
            requests[request] = entry
            actions.append(.stop(request, on: id, reason))
        } else {
            waiting.remove(request)
            requests[request] = nil
            actions.append(.finish(request, .notAttempted(EngineSeams.withdrawnFailure(reason))))
            dispatch(at: now)
        }
    }

    /// Time passed: idle connections QUIT after the idle timeout; a back-off that ended lets
    /// messages go again.
    mutating func timePassed(at now: ContinuousClock.Instant) {
        for (id, connection) in connections where connection.phase == .ready && connection.inFlight.isEmpty {
            if let since = connection.idleSince, now >= since + configuration.idleTimeout { quit(id) }
        }
        dispatch(at: now)
    }

    /// No new sends from now on; idle connections QUIT, the rest once their messages are done.
    mutating func shutdown(at now: ContinuousClock.Instant) {
        isShuttingDown = true
        dispatch(at: now)
    }

    /// The shutdown's grace period is over: every waiting request is withdrawn, every running one
    /// stopped (the engine decides its outcome at once), every connection still open abandoned.
    mutating func graceExpired(at now: ContinuousClock.Instant) {
        isShuttingDown = true
        graceOver = true
        for request in waiting.drain() {
            requests[request] = nil
            actions.append(.finish(request, .notAttempted(EngineSeams.withdrawnFailure(.shutdown))))
        }
        for (request, entry) in requests where entry.stopping == nil {
            if let id = entry.connection {
                requests[request]!.stopping = .shutdown
                actions.append(.stop(request, on: id, .shutdown))
            }
        }
        // Connections still open (a QUIT unanswered, a reply the engine still waits for) are
        // abandoned: the grace period bounds the shutdown.
        for id in connections.keys.sorted() {
            connections[id]!.phase = .quitting
            actions.append(.close(id))
        }
        dispatch(at: now)
    }

    /// When the glue should call `timePassed` next (idle timeouts, the end of a back-off).
    var nextWakeUp: ContinuousClock.Instant? {
        var earliest = waiting.isEmpty ? nil : backoff.until
        for connection in connections.values where connection.phase == .ready && connection.inFlight.isEmpty {
            if let since = connection.idleSince {
                let due = since + configuration.idleTimeout
                if earliest.map({ due < $0 }) ?? true { earliest = due }
            }
        }
        return earliest
    }
}
