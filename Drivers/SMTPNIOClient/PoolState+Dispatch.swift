import SMTPCore

extension PoolState {
    /// Gives waiting requests to ready connections (QUITting one as it takes its last message
    /// under `maxMessagesPerConnection`), opens connections for the rest (within
    /// `maxConnections`, and not while backing off), QUITs connections that are done, and says
    /// when shutdown is complete.
    mutating func dispatch(at now: ContinuousClock.Instant) {
        let throttled = backoff.isActive(at: now)
        if !throttled {
            while let request = waiting.first, let id = connectionToTake() {
                _ = waiting.popFirst()
                requests[request]!.attempts += 1
                requests[request]!.connection = id
                let reused = connections[id]!.taken > 0 && connections[id]!.inFlight.isEmpty
                connections[id]!.inFlight.append(request)
                connections[id]!.taken += 1
                connections[id]!.idleSince = nil
                actions.append(.send(request, on: id, resetFirst: reused))
                // Its last message: QUIT now, so the engine pipelines it behind that message's
                // final command where the server allows (one round trip fewer per connection).
                if let limit = configuration.maxMessagesPerConnection, connections[id]!.taken >= limit { quit(id) }
            }
            openConnections()
        }
        retireConnections()
        if isShuttingDown, requests.isEmpty, connections.isEmpty, !shutdownReported {
            shutdownReported = true
            actions.append(.shutdownComplete)
        }
    }

    /// The ready connection with the fewest messages in flight that may take one more.
    private func connectionToTake() -> ConnectionID? {
        var best: (id: ConnectionID, load: Int)?
        for (id, connection) in connections where connection.phase == .ready && !connection.retiring {
            let load = connection.inFlight.count
            guard load < configuration.messagesInFlightPerConnection else { continue }
            if let limit = configuration.maxMessagesPerConnection, connection.taken >= limit { continue }
            if best.map({ load < $0.load || load == $0.load && id < $0.id }) ?? true { best = (id, load) }
        }
        return best?.id
    }

    /// Opens connections while waiting requests outnumber what the connecting ones will take.
    private mutating func openConnections() {
        var connecting = connections.values.reduce(0) { $0 + ($1.phase == .connecting ? 1 : 0) }
        while waiting.count > connecting * configuration.messagesInFlightPerConnection,
              connections.count < configuration.maxConnections {
            let id = nextConnection
            nextConnection += 1
            connections[id] = Connection()
            connecting += 1
            connectionsOpened += 1
            peakConnections = max(peakConnections, connections.count)
            actions.append(.connect(id))
        }
    }

    /// QUITs ready connections that have nothing in flight and should take nothing more; at
    /// shutdown, with nothing waiting, every idle one, and abandons those still connecting.
    private mutating func retireConnections() {
        for (id, connection) in connections where connection.inFlight.isEmpty {
            switch connection.phase {
            case .ready:
                let spent = configuration.maxMessagesPerConnection.map { connection.taken >= $0 } ?? false
                if connection.retiring || spent || isShuttingDown && waiting.isEmpty { quit(id) }
            case .connecting:
                if isShuttingDown, waiting.isEmpty {
                    connections[id]!.phase = .quitting
                    actions.append(.close(id))
                }
            case .quitting:
                break
            }
        }
    }

    mutating func quit(_ id: ConnectionID) {
        guard connections[id]?.phase == .ready else { return }
        connections[id]!.phase = .quitting
        connections[id]!.idleSince = nil
        actions.append(.quit(id))
    }

    /// A request's outcome from its connection: sent again when the engine says that is safe
    /// and attempts remain (and nobody asked to stop it), else final.
    mutating func settle(_ request: RequestID, _ outcome: MessageOutcome) {
        guard let entry = requests[request] else { return }
        if entry.stopping == nil, outcome.isSafeToRetry, entry.attempts < configuration.maxAttempts, !isGraceOver {
            requests[request]!.connection = nil
            waiting.prepend(request)
            return
        }
        requests[request] = nil
        actions.append(.finish(request, .outcome(outcome)))
    }

    /// Shutdown withdrew the waiting requests: nothing goes back to the queue after that.
    private var isGraceOver: Bool { isShuttingDown && graceOver }

    /// A connection failed before it was ready, for a reason that is not the server's request
    /// to slow down. A reason any connection would meet (a certificate, AUTH, refused TLS, a
    /// name that does not resolve) ends every waiting request now; a transient one (refused,
    /// reset, timed out, 421) costs the requests this connection would have taken one attempt
    /// each, so a server that cannot be reached ends them after `maxAttempts` connections.
    mutating func chargeFruitlessConnection(_ error: SMTPError) {
        let victims: [RequestID]
        if Self.isTransient(error) {
            victims = waiting.prefix(configuration.messagesInFlightPerConnection).filter {
                requests[$0]!.attempts += 1
                return requests[$0]!.attempts >= configuration.maxAttempts
            }
            for request in victims { waiting.remove(request) }
        } else {
            victims = waiting.drain()
        }
        for request in victims {
            requests[request] = nil
            actions.append(.finish(request, .notAttempted(.sessionEnded(error))))
        }
    }

    static func isTransient(_ error: SMTPError) -> Bool {
        switch error {
        // The resolver's answer holds for every connection now; the next send resolves again.
        case .transportFailed(.resolution, _): false
        case .connectionClosed, .transportFailed, .timeout, .serviceNotAvailable: true
        case .greetingRefused(let reply): reply.code.rawValue / 100 == 4
        default: false
        }
    }
}
