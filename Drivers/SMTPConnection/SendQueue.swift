import SMTPCore

/// The queue every batch sender pulls from (the libuv batch, the socket batch, the load mode),
/// and the one rule they share for a message the server never took.
///
/// Sessions take the next message when they can start one (`next()`), and hand back each
/// outcome (`finish(_:with:)`). An outcome the engine marks `isSafeToRetry` (refused at MAIL
/// with a 4xx such as "452 4.5.3 Too many messages", or the connection ended before the message
/// reached the server, as after a 421) puts the message back at the front of the queue, at most
/// `maxAttempts` times, and tells the session to retire: it takes no more messages, and the
/// sender opens a replacement. Every other outcome is final. Thread-safe.
public final class SendQueue: @unchecked Sendable {
    /// What a session does after handing back an outcome.
    public enum Disposition: Sendable, Equatable {
        /// The outcome is final: report it, and go on.
        case final
        /// The message went back to the queue: report nothing, take no more messages on this
        /// session, and end it.
        case retry
    }

    /// How many messages the batch has, indexed from 0.
    public let count: Int
    /// The most times one message is tried (at least 1).
    public let maxAttempts: Int
    private var fresh = 0
    private var again: [Int] = []
    private var attempts: [Int: Int] = [:]
    /// The last outcome of each message waiting to be sent again.
    private var lastOutcome: [Int: MessageOutcome] = [:]
    private var finished = 0
    private var lastRetryFailure: TransactionFailure?
    private let lock = Lock()

    /// A queue of `count` messages, each tried at most `maxAttempts` times.
    public init(count: Int, maxAttempts: Int = 5) {
        self.count = count
        self.maxAttempts = max(1, maxAttempts)
    }

    private func locked<T>(_ body: () -> T) -> T { lock.withLock(body) }

    /// The index of the next message to send, or nil when none waits now.
    public func next() -> Int? {
        locked {
            if !again.isEmpty { return again.removeFirst() }
            guard fresh < count else { return nil }
            defer { fresh += 1 }
            return fresh
        }
    }

    /// Hands back message `index`'s outcome.
    public func finish(_ index: Int, with outcome: MessageOutcome) -> Disposition {
        locked {
            let tries = attempts[index, default: 0] + 1
            if outcome.isSafeToRetry, tries < maxAttempts {
                attempts[index] = tries
                lastOutcome[index] = outcome
                lastRetryFailure = outcome.failure
                again.append(index)
                return .retry
            }
            attempts[index] = nil
            lastOutcome[index] = nil
            finished += 1
            return .final
        }
    }

    /// Ends the queue: every message still waiting, with the outcome it last had when it was
    /// sent and put back; one never sent gets the reason the last message was put back, or
    /// `otherwise`. They count as finished.
    public func drain(makeMessage: (Int) -> OutgoingMessage, otherwise: TransactionFailure) -> [(index: Int, outcome: MessageOutcome)] {
        locked {
            let reason = lastRetryFailure ?? otherwise
            var left = again.map { ($0, lastOutcome[$0] ?? .notAttempted(makeMessage($0).envelope, because: reason)) }
            left += (fresh..<count).map { ($0, MessageOutcome.notAttempted(makeMessage($0).envelope, because: reason)) }
            again.removeAll()
            lastOutcome.removeAll()
            fresh = count
            finished += left.count
            return left
        }
    }

    /// Every message has its final outcome.
    public var isDone: Bool { locked { finished == count } }

    /// Messages without a final outcome that no session holds: waiting to be sent (again).
    public var waiting: Int { locked { again.count + (count - fresh) } }
}
