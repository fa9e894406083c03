import Logging
import NIO
import SMTPConnection
import SMTPCore
import SMTPNIODriver
import SMTPTLS

/// The pool on its event loop: it feeds `PoolState` the loop's events (sends, cancellations,
/// connections ready or closed, outcomes, time) and carries out its actions on `NIOConnection`s.
/// It decides nothing itself. Everything here runs on `loop`.
///
/// A connection calls back from inside its own processing (an outcome, the session ready, the
/// close); acting on a connection from there would re-enter it, so those callbacks are handed on
/// with `execute` and handled as the loop's next task.
///
/// `@unchecked Sendable`: the client hands it to the loop with `execute` and touches it nowhere
/// else (it is made before any loop task can see it).
final class PoolDriver: @unchecked Sendable {
    private let loop: any EventLoop
    private let options: ClientOptions
    private let tlsContext: TLSClientContext?
    private let resolver: ConnectionResolver
    private let logger: Logger
    private let metrics: ClientMetrics
    private var state: PoolState
    private var pending: [RequestID: PendingSend] = [:]
    private var live: [ConnectionID: LiveConnection] = [:]
    /// Connections whose name is being resolved; true: abandoned meanwhile (shutdown).
    private var resolving: [ConnectionID: Bool] = [:]
    private var nextRequest: RequestID = 1
    private var acceptsSends = true
    private var shutdownDone = false
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private var wakeUp: Scheduled<Void>?
    private var wakeUpAt: ContinuousClock.Instant?
    private var graceTimer: Scheduled<Void>?
    private var running = false

    private struct LiveConnection {
        let connection: NIOConnection
        let logger: Logger
    }

    init(loop: any EventLoop, options: ClientOptions, tlsContext: TLSClientContext?,
         resolver: ConnectionResolver, configuration: SMTPPoolConfiguration, logger: Logger,
         metrics: ClientMetrics) {
        self.loop = loop
        self.options = options
        self.tlsContext = tlsContext
        self.resolver = resolver
        self.logger = logger
        self.metrics = metrics
        state = PoolState(configuration: configuration)
    }

    var statistics: SMTPPoolStatistics {
        let counts = tlsContext?.handshakeCounts
        return SMTPPoolStatistics(peakConnections: state.peakConnections, connectionsOpened: state.connectionsOpened,
                                  connectionsOpen: connectionsOpen, tlsFullHandshakes: counts?.full ?? 0,
                                  tlsResumedHandshakes: counts?.resumed ?? 0)
    }

    /// Connections open, connecting, or resolving the server's name.
    private var connectionsOpen: Int { live.count + resolving.count }

    // MARK: From the client

    func submit(_ send: PendingSend) {
        guard acceptsSends else { return send.resume(with: .failure(SMTPAsyncClientError.shutDown)) }
        if send.cancelRequested {
            return finish(send, .notAttempted(send.message.envelope, because: EngineSeams.withdrawnFailure(.cancelled)))
        }
        let id = nextRequest
        nextRequest += 1
        send.id = id
        pending[id] = send
        if let deadline = send.deadline {
            send.deadlineTask = loop.assumeIsolated().scheduleTask(in: TimeAmount(ContinuousClock.now.duration(to: deadline))) {
                [self] in
                state.stop(id, because: .deadlineExceeded, at: .now)
                run()
            }
        }
        state.submit(id, at: .now)
        run()
    }

    func cancel(_ send: PendingSend) {
        guard let id = send.id else {
            send.cancelRequested = true
            return
        }
        state.stop(id, because: .cancelled, at: .now)
        run()
    }

    func shutdown(gracePeriod: Duration, waiter: CheckedContinuation<Void, Never>) {
        if shutdownDone { return waiter.resume() }
        shutdownWaiters.append(waiter)
        guard acceptsSends else { return }
        acceptsSends = false
        logger.debug("SMTP client shutting down", metadata: ["smtp.pending": "\(pending.count)"])
        graceTimer = loop.assumeIsolated().scheduleTask(in: TimeAmount(gracePeriod)) { [self] in
            state.graceExpired(at: .now)
            run()
        }
        state.shutdown(at: .now)
        run()
    }

    // MARK: Carrying out the state's actions

    private func run() {
        guard !running else { return }
        running = true
        defer { running = false }
        while !state.actions.isEmpty {
            let actions = state.actions
            state.actions.removeAll(keepingCapacity: true)
            for action in actions { perform(action) }
        }
        armWakeUp()
    }

    private func perform(_ action: PoolState.Action) {
        switch action {
        case .connect(let id):
            open(id)
        case .send(let request, let id, let resetFirst):
            send(request, on: id, resetFirst: resetFirst)
        case .quit(let id):
            live[id]?.logger.debug("SMTP connection quitting")
            if live[id]?.connection.perform({ $0.quit(at: MonotonicClock.now()) }) != true { live[id]?.connection.cancel() }
        case .close(let id):
            if resolving[id] != nil { resolving[id] = true } else { live[id]?.connection.cancel() }
        case .stop(let request, let id, let reason):
            guard let send = pending[request], let ticket = send.ticket else { return }
            send.logger.debug("SMTP send stopping on its connection",
                              metadata: ["smtp.message": "\(request)", "smtp.connection": "\(id)", "smtp.reason": "\(reason)"])
            live[id]?.connection.perform { EngineSeams.cancel(ticket, on: $0, because: reason, at: MonotonicClock.now()) }
        case .finish(let request, let completion):
            guard let send = pending.removeValue(forKey: request) else { return }
            switch completion {
            case .outcome(let outcome): finish(send, outcome)
            case .notAttempted(let failure): finish(send, .notAttempted(send.message.envelope, because: failure))
            }
        case .shutdownComplete:
            shutdownDone = true
            graceTimer?.cancel()
            wakeUp?.cancel()
            logger.debug("SMTP client shut down")
            let waiters = shutdownWaiters
            shutdownWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    private func finish(_ send: PendingSend, _ outcome: MessageOutcome) {
        metrics.finished(outcome, after: send.started.duration(to: .now))
        send.logger.debug("SMTP send finished", metadata: ["smtp.message": "\(send.id ?? 0)", "smtp.outcome": "\(outcome)"])
        send.resume(with: .success(outcome))
    }

    private func send(_ request: RequestID, on id: ConnectionID, resetFirst: Bool) {
        guard let send = pending[request], let live = live[id] else { return }
        send.logger.debug("SMTP send on connection", metadata: ["smtp.message": "\(request)", "smtp.connection": "\(id)"])
        let isolated = loop.assumeIsolated()
        let taken = live.connection.perform { connection in
            let now = MonotonicClock.now()
            if resetFirst { EngineSeams.resetBeforeReuse(connection, at: now) }
            send.ticket = EngineSeams.enqueue(send.message, on: connection, at: now) { [self] outcome in
                isolated.execute { [self] in
                    state.finished(request, on: id, with: outcome, at: .now)
                    run()
                }
            }
        }
        if !taken {
            // The session ended between the decision and now: nothing of the message was sent.
            state.finished(request, on: id, with: .notAttempted(send.message.envelope, because: .sessionEnded(.connectionClosed(.idle))),
                           at: .now)
        }
    }

    /// Resolves the server's name for this connection (off the loop), then connects.
    private func open(_ id: ConnectionID) {
        resolving[id] = false
        metrics.connections(connectionsOpen)
        logger.debug("SMTP connection resolving", metadata: ["smtp.connection": "\(id)", "smtp.server": "\(options.host):\(options.port)"])
        resolver.resolve(options, on: loop).assumeIsolated().whenSuccess { [self] result in
            guard let abandoned = resolving.removeValue(forKey: id) else { return }
            switch result {
            case _ where abandoned:
                closed(id, error: .cancelled)
            case .failure(let error):
                logger.debug("SMTP connection not made", metadata: ["smtp.connection": "\(id)", "smtp.error": "\(error.message)"])
                closed(id, error: .couldNotConnect(.resolution(error.message)))
            case .success(let addresses):
                connect(id, to: addresses)
            }
        }
    }

    private func connect(_ id: ConnectionID, to addresses: [ResolvedAddress]) {
        var connectionLogger = logger
        connectionLogger[metadataKey: "smtp.connection"] = "\(id)"
        let isolated = loop.assumeIsolated()
        let observer = ConnectionLog(logger: connectionLogger).observer { [self] in
            isolated.execute { [self] in
                state.connectionReady(id, at: .now)
                run()
            }
        }
        let connection = NIOConnection(loop: loop, addresses: addresses, options: options, tlsContext: tlsContext,
                                       observer: observer, onClosed: { [self] _, error in
                                           isolated.execute { [self] in closed(id, error: error) }
                                       })
        live[id] = LiveConnection(connection: connection, logger: connectionLogger)
        metrics.connections(connectionsOpen)
        connectionLogger.debug("SMTP connection opening", metadata: ["smtp.server": "\(options.host):\(options.port)"])
        connection.start()
    }

    private func closed(_ id: ConnectionID, error: SMTPError?) {
        let closed = live.removeValue(forKey: id)
        metrics.connections(connectionsOpen)
        closed?.logger.debug("SMTP connection closed", metadata: ["smtp.error": "\(error.map { "\($0)" } ?? "none")"])
        state.connectionClosed(id, error: error, at: .now)
        run()
    }

    /// One task on the loop for the state's next wake-up, moved only when it comes earlier.
    private func armWakeUp() {
        guard let due = state.nextWakeUp else { return }
        if wakeUp != nil, let armed = wakeUpAt, armed <= due { return }
        wakeUp?.cancel()
        wakeUpAt = due
        wakeUp = loop.assumeIsolated().scheduleTask(in: TimeAmount(max(.zero, ContinuousClock.now.duration(to: due)))) { [self] in
            wakeUp = nil
            wakeUpAt = nil
            state.timePassed(at: .now)
            run()
        }
    }
}
