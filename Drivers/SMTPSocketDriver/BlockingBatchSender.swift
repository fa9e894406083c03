import Glibc
import SMTPConnection
import SMTPCore
import SMTPTLS

/// Sends a batch of messages over N blocking sessions, one thread each, all pulling from one
/// `SendQueue`, by the same rules as `UVBatchSender`. A message the server never took (refused
/// at MAIL with a 4xx, or the connection ended before it) goes back to the queue and its session
/// retires; the thread opens a new session and carries on. A session that delivered something
/// is always replaced; one that delivered nothing only when the next may fare better (it
/// retired, or had started messages, or was never greeted where messages may be tried again),
/// at most twice per connection in all; one refused outright (the connection, TLS, AUTH) is not.
/// `completion` runs once per message, on one thread at a time.
public final class BlockingBatchSender {
    private let settings: BatchSettings

    /// `observer` sees the first session's events only (a transcript of one session, not of N
    /// interleaved).
    /// `maxAttempts`: how often a message the server never took is sent (1: never again).
    /// `messagesPerSession`: a session quits after taking that many messages, and its thread opens
    /// a new one (nil: no limit). Every session shares one TLS context, so each new connection
    /// may resume a TLS session an earlier one was given.
    public init(options: ClientOptions, connections: Int, maxAttempts: Int = 5, messagesPerSession: Int? = nil,
                observer: SessionObserver? = nil) {
        settings = BatchSettings(options: options, connections: connections, maxAttempts: maxAttempts,
                                 messagesPerSession: messagesPerSession, observer: observer)
    }

    /// Sends `count` messages made by `makeMessage(index)`. Throws only a caller's mistake, before
    /// any I/O; everything else is in the outcomes and the summary.
    public func run(count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                    completion: @escaping (Int, MessageOutcome) -> Void) throws(SMTPClientError) -> BatchSummary {
        let settings = settings
        let options = settings.options
        try options.validate()
        let tlsContext = try options.makeTLSContext()
        let shared = Shared(settings, count: count, makeMessage: makeMessage, completion: completion)
        Threads.run(settings.firstSessions(count: count)) { [observer = settings.observer, messagesPerSession = settings.messagesPerSession] thread in
            var first = thread == 0
            while shared.queue.waiting > 0 {
                let session: BlockingSession
                do {
                    session = try BlockingSession(options: options, tlsContext: tlsContext, observer: first ? observer : nil)
                } catch {
                    return // checked above: cannot happen
                }
                first = false
                shared.opened()
                var retiring = false
                var delivered = 0
                var taken = 0
                // Messages are taken only as the engine starts them: a session that never became
                // ready (refused, never greeted, TLS or AUTH refused) takes none, as in the other
                // batches, and the queue keeps them.
                session.sendSupplied(limit: messagesPerSession, pulling: {
                    guard !retiring, let index = shared.queue.next() else { return nil }
                    taken += 1
                    return (shared.message(index), { outcome in
                        switch shared.queue.finish(index, with: outcome) {
                        case .retry:
                            retiring = true
                            shared.retried()
                        case .final:
                            if outcome.deliveredCount > 0 { delivered += 1 }
                            shared.complete(index, outcome)
                        }
                    })
                })
                session.close()
                shared.ended(session.failure)
                guard shared.queue.waiting > 0,
                      shared.replaces(delivered: delivered, started: taken, retiring: retiring, failure: session.failure) else { return }
            }
        }
        for (index, outcome) in shared.queue.drain(makeMessage: shared.message,
                                                   otherwise: shared.failures.leftOver) {
            shared.complete(index, outcome)
        }
        var summary = shared.summary
        if let counts = tlsContext?.handshakeCounts {
            summary.tlsFullHandshakes = counts.full
            summary.tlsResumedHandshakes = counts.resumed
        }
        return summary
    }

    /// What the threads share, behind one lock.
    private final class Shared: @unchecked Sendable {
        let queue: SendQueue
        private var replacement: SessionReplacement
        private let makeMessage: (Int) -> OutgoingMessage
        private let completion: (Int, MessageOutcome) -> Void
        private(set) var summary = BatchSummary()
        private(set) var failures = BatchFailures()
        private let lock = Lock()

        init(_ settings: BatchSettings, count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
             completion: @escaping (Int, MessageOutcome) -> Void) {
            queue = SendQueue(count: count, maxAttempts: settings.maxAttempts)
            replacement = SessionReplacement(settings)
            self.makeMessage = makeMessage
            self.completion = completion
        }

        private func locked<T>(_ body: () -> T) -> T { lock.withLock(body) }

        func message(_ index: Int) -> OutgoingMessage { locked { makeMessage(index) } }
        func opened() { locked { summary.connectionsOpened += 1 } }
        func retried() { locked { summary.retried += 1 } }

        func complete(_ index: Int, _ outcome: MessageOutcome) {
            locked {
                summary.count(outcome)
                completion(index, outcome)
            }
        }

        func ended(_ failure: SMTPError?) { locked { failures.sessionEnded(with: failure, summary: &summary) } }

        func replaces(delivered: Int, started: Int, retiring: Bool, failure: SMTPError?) -> Bool {
            locked { replacement.replaces(delivered: delivered, started: started, retiring: retiring, failure: failure) }
        }
    }
}

/// Runs `body(0..<count)` on `count` threads and waits for all of them.
enum Threads {
    static func run(_ count: Int, stackSize: Int = 1 << 20, _ body: @escaping (Int) -> Void) {
        final class Job: @unchecked Sendable {
            let index: Int
            let body: (Int) -> Void
            init(_ index: Int, _ body: @escaping (Int) -> Void) { (self.index, self.body) = (index, body) }
        }
        var threads: [pthread_t] = []
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, stackSize)
        defer { pthread_attr_destroy(&attributes) }
        for index in 0..<count {
            let job = Unmanaged.passRetained(Job(index, body)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, &attributes, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                job.body(job.index)
                return nil
            }, job)
            if status == 0 {
                threads.append(thread)
            } else {
                // No thread: run this one here rather than lose it.
                let job = Unmanaged<Job>.fromOpaque(job).takeRetainedValue()
                job.body(job.index)
            }
        }
        for thread in threads { pthread_join(thread, nil) }
    }
}
