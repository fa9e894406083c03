/// Why the caller withdrew one message (`SMTPMachine.cancelTransaction(_:because:at:)`).
public enum CancelReason: Hashable, Sendable, CustomStringConvertible {
    /// The caller's task was cancelled.
    case cancelled
    /// The send's overall deadline passed.
    case deadlineExceeded
    /// The client shut down (its grace period ran out) before the send was done.
    case shutdown

    /// A stable identifier for programs: "cancelled", "deadline-exceeded" or "shutdown".
    public var code: String {
        switch self {
        case .cancelled: "cancelled"
        case .deadlineExceeded: "deadline-exceeded"
        case .shutdown: "shutdown"
        }
    }

    /// The reason in words.
    public var description: String {
        switch self {
        case .cancelled: "the send was cancelled"
        case .deadlineExceeded: "the send's deadline passed"
        case .shutdown: "the client shut down"
        }
    }
}
