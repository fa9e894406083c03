/// Why the caller withdrew one message (`SMTPMachine.cancelTransaction(_:because:at:)`).
public enum CancelReason: Hashable, Sendable, CustomStringConvertible {
    /// The caller's task was cancelled.
    case cancelled
    /// The send's overall deadline passed.
    case deadlineExceeded

    /// A stable identifier for programs: "cancelled" or "deadline-exceeded".
    public var code: String {
        switch self {
        case .cancelled: "cancelled"
        case .deadlineExceeded: "deadline-exceeded"
        }
    }

    /// The reason in words.
    public var description: String {
        switch self {
        case .cancelled: "the send was cancelled"
        case .deadlineExceeded: "the send's deadline passed"
        }
    }
}
