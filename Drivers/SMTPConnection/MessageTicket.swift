/// Names one message given to a `ClientConnection` (`enqueue` returns it), so that the caller
/// can withdraw it later (`cancelMessage`). Unique within its connection.
public struct MessageTicket: Hashable, Sendable, CustomStringConvertible {
    /// The message's number on its connection: 1 for the first enqueued, counting up.
    public let rawValue: UInt64
    /// The ticket with this number.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// "ticket " and the number.
    public var description: String { "ticket \(rawValue)" }
}
