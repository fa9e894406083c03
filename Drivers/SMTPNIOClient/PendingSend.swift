import Logging
import NIO
import SMTPConnection
import SMTPCore

/// One `send` on its way: made in the caller's task, then used only on the pool's loop (hence
/// the unchecked conformance: the continuation is set before the hop to the loop, and every
/// other field is touched only there).
final class PendingSend: @unchecked Sendable {
    let message: OutgoingMessage
    let logger: Logger
    let deadline: ContinuousClock.Instant?
    let started: ContinuousClock.Instant
    var continuation: CheckedContinuation<MessageOutcome, any Error>?

    // On the loop only.
    var id: RequestID?
    /// The cancellation handler ran before the send reached the loop.
    var cancelRequested = false
    var ticket: MessageTicket?
    var deadlineTask: Scheduled<Void>?

    init(message: OutgoingMessage, logger: Logger, deadline: ContinuousClock.Instant?) {
        self.message = message
        self.logger = logger
        self.deadline = deadline
        started = .now
    }

    /// Hands the outcome to the caller, once.
    func resume(with result: Result<MessageOutcome, any Error>) {
        deadlineTask?.cancel()
        deadlineTask = nil
        continuation?.resume(with: result)
        continuation = nil
    }
}
