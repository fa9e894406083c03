import SMTPCore

/// A batch sender's settings as its public initialiser takes them, normalised once (the socket,
/// libuv and SwiftNIO batches take the same five).
package struct BatchSettings {
    package let options: ClientOptions
    /// Sessions at once (at least 1).
    package let sessions: Int
    /// How often a message the server never took is sent (1: never again).
    package let maxAttempts: Int
    /// A session takes at most this many messages, then quits (at least 1; nil: no limit).
    package let messagesPerSession: Int?
    package let observer: SessionObserver?

    package init(options: ClientOptions, connections: Int, maxAttempts: Int, messagesPerSession: Int?,
                 observer: SessionObserver?) {
        self.options = options
        self.sessions = max(1, connections)
        self.maxAttempts = maxAttempts
        self.messagesPerSession = messagesPerSession.map { max(1, $0) }
        self.observer = observer
    }

    /// The sessions to open first for `count` messages.
    package func firstSessions(count: Int) -> Int { min(sessions, max(1, count)) }
}

/// The one rule every batch sender follows when a session ends while messages still wait.
///
/// A session that delivered something is replaced: it ended for a reason of its own (a
/// per-session message limit, a 421 after many messages). One that delivered nothing is
/// replaced only when the next may fare better, and within a budget of two per session: it
/// retired because a message went back to the queue, or it had started messages, or (where
/// messages may be tried again) the server never greeted it. A session refused outright (the
/// connection, TLS, AUTH) is not replaced: the next one would be refused too, and the messages
/// end with that failure.
package struct SessionReplacement {
    private var fruitlessLeft: Int
    private let maxAttempts: Int

    package init(_ settings: BatchSettings) {
        fruitlessLeft = settings.sessions * 2
        maxAttempts = settings.maxAttempts
    }

    /// Whether to open a new session in place of one that ended: it had `delivered` messages
    /// delivered, `started` messages started, was `retiring` (a message went back to the queue),
    /// and ended with `failure` (nil after a clean end). Spends the budget when it says yes to a
    /// session that delivered nothing.
    package mutating func replaces(delivered: Int, started: Int, retiring: Bool, failure: SMTPError?) -> Bool {
        if delivered > 0 { return true }
        guard fruitlessLeft > 0,
              retiring || started > 0 || maxAttempts > 1 && failure == .timeout(.greeting) else { return false }
        fruitlessLeft -= 1
        return true
    }
}

/// What a batch keeps of its sessions' failures: the last one, which every message no session
/// could take ends with, and the summary's words for it (the same in every driver).
package struct BatchFailures {
    package private(set) var last: SMTPError?

    package init() {}

    /// A session ended with `failure` (nil after a clean end; a session the batch cancelled
    /// did not fail). A failure to connect also names the transport's reason in the summary.
    package mutating func sessionEnded(with failure: SMTPError?, summary: inout BatchSummary) {
        guard let failure, failure != .cancelled else { return }
        last = failure
        summary.lastError = "\(failure)"
        if case .transportFailed(let transport, .connect) = failure { summary.connectFailure = transport }
    }

    /// Why a message still waiting when the last session ended was never sent.
    package var leftOver: TransactionFailure { .sessionEnded(last ?? .connectionClosed(.connect)) }
}
