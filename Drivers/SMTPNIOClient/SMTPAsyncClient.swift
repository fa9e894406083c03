import Logging
import Metrics
import NIO
import SMTPConnection
import SMTPCore
import SMTPNIODriver
import SMTPTLS

/// The SMTP client for server applications: `try await client.send(message)` from any task,
/// over a pool of warm connections to one server, on SwiftNIO.
///
/// Make one per application (per server it sends to) and share it: it is `Sendable`. Options
/// are checked and the TLS context is made once, in `init`: every connection shares that one
/// context, so a new connection resumes an earlier one's TLS session. Call `shutdown()` before
/// the application ends (or run the client as a ServiceLifecycle `Service`).
///
/// **One event loop.** The pool's state lives on a single event loop taken from the group, and
/// so do all its connections. SMTP needs little CPU per message (a few commands and the body's
/// bytes); what it needs is round trips. One loop means the pool's decisions take no lock on
/// the hot path: a send hops to the loop once, and its outcome comes back through a
/// continuation.
///
/// **Outcomes, not errors.** A send returns the engine's `MessageOutcome`: a 550 is an outcome,
/// and so is a server that cannot be reached, a timeout, a cancellation or a withdrawal at
/// shutdown. It throws only `SMTPAsyncClientError.shutDown` (a send after `shutdown()`).
///
/// **The pool** (`SMTPPoolConfiguration`): at most `maxConnections` connections; a connection
/// that is ready takes the next waiting send; an idle one QUITs after `idleTimeout`, and one that
/// takes its `maxMessagesPerConnection`th message QUITs behind it (pipelined where the server
/// offers PIPELINING) and is replaced. A message whose outcome is safe to
/// send again (nothing of it reached the server: a 421, a close, a 4xx to MAIL) goes on another
/// connection, up to `maxAttempts` times. When the server throttles (421, 451 or 454 with an
/// enhanced code 4.7.x) no connection opens and no message starts until the back-off has passed;
/// it doubles with each throttle in a row up to `maximumBackoff`, and resets on a delivery.
///
/// **Cancellation and deadlines.** Cancelling the task of a send that waits in the pool withdraws
/// it at once (`.notDelivered`, nothing attempted, safe to retry). One a connection holds is
/// stopped by the engine, which decides its outcome. A `deadline` does the same when it passes.
public final class SMTPAsyncClient: Sendable {
    private let loop: any EventLoop
    private let driver: PoolDriver
    private let logger: Logger
    /// The pool's settings (normalized: every count at least 1).
    public let configuration: SMTPPoolConfiguration

    /// Makes the client. `options` are checked and their TLS context made now (throws
    /// `SMTPClientError` for a caller's mistake: an EHLO name that is not valid, TLS files that do
    /// not load). The server's host name is not resolved here (`init` does not block): each new
    /// connection resolves it, on NIO's shared thread pool, so a change of address is seen. A name
    /// that does not resolve ends the sends waiting for a connection, each outcome
    /// `.notAttempted` with `TransportFailure.resolution` in the resolver's words. `logger` gets
    /// the client's and its connections' events (lifecycle at `debug`, the transcript at
    /// `trace`); at `trace` the engine's transcript is turned on.
    ///
    /// Metrics (swift-metrics) come from `metricsFactory`, or, when it is nil, from the
    /// process-wide `MetricsSystem.factory` (no backend bootstrapped: they cost nothing to
    /// speak of). Each carries `metricsDimensions` (for example `[("smtp.server", host)]`):
    /// `smtp_client_connections_open` (gauge: connections open, connecting or resolving),
    /// `smtp_client_messages_sent` and `smtp_client_messages_failed` (counters: sends delivered
    /// to at least one recipient, and the others), `smtp_client_send_duration` (timer: from
    /// `send` to its outcome).
    public convenience init(options: ClientOptions, pool: SMTPPoolConfiguration = .init(),
                            eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                            metricsDimensions: [(String, String)] = [],
                            metricsFactory: (any MetricsFactory)? = nil) throws(SMTPClientError) {
        try self.init(options: options, pool: pool, eventLoopGroup: eventLoopGroup, logger: logger,
                      metricsDimensions: metricsDimensions, metricsFactory: metricsFactory,
                      resolver: ConnectionResolver.system.lookup)
    }

    /// The client with its own name resolution (for tests): `resolver` runs once per new
    /// connection, on NIO's shared thread pool.
    package init(options: ClientOptions, pool: SMTPPoolConfiguration = .init(),
                 eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                 metricsDimensions: [(String, String)] = [], metricsFactory: (any MetricsFactory)? = nil,
                 resolver: @escaping @Sendable (ClientOptions) -> Result<[ResolvedAddress], ResolutionError>) throws(SMTPClientError) {
        try options.validate()
        var options = options
        if logger.logLevel <= .trace { options.transcript = true }
        let tlsContext = try options.makeTLSContext()
        let loop = eventLoopGroup.next()
        let configuration = pool.normalized
        self.loop = loop
        self.logger = logger
        self.configuration = configuration
        let driver = PoolDriver(loop: loop, options: options, tlsContext: tlsContext,
                                resolver: ConnectionResolver(lookup: resolver),
                                configuration: configuration, logger: logger,
                                metrics: ClientMetrics(dimensions: metricsDimensions,
                                                       factory: metricsFactory ?? MetricsSystem.factory))
        self.driver = driver
    }

    /// Sends one message and returns its outcome. `deadline`: the send's overall limit (beside
    /// the per-phase timeouts of `ClientOptions.timeouts`); when it passes, the send is stopped
    /// as a cancellation would stop it. `logger`: this send's logger (default: the client's);
    /// its lines carry `smtp.message`, an id per send. Throws only `SMTPAsyncClientError.shutDown`.
    public func send(_ message: OutgoingMessage, deadline: ContinuousClock.Instant? = nil,
                     logger: Logger? = nil) async throws -> MessageOutcome {
        let pending = PendingSend(message: message, logger: logger ?? self.logger, deadline: deadline)
        let driver = self.driver
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                pending.continuation = continuation
                loop.execute { driver.submit(pending) }
            }
        } onCancel: {
            loop.execute { driver.cancel(pending) }
        }
    }

    /// Sends many messages at once, as concurrent sends on the pool, and returns their outcomes in
    /// the same order. Throws only `SMTPAsyncClientError.shutDown`.
    public func send(_ messages: [OutgoingMessage], deadline: ContinuousClock.Instant? = nil,
                     logger: Logger? = nil) async throws -> [MessageOutcome] {
        try await withThrowingTaskGroup(of: (Int, MessageOutcome).self) { group in
            for (index, message) in messages.enumerated() {
                group.addTask { (index, try await self.send(message, deadline: deadline, logger: logger)) }
            }
            var outcomes = [MessageOutcome?](repeating: nil, count: messages.count)
            for try await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes.map { $0! }
        }
    }

    /// Shuts the client down: it takes no new sends (they throw `SMTPAsyncClientError.shutDown`);
    /// sends already made go on for `gracePeriod` (default: the configuration's
    /// `shutdownGracePeriod`), then those still waiting are withdrawn (`.notDelivered`, nothing
    /// attempted) and those on a connection stopped, each outcome saying so; every connection
    /// QUITs. Returns once every send has its outcome and every connection has closed. Calling
    /// it again waits for the same end.
    public func shutdown(gracePeriod: Duration? = nil) async {
        let grace = gracePeriod ?? configuration.shutdownGracePeriod
        let driver = self.driver
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            loop.execute { driver.shutdown(gracePeriod: grace, waiter: waiter) }
        }
    }

    /// What the pool has done so far (for tests, benchmarks and dashboards).
    public func statistics() async -> SMTPPoolStatistics {
        let driver = self.driver
        return (try? await loop.submit { driver.statistics }.get()) ?? SMTPPoolStatistics()
    }
}
