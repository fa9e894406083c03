import SMTPConnection
import SMTPCore
import SMTPMessage
import SMTPMessageContent
import SMTPSocketDriver

/// A message built from its parts: headers encoded as they need, text and HTML, a file that
/// streams from disk at every send. Bcc goes in the envelope, never in the header.
func sendABuiltMessage(_ options: ClientOptions, attaching path: String) throws -> MessageOutcome {
    var builder = MessageBuilder(from: Mailbox("a@example.org", name: "Jürgen Müller"),
                                 to: [Mailbox("b@example.net", name: "Björk Guðmundsdóttir")],
                                 subject: "Grüße aus Köln", date: .now(), text: "Hallo!\n")
    builder.html = "<p>Hallo!</p>\n"
    builder.bcc = [Mailbox("archive@example.net")]
    builder.attachments = [try Attachment.file(path)]
    let session = try BlockingSession(options: options)
    defer { session.close() }
    // Non-ASCII text goes 8bit only where the server offers 8BITMIME, else quoted-printable.
    builder.allowEightBit = session.capabilities.contains(.eightBitMIME)
    return session.send(try builder.build().outgoing)
}
