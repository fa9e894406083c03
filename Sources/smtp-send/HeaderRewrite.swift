import Glibc
import SMTPConnection

/// The header section of a message held in a file (a regular file or a spool), for `-t` and
/// sendmail mode: read with pread (the file's offset is left alone), and rewritten without
/// its Bcc fields into a new unlinked spool, the body copied in chunks (never held whole).
struct HeaderSection {
    /// The longest header section read: past it, the message is refused.
    static let limit = 1024 * 1024

    let fields: [HeaderParser.Field]
    /// Octets of the header section, its empty line included.
    let length: Int

    init(descriptor: Int32, label: String) throws {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw HeaderError("cannot read \(label): \(SystemError.words(errno))") }
            bytes += buffer[0..<count]
            if let end = HeaderParser.headerEnd(bytes) {
                length = end
                break
            }
            if count == 0 {
                length = bytes.count  // a message without a body: all header
                break
            }
            guard bytes.count <= HeaderSection.limit else {
                throw HeaderError("the header section of \(label) is longer than \(HeaderSection.limit) octets")
            }
        }
        let end = HeaderParser.headerEnd(bytes).map { $0 - (bytes[$0 - 2] == 13 ? 2 : 1) } ?? bytes.count
        fields = try HeaderParser.fields(bytes[0..<end])
    }

    /// The values of every field named `name` (case-insensitive).
    func values(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    var hasBcc: Bool { !values("Bcc").isEmpty }

    /// A new unlinked spool file holding the message without its Bcc fields: the other fields
    /// octet for octet, then the rest of `descriptor` from the end of its header fields.
    func withoutBcc(_ descriptor: Int32, label: String) throws -> Int32 {
        let directory = environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((directory + "/smtp-send.XXXXXX").utf8CString)
        let spool = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard spool >= 0 else { throw HeaderError("cannot create a spool file in \(directory): \(SystemError.words(errno))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(spool, F_SETFD, FD_CLOEXEC)
        do {
            var kept: [UInt8] = []
            for field in fields where field.name.lowercased() != "bcc" { kept += field.raw }
            try Self.write(spool, kept[...], label: label)
            let fieldsEnd = fields.last.map { $0.raw.endIndex } ?? 0
            var offset = fieldsEnd
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
                if count < 0, errno == EINTR { continue }
                guard count >= 0 else { throw HeaderError("cannot read \(label): \(SystemError.words(errno))") }
                if count == 0 { break }
                try Self.write(spool, buffer[0..<count], label: label)
                offset += count
            }
        } catch {
            close(spool)
            throw error
        }
        return spool
    }

    private static func write(_ descriptor: Int32, _ bytes: ArraySlice<UInt8>, label: String) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw HeaderError("cannot spool \(label): \(SystemError.words(errno))") }
                offset += written
            }
        }
    }
}
