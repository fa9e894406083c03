import Glibc
import SMTPCore
import SMTPDriverCore

/// The message to send: the built-in test message, or a file, or standard input spooled to a
/// temporary file (so it streams in constant memory, can be resent, and has a size). A message of
/// at most 64 KiB is kept in memory after the scan, so load mode does not reopen the file for
/// every message.
struct MessageContent: Sendable {
    enum Source: Sendable {
        case inMemory([UInt8])
        case file(path: String, size: Int)
    }

    let source: Source
    /// Any octet above 127: the message needs 8BITMIME.
    let isEightBit: Bool

    /// A fresh body source for one send.
    func makeBody() throws -> any MessageBodySource {
        switch source {
        case .inMemory(let bytes): return BytesBody(bytes)
        case .file(let path, _): return try FileBody(path: path)
        }
    }

    var size: Int {
        switch source {
        case .inMemory(let bytes): bytes.count
        case .file(_, let size): size
        }
    }

    static func builtIn(from sender: String, to recipients: [String], heloDomain: String) -> MessageContent {
        let date = rfc5322Now()
        let id = "\(randomUUID())@\(heloDomain)"
        let text = """
            \(folded("To", recipients))\r
            From: \(sender.isEmpty ? "<>" : sender)\r
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
        return MessageContent(source: .inMemory(bytes), isEightBit: bytes.contains { $0 >= 0x80 })
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

    /// Reads `path` ("-" is standard input) once to learn its size and whether it is 8-bit.
    static func file(_ path: String) throws -> MessageContent {
        let readPath: String
        if path == "-" {
            readPath = try spoolStandardInput()
        } else {
            readPath = path
        }
        let body = try FileBody(path: readPath)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var size = 0
        var kept: [UInt8]? = []
        var eightBit = false
        var lineLength = 0
        var line = 1
        while true {
            let count = try body.read(into: buffer)
            if count == 0 { break }
            for byte in buffer[0..<count] {
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
            size += count
            if kept != nil, size <= keptLimit { kept! += buffer[0..<count] } else { kept = nil }
        }
        if let kept { return MessageContent(source: .inMemory(kept), isEightBit: eightBit) }
        return MessageContent(source: .file(path: readPath, size: size), isEightBit: eightBit)
    }

    static let keptLimit = 64 * 1024

    /// Copies standard input to a temporary file in 64 KiB steps.
    private static func spoolStandardInput() throws -> String {
        var template = Array(((environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp") + "/smtp-send.XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw MessageSourceError("cannot create a temporary file for standard input") }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { close(descriptor) }
        let input = FileBody(descriptor: 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try input.read(into: buffer)
            if count == 0 { break }
            var offset = 0
            while offset < count {
                let written = write(descriptor, buffer.baseAddress! + offset, count - offset)
                guard written > 0 else { throw MessageSourceError("cannot spool standard input: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
        TemporaryFiles.register(path)
        return path
    }
}

/// Temporary files removed at exit.
enum TemporaryFiles {
    nonisolated(unsafe) static var paths: [String] = []

    static func register(_ path: String) { paths.append(path) }

    static func removeAll() {
        for path in paths { unlink(path) }
        paths.removeAll()
    }
}
