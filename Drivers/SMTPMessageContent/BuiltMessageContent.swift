import SMTPConnection
import SMTPCore
import SMTPMessage

/// A built message as `MessageContent`: every send opens a fresh `MessageStream`.
public struct BuiltMessageContent: MessageContent {
    /// The message this content streams.
    public let message: BuiltMessage
    /// The content of `message`.
    public init(_ message: BuiltMessage) { self.message = message }

    public var size: Int? { message.size }

    public func makeReader() throws(MessageSourceError) -> any MessageReader { Reader(message.makeStream()) }

    private final class Reader: MessageReader {
        private let stream: MessageStream
        init(_ stream: MessageStream) { self.stream = stream }

        var isAtEnd: Bool { stream.isAtEnd }

        func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
            do {
                return try stream.read(into: destination)
            } catch {
                throw MessageSourceError(error.message)
            }
        }
    }
}

extension BuiltMessage {
    /// The message content, to send any number of times.
    public var content: BuiltMessageContent { BuiltMessageContent(self) }

    /// The envelope and the content, ready for any driver.
    public var outgoing: OutgoingMessage { OutgoingMessage(envelope: envelope, content: content) }
}
