import Glibc
import SMTPConnection
import SMTPCore

/// The message to send, checked once before connecting: the built-in test message, or `--data`.
///
/// `--data` that is not a regular file (standard input, a pipe, a FIFO, `<(cmd)`) is copied to a
/// spool file first, so the octets checked are the octets sent, every time the message is sent.
/// The spool file is unlinked as soon as it is created (nothing is left on disk after an error
/// or Ctrl-C) and read through its open descriptor; it holds at most `limit` octets.
struct MessageSource: Sendable {
    let content: any MessageContent
    /// Any octet above 127: the message needs 8BITMIME.
    let isEightBit: Bool
    /// The message's header fields, read when asked for (`-t`, sendmail mode).
    var header: HeaderSection? = nil

    /// Default for `--max-size`: what is spooled from a stream, at most.
    static let defaultSpoolLimit = 100 * 1024 * 1024

    static func builtIn(from sender: String, to recipients: [String], heloDomain: String) -> MessageSource {
        let date = rfc5322Now()
        let id = "\(randomUUID())@\(heloDomain)"
        let text = """
            \(folded("To", recipients))\r
            From: \(sender.isEmpty ? "MAILER-DAEMON@\(heloDomain)" : sender)\r
            Subject: Test message from smtp-send\r
            Date: \(date)\r
            Message-ID: <\(id)>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=\(recipients.contains { !$0.allSatisfy(\.isASCII) } || !sender.allSatisfy(\.isASCII) ? "utf-8" : "us-ascii")\r
            \r
            Hello,\r
            \r
            This message was sent by smtp-send to check that mail goes through:\r
            the connection, STARTTLS where the server offers it, and delivery to\r
            every recipient listed in the envelope.\r
            \r
            No reply is needed.\r

            """
        let bytes = Array(text.utf8)
        return MessageSource(content: BytesContent(bytes), isEightBit: bytes.contains { $0 >= 0x80 })
    }

    /// "To: a, b,\r\n c" folded (RFC 5322 §2.2.3) so no line passes 78 characters, whatever
    /// the number of recipients.
    static func folded(_ name: String, _ addresses: [String]) -> String {
        var result = "\(name):"
        var lineLength = result.utf8.count
        for (index, address) in addresses.enumerated() {
            let item = address + (index == addresses.count - 1 ? "" : ",")
            if lineLength + 1 + item.utf8.count > 78, lineLength > name.utf8.count + 1 {
                result += "\r\n"
                lineLength = 0
            }
            result += " " + item
            lineLength += 1 + item.utf8.count
        }
        return result
    }

    /// `--data PATH` ("-" is standard input): spooled unless it is a regular file, then read once
    /// to check it (no NUL, no line over 998 octets) and learn its size and whether it is 8-bit.
    ///
    /// `readHeader`: parse the header section too (for `-t` and sendmail mode) and send a copy
    /// without its Bcc fields.
    static func file(_ path: String, spoolLimit: Int, readHeader: Bool = false) throws -> MessageSource {
        let descriptor = path == "-" ? dup(0) : open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw MessageSourceError("cannot open \(path == "-" ? "standard input" : path): \(SystemError.words(errno))")
        }
        let label = path == "-" ? "standard input" : path
        var info = stat()
        let regular = fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        var readable: Int32
        if regular && path != "-" {
            readable = descriptor
        } else {
            defer { close(descriptor) }
            readable = try spool(descriptor, label: label, limit: spoolLimit)
        }
        var header: HeaderSection?
        if readHeader {
            do {
                let section = try HeaderSection(descriptor: readable, label: label)
                if section.hasBcc {
                    let copy = try section.withoutBcc(readable, label: label)
                    close(readable)
                    readable = copy
                }
                header = section
            } catch {
                close(readable)
                throw MessageSourceError("\(error)")
            }
        }
        var checker = LineChecker()
        let content = try FileContent(descriptor: readable, label: label) { chunk in try checker.check(chunk) }
        return MessageSource(content: content, isEightBit: checker.eightBit, header: header)
    }

    /// Load mode sends one message many times: a file of at most `limit` octets is read once
    /// more, through the checked reader, and every copy is then sent from memory (a file read
    /// and two checks per copy cost more than the SMTP exchange on loopback). What is sent is
    /// still exactly what was checked.
    func inMemory(upTo limit: Int) throws -> MessageSource {
        guard let file = content as? FileContent, file.fileSize <= limit else { return self }
        let reader = try file.makeReader()
        var bytes = [UInt8](repeating: 0, count: file.fileSize)
        var filled = 0
        while true {
            let count = try bytes.withUnsafeMutableBytes { all in
                try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: all[filled...]))
            }
            if count == 0 { break }
            filled += count
        }
        guard filled == file.fileSize else { throw MessageSourceError("the message file changed while it was read") }
        return MessageSource(content: BytesContent(bytes), isEightBit: isEightBit, header: header)
    }

    /// Copies `input` to a spool file that is unlinked at once; returns its descriptor.
    private static func spool(_ input: Int32, label: String, limit: Int) throws -> Int32 {
        let directory = environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((directory + "/smtp-send.XXXXXX").utf8CString)
        let spool = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard spool >= 0 else {
            throw MessageSourceError("cannot create a spool file in \(directory) for \(label): \(SystemError.words(errno))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(spool, F_SETFD, FD_CLOEXEC)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let count = read(input, buffer.baseAddress, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                close(spool)
                throw MessageSourceError("cannot read \(label): \(SystemError.words(errno))")
            }
            if count == 0 { break }
            total += count
            guard total <= limit else {
                close(spool)
                throw MessageSourceError("\(label) is larger than --max-size \(limit) octets")
            }
            var offset = 0
            while offset < count {
                let written = write(spool, buffer.baseAddress! + offset, count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else {
                    let why = SystemError.words(errno)
                    close(spool)
                    throw MessageSourceError("cannot spool \(label) in \(directory): \(why)")
                }
                offset += written
            }
        }
        return spool
    }
}

/// What smtp-send refuses in a message before connecting, octet by octet across chunks.
private struct LineChecker {
    private(set) var eightBit = false
    private var lineLength = 0
    private var line = 1

    mutating func check(_ chunk: UnsafeRawBufferPointer) throws {
        for byte in chunk {
            switch byte {
            case 10:
                line += 1
                lineLength = 0
            case 13:
                lineLength = 0
            case 0:
                throw MessageSourceError("the message has a NUL byte (line \(line)): it cannot be sent as text")
            default:
                if byte >= 0x80 { eightBit = true }
                lineLength += 1
                if lineLength == 999 {
                    throw MessageSourceError("line \(line) of the message is longer than 998 octets")
                }
            }
        }
    }
}
