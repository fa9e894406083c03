import Foundation
import SMTPMessage
import SMTPMessageContent
import Testing

/// Text parts are read as sent: in canonical form, every line end CRLF (RFC 2046 §4.1.1).
func crlf(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\r\n") }

/// Every message the builder makes, read by Python's email package: the headers decode to the
/// inputs, the parts are the ones described, the attachment bytes are equal.
@Suite("Python's email package reads what the builder writes")
struct OracleTests {
    static let date = MessageDate(secondsSince1970: 1_057_049_557, utcOffsetMinutes: 120)
    static let longSubject = "Réunion du comité — 日本語の件名もここに — Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich 👩‍👩‍👧"

    @Test func nonASCIIDisplayNamesAndSubjects() throws {
        var builder = MessageBuilder(from: Mailbox("jurgen@example.org", name: "Jürgen Müller"),
                                     to: [Mailbox("bob@example.net", name: "Bøb \"the builder\" Ærø"),
                                          Mailbox("plain@example.net", name: "Smith, John"),
                                          Mailbox("noname@example.net")],
                                     subject: Self.longSubject, date: Self.date, text: "Hallo.\n")
        builder.cc = [Mailbox("zoe@example.net", name: "Zoë =?utf-8?q?trick?=")]
        builder.replyTo = [Mailbox("reply@example.org", name: "日本語 名前")]
        builder.sender = Mailbox("secretary@example.org", name: "Sécrétaire")
        builder.headers = [HeaderField("X-Comment", "Ça va? " + String(repeating: "très long ", count: 12))]
        builder.messageIDDomain = "ids.example.org"
        let built = try builder.build()
        let bytes = try built.bytes()
        let reading = try PythonOracle.read(bytes)
        #expect(reading.defects == [])
        #expect(reading.longest_line <= 78)
        #expect(reading.header("Subject") == [Self.longSubject])
        #expect(reading.header("X-Comment") == ["Ça va? " + String(repeating: "très long ", count: 12)])
        #expect(reading.header("Date") == ["Tue, 01 Jul 2003 10:52:37 +0200"])
        #expect(reading.header("Message-ID") == ["<\(built.messageID)>"])
        #expect(reading.addresses == [
            "From": [["Jürgen Müller", "jurgen@example.org"]],
            "Sender": [["Sécrétaire", "secretary@example.org"]],
            "To": [["Bøb \"the builder\" Ærø", "bob@example.net"], ["Smith, John", "plain@example.net"], ["", "noname@example.net"]],
            "Cc": [["Zoë =?utf-8?q?trick?=", "zoe@example.net"]],
            "Reply-To": [["日本語 名前", "reply@example.org"]],
        ])
        #expect(reading.parts == [OracleReading.Part(type: "text/plain", cte: "7bit", text: "Hallo.\r\n")])
    }

    @Test func alternativeRelatedAndMixed() throws {
        var builder = MessageBuilder(from: Mailbox("a@example.org"), to: [Mailbox("b@example.net")],
                                     subject: "parts", date: Self.date, text: "Text version: café\n")
        builder.html = "<p>HTML version: café <img src=\"cid:logo@example.org\"></p>\n"
        let binary = (0..<3000).map { UInt8(($0 * 7) % 256) }
        let longName = "Überlänge " + String(repeating: "sehr ", count: 10) + "Datei.pdf"
        builder.attachments = [
            Attachment(filename: "logo.png", disposition: .inline(contentID: "logo@example.org"), bytes: [0x89, 0x50, 0x4e, 0x47]),
            Attachment(filename: "Résumé.pdf", bytes: binary),
            Attachment(filename: longName, bytes: Array("hello".utf8)),
            Attachment(filename: "data.bin", contentType: "application/x-custom", bytes: []),
            Attachment(filename: "notes.txt", bytes: Array("line\r\nline\n".utf8)),
        ]
        let reading = try PythonOracle.read(try builder.build().bytes())
        #expect(reading.defects == [])
        #expect(reading.longest_line <= 78)
        typealias Part = OracleReading.Part
        func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
        func attachment(_ type: String, _ disposition: String, _ name: String, _ bytes: [UInt8], cid: String? = nil) -> Part {
            var part = Part(type: type, cte: "base64", disposition: disposition, filename: name, cid: cid)
            if type.hasPrefix("text/") {
                part.text = String(decoding: bytes, as: UTF8.self)  // base64 keeps the octets as they were
            } else {
                part.size = bytes.count
                part.hex = hex(bytes)
            }
            return part
        }
        var parts = reading.parts
        for index in parts.indices { parts[index].sha256 = nil }
        #expect(parts == [
            Part(type: "multipart/mixed"),
            Part(type: "multipart/alternative"),
            Part(type: "text/plain", cte: "quoted-printable", text: "Text version: café\r\n"),
            Part(type: "multipart/related"),
            Part(type: "text/html", cte: "quoted-printable", text: "<p>HTML version: café <img src=\"cid:logo@example.org\"></p>\r\n"),
            attachment("image/png", "inline", "logo.png", [0x89, 0x50, 0x4e, 0x47], cid: "<logo@example.org>"),
            attachment("application/pdf", "attachment", "Résumé.pdf", binary),
            attachment("application/pdf", "attachment", longName, Array("hello".utf8)),
            attachment("application/x-custom", "attachment", "data.bin", []),
            attachment("text/plain", "attachment", "notes.txt", Array("line\r\nline\n".utf8)),
        ])
    }

    @Test func eightBitBodyAsEightBitOrQuotedPrintable() throws {
        let text = "Grüße aus Köln — " + String(repeating: "naïve café ", count: 20) + "\n.leading dot\nend\n"
        for (allow, encoding) in [(true, "8bit"), (false, "quoted-printable")] {
            var builder = MessageBuilder(from: Mailbox("a@example.org"), to: [Mailbox("b@example.net")],
                                         subject: "8bit", date: Self.date, text: text)
            builder.allowEightBit = allow
            let reading = try PythonOracle.read(try builder.build().bytes())
            #expect(reading.defects == [])
            #expect(reading.parts == [OracleReading.Part(type: "text/plain", cte: encoding, text: crlf(text))])
        }
    }

    @Test func fileAttachmentsAreReadFromTheFile() throws {
        let path = NSTemporaryDirectory() + "builder-\(UUID().uuidString).tar.gz"
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var builder = MessageBuilder(from: Mailbox("a@example.org"), to: [Mailbox("b@example.net")],
                                     subject: "file", date: Self.date, text: "see attached\n")
        builder.attachments = [try Attachment.file(path, filename: "archive.tar.gz")]
        let built = try builder.build()
        let reading = try PythonOracle.read(try built.bytes())
        #expect(reading.parts.map(\.type) == ["multipart/mixed", "text/plain", "application/gzip"])
        #expect(reading.parts.last?.filename == "archive.tar.gz")
        #expect(reading.parts.last?.sha256 == (try PythonOracle.sha256(ofFile: path)))
        #expect(reading.parts.last?.size == bytes.count)
    }
}
