/// What `SMTPAsyncClient.send` throws: only the caller's own doing. Everything that happens
/// with the server (refusals, throttling, timeouts, cancellation) is in the `MessageOutcome`.
public enum SMTPAsyncClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The client was shut down (`shutdown()`, or its service ended): it takes no new sends.
    case shutDown

    /// The error in words.
    public var description: String {
        switch self {
        case .shutDown: "the SMTP client has been shut down"
        }
    }
}
