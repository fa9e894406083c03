import SMTPConnection
import SMTPCore

/// Why the pool stops a message before its end: the caller's task was cancelled, the send's
/// overall deadline passed, or the client shut down and its grace period ran out.
enum StopReason: Hashable, Sendable {
    case cancelled
    case deadlineExceeded
    case shutdown
}

/// The three places where the pool asks the engine (through `ClientConnection`) to decide:
/// one function each, so wiring the engine's per-message cancel and reuse-RSET is a one-line
/// change per function (see the branch wip-cancel).
///
/// Until those land: cancelling a message given to a connection cancels that connection's
/// session (`ClientConnection.cancel`), which is what the engine then reports for every message
/// on it (the pool carries one message per connection by default, so only that one); a message
/// withdrawn before any connection took it reports `.sessionEnded(.cancelled)`; reuse sends
/// nothing before the next message.
enum EngineSeams {
    /// The failure of a message withdrawn from the pool's own queue (never given to a connection).
    static func withdrawnFailure(_ reason: StopReason) -> TransactionFailure {
        switch reason {
        case .cancelled, .deadlineExceeded, .shutdown: .sessionEnded(.cancelled)
        }
    }

    /// Stops one message that a connection holds; the engine reports its outcome through the
    /// message's completion.
    static func cancel(_ ticket: MessageTicketSeam, on connection: ClientConnection, because reason: StopReason,
                       at now: SMTPInstant) {
        connection.cancel(at: now)
    }

    /// A connection that carried a message before takes another: RSET first (Postfix's client
    /// does the same when it reuses a cached connection).
    static func resetBeforeReuse(_ connection: ClientConnection, at now: SMTPInstant) {}

    /// Queues a message on a connection, returning what `cancel` needs to name it.
    static func enqueue(_ message: OutgoingMessage, on connection: ClientConnection, at now: SMTPInstant,
                        completion: @escaping ClientConnection.Completion) -> MessageTicketSeam {
        connection.enqueue(message, completion: completion, at: now)
        return MessageTicketSeam()
    }
}

/// Stands for `ClientConnection.MessageTicket` until it exists.
struct MessageTicketSeam: Hashable, Sendable {}
