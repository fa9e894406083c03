import NIOCore
import SMTPConnection
import SMTPCore
import SMTPTLS

/// One batch's state on its event loop: the live sessions, the queue, the summary, and the
/// batches' shared rule for replacing a session (`SessionReplacement`). `done` succeeds once the
/// last session has closed and every message has its outcome.
final class NIOBatch {
    let done: EventLoopPromise<BatchSummary>
    private let loop: any EventLoop
    private let addresses: [ResolvedAddress]
    private let settings: BatchSettings
    private let tlsContext: TLSClientContext?
    private let queue: SendQueue
    private let makeMessage: (Int) -> OutgoingMessage
    private let completion: (Int, MessageOutcome) -> Void

    private var summary = BatchSummary()
    private var live: [ObjectIdentifier: NIOSession] = [:]
    private var failures = BatchFailures()
    private var replacement: SessionReplacement
    /// The first sessions are being opened: one that ends at once does not end the batch.
    private var opening = false
    private var finished = false

    init(loop: any EventLoop, addresses: [ResolvedAddress], settings: BatchSettings, tlsContext: TLSClientContext?,
         count: Int, makeMessage: @escaping (Int) -> OutgoingMessage, completion: @escaping (Int, MessageOutcome) -> Void) {
        self.loop = loop
        self.addresses = addresses
        self.settings = settings
        self.tlsContext = tlsContext
        queue = SendQueue(count: count, maxAttempts: settings.maxAttempts)
        replacement = SessionReplacement(settings)
        self.makeMessage = makeMessage
        self.completion = completion
        done = loop.makePromise(of: BatchSummary.self)
    }

    /// Opens the first sessions.
    func open(sessions: Int) {
        opening = true
        for _ in 0..<sessions { openSession() }
        opening = false
        if live.isEmpty { finish() }
    }

    private func openSession() {
        let session = NIOSession(loop: loop, addresses: addresses, options: settings.options, tlsContext: tlsContext,
                                 messageLimit: settings.messagesPerSession,
                                 // Strong references: the batch lives as long as a session does.
                                 supplier: { session in self.nextMessage(for: session) },
                                 observer: settings.observer, onClosed: { session in self.closed(session) })
        live[ObjectIdentifier(session)] = session
        summary.connectionsOpened += 1
        session.start()
    }

    private func nextMessage(for session: NIOSession) -> (OutgoingMessage, ClientConnection.Completion)? {
        // The session's message limit is its connection's supply limit (`messageLimit`).
        guard let index = queue.next() else { return nil }
        return (makeMessage(index), { [unowned self, unowned session] outcome in
            switch self.queue.finish(index, with: outcome) {
            case .retry:
                self.summary.retried += 1
                session.retiring = true
            case .final:
                if outcome.deliveredCount > 0 { session.deliveredMessages += 1 }
                self.complete(index, outcome)
            }
        })
    }

    private func complete(_ index: Int, _ outcome: MessageOutcome) {
        summary.count(outcome)
        completion(index, outcome)
        if queue.isDone {
            // Every message is done: a session that never took one (still connecting, or
            // waiting for a greeting) has nothing left to do.
            for session in live.values where session.startedMessages == 0 { session.cancel() }
        }
    }

    private func closed(_ session: NIOSession) {
        live.removeValue(forKey: ObjectIdentifier(session))
        failures.sessionEnded(with: session.failure, summary: &summary)
        // Replace a session while messages wait (a retired one, or one the server ended).
        if queue.waiting > 0, !queue.isDone,
           replacement.replaces(delivered: session.deliveredMessages, started: session.startedMessages,
                                retiring: session.retiring, failure: session.connection?.failure) {
            openSession()
        }
        if live.isEmpty, !opening { finish() }
    }

    /// The last session closed: messages no session could take end with the outcome they last
    /// had, or the last failure.
    private func finish() {
        guard !finished else { return }
        finished = true
        for (index, outcome) in queue.drain(makeMessage: makeMessage,
                                            otherwise: failures.leftOver) {
            complete(index, outcome)
        }
        if let counts = tlsContext?.handshakeCounts {
            summary.tlsFullHandshakes = counts.full
            summary.tlsResumedHandshakes = counts.resumed
        }
        done.succeed(summary)
    }
}
