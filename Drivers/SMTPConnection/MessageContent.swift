import SMTPCore

/// Where a message's content comes from: a `Sendable` value that opens a fresh reader for every
/// transaction (and every further round of one), so the same message can be sent any number of
/// times, on any session, and each time it is sent whole.
///
/// Content streams: a reader fills the connection's chunk buffer, so content of any size is sent
/// in constant memory.
public protocol MessageContent: Sendable {
    /// The octets the content will be sent as, after line-end normalization (RFC 1870's message
    /// size, see `BodyEncoder.messageSize(of:)`), when known in advance. It becomes SIZE=, and
    /// the engine refuses to send more than it announced.
    var size: Int? { get }
    /// A reader positioned at the first octet.
    func makeReader() throws(MessageSourceError) -> any MessageReader
}

/// One pass over a message's content.
public protocol MessageReader: AnyObject {
    /// Fills the start of `destination`; returns how many octets (0 at the end).
    func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int
    /// True once the last octet was read (lets the last chunk travel as `BDAT n LAST`).
    var isAtEnd: Bool { get }
}

/// Why a message's content could not be read; the message fails with it.
public struct MessageSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reason in words.
    public var message: String
    /// An error with these words.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Content held in memory. Copies of the value share one buffer.
public struct BytesContent: MessageContent {
    /// The content's octets, as given.
    public let bytes: [UInt8]
    public let size: Int?

    /// Content of these octets; its size is counted as it will be sent.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        size = BodyEncoder.messageSize(of: bytes)
    }

    /// Content of this text's UTF-8.
    public init(_ text: String) { self.init(Array(text.utf8)) }

    public func makeReader() throws(MessageSourceError) -> any MessageReader { Reader(bytes) }

    private final class Reader: MessageReader {
        private let bytes: [UInt8]
        private var offset = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { offset == bytes.count }

        func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
            let count = min(destination.count, bytes.count - offset)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { source in
                destination.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
            return count
        }
    }
}

/// Content a caller produces on demand: `makeReader` runs once per transaction.
public struct StreamContent: MessageContent {
    public let size: Int?
    private let factory: @Sendable () throws(MessageSourceError) -> any MessageReader

    /// `size`, when given, must be the content's size after line-end normalization.
    public init(size: Int? = nil, makeReader: @escaping @Sendable () throws(MessageSourceError) -> any MessageReader) {
        self.size = size
        self.factory = makeReader
    }

    public func makeReader() throws(MessageSourceError) -> any MessageReader { try factory() }
}
