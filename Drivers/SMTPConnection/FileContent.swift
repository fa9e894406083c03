import Glibc
import SMTPCore

/// Content read from a regular file, streamed in constant memory.
///
/// The file is opened and read once when the value is made (to learn its size, and to let the
/// caller inspect every octet), and kept open: every send reads that same file with its own
/// offset, so what was checked is what is sent, even from an unlinked spool file. A file that
/// changes after the check (its size or modification time differ, or it is shorter or longer
/// than it was) fails its message instead of sending something else.
public struct FileContent: MessageContent {
    public let size: Int?
    /// Octets in the file.
    public let fileSize: Int
    private let file: OpenFile
    private let modified: timespec
    private let label: String

    /// Opens `path`, which must be a regular file. `inspect` sees every octet of the file, in
    /// order, in chunks (to refuse a message before connecting); what it throws is rethrown.
    public init(path: String, inspect: (UnsafeRawBufferPointer) throws -> Void = { _ in }) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw MessageSourceError("cannot open \(path): \(SystemError.words(errno))") }
        try self.init(descriptor: descriptor, label: path, inspect: inspect)
    }

    /// Takes ownership of `descriptor`, an open regular file (for example a spool file already
    /// unlinked), and reads it from its first octet.
    public init(descriptor: Int32, label: String, inspect: (UnsafeRawBufferPointer) throws -> Void = { _ in }) throws {
        let file = OpenFile(descriptor)
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw MessageSourceError("cannot read \(label): \(SystemError.words(errno))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw MessageSourceError("\(label) is not a regular file")
        }
        self.file = file
        self.label = label
        fileSize = Int(info.st_size)
        modified = info.st_mtim
        var counter = MessageSizeCounter()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while true {
            let count = try file.read(at: offset, into: buffer, label: label)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            try inspect(chunk)
            counter.add(chunk)
            offset += count
        }
        guard offset == fileSize else { throw MessageSourceError("\(label) changed while it was read") }
        size = counter.size
    }

    public func makeReader() throws(MessageSourceError) -> any MessageReader {
        try checkUnchanged()
        return Reader(content: self)
    }

    /// Throws unless the file still has the size and modification time it had when checked.
    private func checkUnchanged() throws(MessageSourceError) {
        var info = stat()
        guard fstat(file.descriptor, &info) == 0, Int(info.st_size) == fileSize,
              info.st_mtim.tv_sec == modified.tv_sec, info.st_mtim.tv_nsec == modified.tv_nsec else {
            throw MessageSourceError("\(label) changed after it was checked")
        }
    }

    private final class Reader: MessageReader {
        private let content: FileContent
        private var offset = 0

        init(content: FileContent) { self.content = content }

        var isAtEnd: Bool { offset == content.fileSize }

        func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageSourceError) -> Int {
            let wanted = min(destination.count, content.fileSize - offset)
            guard wanted > 0 else {
                try content.checkUnchanged()
                return 0
            }
            let count = try content.file.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<wanted]),
                                              label: content.label)
            guard count > 0 else { throw MessageSourceError("\(content.label) changed after it was checked") }
            offset += count
            // The last chunk goes with `isAtEnd` (no further read), so a file that grew or was
            // rewritten while it was sent is caught here, before the end of the data.
            if offset == content.fileSize { try content.checkUnchanged() }
            return count
        }
    }
}

/// A descriptor closed when the last value holding it goes. Reads use pread, so any number of
/// readers (on any thread) share it without sharing an offset.
final class OpenFile: @unchecked Sendable {
    let descriptor: Int32

    init(_ descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer, label: String) throws(MessageSourceError) -> Int {
        while true {
            let count = pread(descriptor, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno != EINTR { throw MessageSourceError("cannot read \(label): \(SystemError.words(errno))") }
        }
    }
}
