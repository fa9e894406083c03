/// Where an attachment's octets come from: a `Sendable` value that opens a fresh reader each
/// time the message is sent, so an attachment of any size streams in constant memory.
/// SMTPMessageContent provides one for files (`FileAttachment`); `BytesAttachment` holds bytes.
public protocol AttachmentSource: Sendable {
    /// Octets the source holds; a reader that yields a different count fails the message.
    var byteCount: Int { get }
    /// A reader positioned at the first octet.
    func makeReader() throws(MessageBuildError) -> any AttachmentReader
}

/// One pass over an attachment's octets.
public protocol AttachmentReader: AnyObject {
    /// Fills the start of `destination`; returns how many octets (0 at the end).
    func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageBuildError) -> Int
}

/// Attachment octets held in memory.
public struct BytesAttachment: AttachmentSource {
    /// The octets.
    public let bytes: [UInt8]
    /// A source of these octets.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var byteCount: Int { bytes.count }

    /// A fresh pass over the octets.
    public func makeReader() throws(MessageBuildError) -> any AttachmentReader { Reader(bytes) }

    private final class Reader: AttachmentReader {
        private let bytes: [UInt8]
        private var offset = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageBuildError) -> Int {
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
