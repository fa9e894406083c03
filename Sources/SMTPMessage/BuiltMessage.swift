import SMTPCore

/// A checked message: its envelope (Bcc included, BODY= and SMTPUTF8 as the content and the
/// addresses need) and its content, which streams from `makeStream()` as often as it is sent.
/// Attachments are read from their sources at each send; nothing holds the whole message.
public struct BuiltMessage: Sendable {
    /// Size is set to the message size; bodyType is .eightBitMIME only when a part is sent
    /// 8bit or an address in the header is not ASCII; requiresSMTPUTF8 only when an address is
    /// not ASCII.
    public let envelope: Envelope
    /// Without angle brackets.
    public let messageID: String
    let segments: [Segment]
    /// Octets of the message as sent (CRLF line ends, ending with CRLF).
    public let size: Int

    init(envelope: Envelope, messageID: String, segments: [Segment]) {
        self.segments = segments
        self.messageID = messageID
        size = segments.reduce(0) { $0 + $1.size }
        var envelope = envelope
        envelope.size = size
        self.envelope = envelope
    }

    /// A fresh pass over the message's octets.
    public func makeStream() -> MessageStream { MessageStream(segments) }

    /// The whole message in memory (for small messages and tests).
    public func bytes() throws(MessageBuildError) -> [UInt8] {
        let stream = makeStream()
        var out: [UInt8] = []
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try stream.read(into: buffer)
            if count == 0 { return out }
            out += UnsafeRawBufferPointer(rebasing: buffer[0..<count])
        }
    }
}
