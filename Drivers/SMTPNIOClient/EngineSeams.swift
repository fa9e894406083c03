import SMTPConnection
import SMTPCore

/// Why the pool stops a message before its end: the caller's task was cancelled, the send's
/// overall deadline passed, or the client shut down and its grace period ran out.
enum StopReason: Hashable, Sendable {
    case cancelled
    case deadlineExceeded
    case shutdown

    /// The engine's word for it.
    var engineReason: CancelReason {
        switch self {
        case .cancelled: .cancelled
        case .deadlineExceeded: .deadlineExceeded
        case .shutdown: .shutdown
        }
    }
}

/// The places where the pool hands a decision to the engine (through `ClientConnection`), one
/// function each: the engine is the one protocol brain, the pool only says what it wants.
enum EngineSeams {
    /// The failure of a message withdrawn from the pool's own queue (never given to a
    /// connection): the same words the engine gives a message it withdrew.
    static func withdrawnFailure(_ reason: StopReason) -> TransactionFailure {
        .cancelled(reason.engineReason)
    }

    /// Stops one message that a connection holds; the engine decides its outcome (withdrawn,
    /// RSET after its replies, the connection dropped, or unknown once the final dot went out)
    /// and reports it through the message's completion.
    static func cancel(_ ticket: MessageTicket, on connection: ClientConnection, because reason: StopReason,
                       at now: SMTPInstant) {
        connection.cancelMessage(ticket, because: reason.engineReason, at: now)
    }

    /// A connection that carried a message before takes another: RSET first (Postfix's client
    /// does the same when it reuses a cached connection); pipelined with the next MAIL where the
    /// server offers PIPELINING.
    static func resetBeforeReuse(_ connection: ClientConnection, at now: SMTPInstant) {
        connection.resetBeforeNextMessage(at: now)
    }

    /// Queues a message on a connection, returning what `cancel` needs to name it.
    static func enqueue(_ message: OutgoingMessage, on connection: ClientConnection, at now: SMTPInstant,
                        completion: @escaping ClientConnection.Completion) -> MessageTicket {
        connection.enqueue(message, completion: completion, at: now)
    }
}
