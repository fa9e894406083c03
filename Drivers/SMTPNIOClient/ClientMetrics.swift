import Metrics
import SMTPCore

/// The client's metrics, made once per client from the factory it was given, or else from
/// whatever backend `MetricsSystem` has (none bootstrapped: swift-metrics' no-op handlers, so a
/// send costs a few empty calls):
///
/// - `smtp_client_connections_open` (gauge): connections open, connecting, or resolving the
///   server's name; recorded on each change, 0 once the client has shut down;
/// - `smtp_client_messages_sent` (counter): sends delivered to at least one recipient;
/// - `smtp_client_messages_failed` (counter): the other sends (refused, not attempted,
///   cancelled, unknown);
/// - `smtp_client_send_duration` (timer, nanoseconds): from `send` to its outcome, once per send.
///
/// Every metric carries the dimensions the client was given (for example the server's name),
/// and no others.
struct ClientMetrics {
    private let connectionsOpen: Gauge
    private let sent: Counter
    private let failed: Counter
    private let duration: Timer

    init(dimensions: [(String, String)], factory: any MetricsFactory = MetricsSystem.factory) {
        connectionsOpen = Gauge(label: "smtp_client_connections_open", dimensions: dimensions, factory: factory)
        sent = Counter(label: "smtp_client_messages_sent", dimensions: dimensions, factory: factory)
        failed = Counter(label: "smtp_client_messages_failed", dimensions: dimensions, factory: factory)
        duration = Timer(label: "smtp_client_send_duration", dimensions: dimensions, factory: factory)
    }

    func connections(_ open: Int) {
        connectionsOpen.record(open)
    }

    func finished(_ outcome: MessageOutcome, after elapsed: Duration) {
        if outcome.deliveredCount > 0 { sent.increment() } else { failed.increment() }
        let (seconds, attoseconds) = elapsed.components
        duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
