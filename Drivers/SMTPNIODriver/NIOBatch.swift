import NIOCore
import SMTPConnection
import SMTPCore
import SMTPTLS

/// One batch's state on its event loop: the live sessions, the queue, the summary, and the rule
/// for replacing a session (the libuv batch's rule, word for word). `done` succeeds once the
/// last session has closed and every message has its outcome.
final class NIOBatch {
    let done: EventLoopPromise<BatchSummary>
    private let loop: any EventLoop
    private let addresses: [ResolvedAddress]
    private let options: ClientOptions
    private let tlsContext: TLSClientContext?
    private let queue: SendQueue
    private let maxAttempts: Int
    private let messagesPerSession: Int?
    private let observer: SessionObserver?
    private let makeMessage: (Int) -> OutgoingMessage
    private let completion: (Int, MessageOutcome) -> Void

    private var summary = BatchSummary()
    private var live: [ObjectIdentifier: NIOSession] = [:]
    private var lastFailure: SMTPError?
    /// Replacing a session that made progress is always right (a per-connection limit, a 421
    /// after many messages); one that made none is replaced at most this often.
    private var fruitlessReplacementsLeft = 0
    /// The first sessions are being opened: one that ends at once does not end the batch.
    private var opening = false
    private var finished = false

    init(loop: any EventLoop, addresses: [ResolvedAddress], options: ClientOptions, tlsContext: TLSClientContext?,
         queue: SendQueue, maxAttempts: Int, messagesPerSession: Int?, observer: SessionObserver?,
         makeMessage: @escaping (Int) -> OutgoingMessage, completion: @escaping (Int, MessageOutcome) -> Void) {
        self.loop = loop
        self.addresses = addresses
        self.options = options
        self.tlsContext = tlsContext
        self.queue = queue
        self.maxAttempts = maxAttempts
        self.messagesPerSession = messagesPerSession
        self.observer = observer
        self.makeMessage = makeMessage
        self.completion = completion
        done = loop.makePromise(of: BatchSummary.self)
    }

    /// Opens the first sessions.
    func open(sessions: Int) {
        fruitlessReplacementsLeft = sessions * 2
        opening = true
        for _ in 0..<sessions { openSession() }
        opening = false
        if live.isEmpty { finish() }
    }

    private func openSession() {
        let session = NIOSession(loop: loop, addresses: addresses, options: options, tlsContext: tlsContext,
                                 messageLimit: messagesPerSession,
                                 // Strong references: the batch lives as long as a session does.
                                 supplier: { session in self.nextMessage(for: session) },
                                 observer: observer, onClosed: { session in self.closed(session) })
        live[ObjectIdentifier(session)] = session
        summary.connectionsOpened += 1
        session.start()
    }

    private func nextMessage(for session: NIOSession) -> (OutgoingMessage, ClientConnection.Completion)? {
        if let messagesPerSession, session.startedMessages >= messagesPerSession { return nil }
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
        if let failure = session.connection?.failure, failure != .cancelled {
            lastFailure = failure
            summary.lastError = "\(failure)"
        } else if let failure = session.connectFailure {
            summary.connectFailure = failure
            lastFailure = .couldNotConnect(failure)
            summary.lastError = "\(failure)"
        }
        // Replace a session while messages wait (a retired one, or one the server ended).
        if queue.waiting > 0, !queue.isDone {
            if session.deliveredMessages > 0 {
                openSession()
            } else if fruitlessReplacementsLeft > 0, session.retiring || session.startedMessages > 0
                        || (maxAttempts > 1 && session.connection?.failure == .timeout(.greeting)) {
                // (A session never greeted is replaced only where messages may be tried again.)
                fruitlessReplacementsLeft -= 1
                openSession()
            }
        }
        if live.isEmpty, !opening { finish() }
    }

    /// The last session closed: messages no session could take end with the outcome they last
    /// had, or the last failure.
    private func finish() {
        guard !finished else { return }
        finished = true
        for (index, outcome) in queue.drain(makeMessage: makeMessage,
                                            otherwise: .sessionEnded(lastFailure ?? .connectionClosed(.connect))) {
            complete(index, outcome)
        }
        if let counts = tlsContext?.handshakeCounts {
            summary.tlsFullHandshakes = counts.full
            summary.tlsResumedHandshakes = counts.resumed
        }
        done.succeed(summary)
    }
}
