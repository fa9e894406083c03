import Glibc

/// Where a message's content comes from. A source is read in chunks, so content of any size
/// streams in constant memory; `rewind` starts it over (needed only when recipients beyond the
/// server's limit go in a second transaction).
public protocol MessageBodySource: AnyObject {
    /// The content's size in octets, when known in advance (SIZE= and the last-chunk hint).
    var knownSize: Int? { get }
    /// Fills the start of `destination`; returns how many octets (0 at the end).
    func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int
    /// Starts over from the first octet.
    func rewind() throws(MessageSourceError)
}

public struct MessageSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Content held in memory (shared, not copied, when the same bytes go out many times).
public final class BytesBody: MessageBodySource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var knownSize: Int? { bytes.count }

    public func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
        let count = min(destination.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            destination.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }

    public func rewind() throws(MessageSourceError) { offset = 0 }
}

/// Content read from a file descriptor: a regular file (rewindable, size known) or a stream
/// such as standard input (read once, never rewound).
public final class FileBody: MessageBodySource {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let isRegularFile: Bool
    public let knownSize: Int?
    private let label: String

    /// Opens `path` for reading.
    public convenience init(path: String) throws(MessageSourceError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw MessageSourceError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.init(descriptor: descriptor, ownsDescriptor: true, label: path)
    }

    /// Reads from an already open descriptor (standard input: `FileBody(descriptor: 0)`).
    public convenience init(descriptor: Int32) {
        self.init(descriptor: descriptor, ownsDescriptor: false, label: "descriptor \(descriptor)")
    }

    private init(descriptor: Int32, ownsDescriptor: Bool, label: String) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.label = label
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            isRegularFile = true
            let position = lseek(descriptor, 0, SEEK_CUR)
            knownSize = Int(info.st_size) - Int(max(0, position))
        } else {
            isRegularFile = false
            knownSize = nil
        }
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The first `limit` octets of a small file (a password file, /etc/hosts), or nil when it
    /// cannot be opened or read.
    public static func contents(of path: String, limit: Int) -> [UInt8]? {
        guard let file = try? FileBody(path: path) else { return nil }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            guard let count = try? buffer.withUnsafeMutableBytes({ try file.read(into: $0) }) else { return nil }
            if count == 0 { break }
            bytes += buffer[0..<min(count, limit - bytes.count)]
        }
        return bytes
    }

    public func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
        guard let base = destination.baseAddress, destination.count > 0 else { return 0 }
        var result = 0
        repeat {
            result = Glibc.read(descriptor, base, destination.count)
        } while result < 0 && errno == EINTR
        guard result >= 0 else {
            throw MessageSourceError("cannot read \(label): \(String(cString: strerror(errno)))")
        }
        return result
    }

    public func rewind() throws(MessageSourceError) {
        guard isRegularFile, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw MessageSourceError("cannot send \(label) twice (not a regular file)")
        }
    }
}
