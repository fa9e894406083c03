import SMTPConnection
import SMTPCore
import SMTPMessage
import SMTPMessageContent

/// The message options (--subject, --header, --body, --html, --attach, --attach-type): a
/// message made with the builder, checked once before connecting. It is built 7-bit
/// (allowEightBit false: non-ASCII text goes quoted-printable), since the server's 8BITMIME is
/// not known before the session.
struct MessageOptions {
    var subject: String?
    var headers: [String] = []
    var body: String?
    var html: String?
    /// Each attachment's path and the --attach-type given after it, if any.
    var attachments: [(path: String, type: String?)] = []

    var isEmpty: Bool { subject == nil && headers.isEmpty && body == nil && html == nil && attachments.isEmpty }

    func build(from sender: String, to recipients: [String]) throws -> MessageSource {
        var text: String?
        if let body {
            text = body.hasPrefix("@") ? try Self.readText(String(body.dropFirst()), "--body") : body
        } else if html == nil {
            text = ""
        }
        if let value = text, !value.isEmpty, !value.hasSuffix("\n") { text = value + "\n" }
        var builder = MessageBuilder(from: Mailbox(sender), to: recipients.map { Mailbox($0) }, subject: subject,
                                     date: .now(), text: text)
        if let html { builder.html = try Self.readText(html, "--html") }
        for line in headers {
            guard let colon = line.firstIndex(of: ":") else {
                throw UsageError("--header \"\(SMTPReply.printable(line))\": expected 'Name: value'")
            }
            builder.headers.append(HeaderField(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmed))
        }
        do {
            for (path, type) in attachments {
                builder.attachments.append(try Attachment.file(path, contentType: type))
            }
            builder.allowEightBit = false
            let built = try builder.build()
            return MessageSource(content: built.content, isEightBit: built.envelope.bodyType == .eightBitMIME)
        } catch {
            throw UsageError("cannot build the message: \(error.message)")
        }
    }

    private static func readText(_ path: String, _ option: String) throws -> String {
        guard let bytes = SmallFile.contents(of: path, limit: 16 * 1024 * 1024) else {
            throw UsageError("cannot read \(option) file \(path)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw UsageError("\(option) file \(path) is not UTF-8 text") }
        return text
    }
}
