import Metrics
import SMTPCore

/// The client's metrics, made once per client from whatever backend `MetricsSystem` has
/// (none bootstrapped: swift-metrics' no-op handlers, so a send costs a few empty calls):
///
/// - `smtp_client_connections_open` (gauge): connections open or opening;
/// - `smtp_client_messages_sent` (counter): sends delivered to at least one recipient;
/// - `smtp_client_messages_failed` (counter): the other sends;
/// - `smtp_client_send_duration` (timer): from `send` to its outcome.
///
/// Every metric carries the dimensions the client was given (for example the server's name).
struct ClientMetrics {
    private let connectionsOpen: Gauge
    private let sent: Counter
    private let failed: Counter
    private let duration: Timer

    init(dimensions: [(String, String)]) {
        connectionsOpen = Gauge(label: "smtp_client_connections_open", dimensions: dimensions)
        sent = Counter(label: "smtp_client_messages_sent", dimensions: dimensions)
        failed = Counter(label: "smtp_client_messages_failed", dimensions: dimensions)
        duration = Timer(label: "smtp_client_send_duration", dimensions: dimensions)
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
