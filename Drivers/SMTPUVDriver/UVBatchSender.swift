import CLibUV
import Glibc
import SMTPCore
import SMTPConnection
import SMTPTLS

/// Sends a batch of messages over N concurrent SMTP sessions on one libuv loop and one thread.
///
/// Each session takes the next message from the shared queue whenever its engine can start a
/// transaction (pipelined behind the previous one where the server allows), and quits when the
/// queue is empty. A session that dies after it delivered is replaced while messages remain
/// (within a budget); one that fails before taking any message is not, since a server that
/// refuses the session (or TLS, or AUTH) will refuse the next one too. `completion` runs on the loop's thread, once per
/// message, with its index in `messages`.
///
/// The loop is created and closed by `run`; when it returns, every handle is closed and every
/// allocation released (`run` checks that `uv_loop_close` succeeds).
public final class UVBatchSender {
    /// How the batch went: `BatchSummary`, as the socket batch reports it too.
    public typealias Summary = BatchSummary

    private let settings: BatchSettings

    /// `maxAttempts`: how often a message the server never took is sent (1: never again, every
    /// outcome is final, as with `SMTPClient.send`). `messagesPerSession`: a session quits after
    /// taking that many messages, and a new one takes its place (nil: no limit). Every session
    /// shares one TLS context, so each new connection may resume a TLS session an earlier one
    /// was given.
    public init(options: ClientOptions, connections: Int, maxAttempts: Int = 5, messagesPerSession: Int? = nil,
                observer: SessionObserver? = nil) {
        settings = BatchSettings(options: options, connections: connections, maxAttempts: maxAttempts,
                                 messagesPerSession: messagesPerSession, observer: observer)
    }

    /// Sends `count` messages made by `makeMessage(index)` (made lazily, as sessions take them).
    /// Throws only a caller's mistake, before any I/O (the same rule as the socket driver's):
    /// a server that cannot be reached is reported in every message's outcome.
    public func run(count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                    completion: @escaping (Int, MessageOutcome) -> Void) throws(SMTPClientError) -> Summary {
        let options = settings.options
        try options.validate()
        let tlsContext = try options.makeTLSContext()
        var summary = Summary()
        let addresses: [ResolvedAddress]
        do {
            addresses = try AddressResolver.resolve(options)
        } catch {
            let failure = TransportFailure.resolution(error.message)
            summary.connectFailure = failure
            summary.lastError = "\(failure)"
            for index in 0..<count {
                summary.failed += 1
                completion(index, .notAttempted(makeMessage(index).envelope, because: .sessionEnded(.couldNotConnect(failure))))
            }
            return summary
        }

        Self.raiseDescriptorLimit(toAtLeast: settings.sessions + 64)
        // libuv writes with write(2): a peer that resets would raise SIGPIPE and kill the process.
        // The error comes back as EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        let loop = UnsafeMutablePointer<uv_loop_t>.allocate(capacity: 1)
        uv_loop_init(loop)
        defer { loop.deallocate() }

        let queue = SendQueue(count: count, maxAttempts: settings.maxAttempts)
        var live: [ObjectIdentifier: UVConnection] = [:]
        var failures = BatchFailures()
        var replacement = SessionReplacement(settings)

        func complete(_ index: Int, _ outcome: MessageOutcome) {
            summary.count(outcome)
            completion(index, outcome)
            if queue.isDone {
                // Every message is done. A session that never took one (still connecting, or
                // waiting for a greeting that may never come) has nothing left to do: end it now
                // rather than at its timeout.
                for connection in live.values.filter({ $0.startedMessages == 0 }) { connection.cancel() }
            }
        }

        // The session's message limit is its connection's supply limit (`messageLimit` below).
        let supplier: UVConnection.Supplier = { connection in
            guard let index = queue.next() else { return nil }
            return (makeMessage(index), { [unowned connection] outcome in
                switch queue.finish(index, with: outcome) {
                case .retry:
                    summary.retried += 1
                    connection.retiring = true
                case .final:
                    if outcome.deliveredCount > 0 { connection.deliveredMessages += 1 }
                    complete(index, outcome)
                }
            })
        }

        var open: (() -> Void)!
        let onClosed: (UVConnection) -> Void = { connection in
            live.removeValue(forKey: ObjectIdentifier(connection))
            failures.sessionEnded(with: connection.failure, summary: &summary)
            // Replace a session while messages wait (a retired one, or one the server ended).
            guard queue.waiting > 0, !queue.isDone else { return }
            if replacement.replaces(delivered: connection.deliveredMessages, started: connection.startedMessages,
                                    retiring: connection.retiring, failure: connection.connection?.failure) {
                open()
            }
            // Else, with no session left, the messages waiting end below with the last failure.
        }
        open = {
            let connection = UVConnection(loop: loop, addresses: addresses, options: options, tlsContext: tlsContext,
                                          messageLimit: self.settings.messagesPerSession, supplier: supplier,
                                          observer: self.settings.observer, onClosed: onClosed)
            live[ObjectIdentifier(connection)] = connection
            summary.connectionsOpened += 1
            connection.start()
        }
        for _ in 0..<settings.firstSessions(count: count) { open() }

        uv_run(loop, UV_RUN_DEFAULT)

        // Messages no session could take (every connection failed), or put back and never sent
        // again: each with the outcome it last had, or the last failure.
        for (index, outcome) in queue.drain(makeMessage: makeMessage,
                                            otherwise: failures.leftOver) {
            complete(index, outcome)
        }
        if let counts = tlsContext?.handshakeCounts {
            summary.tlsFullHandshakes = counts.full
            summary.tlsResumedHandshakes = counts.resumed
        }
        assert(live.isEmpty, "libuv loop ended with live connections")
        summary.loopClosedCleanly = live.isEmpty && uv_loop_close(loop) == 0
        assert(summary.loopClosedCleanly, "uv_loop_close failed: a handle was left open")
        return summary
    }

    /// Each session needs a descriptor: lift the soft limit towards the hard one when needed.
    static func raiseDescriptorLimit(toAtLeast wanted: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0, limits.rlim_cur < rlim_t(wanted) else { return }
        limits.rlim_cur = min(limits.rlim_max, rlim_t(wanted))
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits)
    }

    /// Convenience: sends the given messages, returning their reports in order.
    public func send(_ messages: [OutgoingMessage]) throws(SMTPClientError) -> [MessageOutcome] {
        var reports = [MessageOutcome?](repeating: nil, count: messages.count)
        _ = try run(count: messages.count, makeMessage: { messages[$0] }, completion: { reports[$0] = $1 })
        return reports.map { $0! }
    }
}
