import SMTPCore
@testable import SMTPMessage
import Testing

@Suite("message builder: envelope, structure, streaming")
struct MessageBuilderTests {
    static let date = MessageDate(secondsSince1970: 1_057_049_557, utcOffsetMinutes: 120)

    static func builder() -> MessageBuilder {
        var builder = MessageBuilder(from: Mailbox("alice@example.org", name: "Alice"), to: [Mailbox("bob@example.net")],
                                     subject: "Hello", date: date, text: "Hi Bob.\n")
        builder.messageID = "fixed.1@example.org"
        return builder
    }

    @Test func textOnlyMessageExactly() throws {
        let built = try Self.builder().build()
        let expected = "Date: Tue, 01 Jul 2003 10:52:37 +0200\r\nFrom: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
            + "Subject: Hello\r\nMessage-ID: <fixed.1@example.org>\r\nMIME-Version: 1.0\r\n"
            + "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nHi Bob.\r\n"
        #expect(String(decoding: try built.bytes(), as: UTF8.self) == expected)
        #expect(built.size == expected.utf8.count)
        #expect(built.envelope == Envelope(sender: "alice@example.org", recipients: ["bob@example.net"], bodyType: .sevenBit,
                                           requiresSMTPUTF8: false, size: expected.utf8.count))
    }

    @Test func bccIsInTheEnvelopeOnly() throws {
        var builder = Self.builder()
        builder.cc = [Mailbox("carol@example.net")]
        builder.bcc = [Mailbox("dave@example.net"), Mailbox("bob@example.net")]
        let built = try builder.build()
        #expect(built.envelope.recipients == ["bob@example.net", "carol@example.net", "dave@example.net"])
        let text = String(decoding: try built.bytes(), as: UTF8.self)
        #expect(!text.contains("dave@"))
        #expect(!text.lowercased().contains("bcc"))
    }

    @Test func eightBitOnlyWhenAllowed() throws {
        var builder = Self.builder()
        builder.text = "Grüße\n"
        let seven = try builder.build()
        #expect(seven.envelope.bodyType == .sevenBit)
        #expect(try seven.bytes().allSatisfy { $0 < 128 })
        builder.allowEightBit = true
        let eight = try builder.build()
        #expect(eight.envelope.bodyType == .eightBitMIME)
        #expect(eight.envelope.requiresSMTPUTF8 == false)
        builder.text = "plain\n"
        #expect(try builder.build().envelope.bodyType == .sevenBit)
    }

    @Test func smtputf8OnlyForNonASCIIAddresses() throws {
        var builder = Self.builder()
        builder.subject = "Ünïcode subject"
        builder.to = [Mailbox("bob@example.net", name: "Bøb")]
        #expect(try builder.build().envelope.requiresSMTPUTF8 == false)
        builder.bcc = [Mailbox("jürgen@exämple.de")]
        let hidden = try builder.build()
        #expect(hidden.envelope.requiresSMTPUTF8 == true)
        #expect(hidden.envelope.bodyType == .sevenBit)
        builder.bcc = []
        builder.cc = [Mailbox("jürgen@exämple.de")]
        let shown = try builder.build()
        #expect((shown.envelope.requiresSMTPUTF8, shown.envelope.bodyType) == (true, .eightBitMIME))
    }

    @Test func streamsTheSameInAnyChunkingAndEveryTime() throws {
        var builder = Self.builder()
        builder.html = "<p>Hi</p>\n"
        builder.attachments = [Attachment(filename: "a.bin", bytes: (0..<5000).map { UInt8($0 % 251) }),
                               Attachment(filename: "logo.png", disposition: .inline(contentID: "logo@example.org"), bytes: [1, 2, 3])]
        let built = try builder.build()
        let whole = try built.bytes()
        #expect(whole.count == built.size)
        #expect(try built.bytes() == whole)
        for chunk in [1, 7, 76, 4096] {
            let stream = built.makeStream()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 1)
            defer { buffer.deallocate() }
            var out: [UInt8] = []
            while !stream.isAtEnd {
                let count = try stream.read(into: buffer)
                #expect(count > 0)
                out += UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            }
            #expect(try stream.read(into: buffer) == 0)
            #expect(out == whole, "chunk \(chunk)")
        }
    }

    struct LyingSource: AttachmentSource {
        let byteCount: Int
        let actual: Int
        func makeReader() throws(MessageBuildError) -> any AttachmentReader { BytesAttachment([UInt8](repeating: 65, count: actual)).makeReaderUnchecked() }
    }

    @Test func aSourceThatChangedFailsTheMessage() throws {
        for (announced, actual, message) in [(10, 5, "an attachment ended before its 10 octets"),
                                             (10, 11, "an attachment is longer than its 10 octets")] {
            var builder = Self.builder()
            builder.attachments = [Attachment(filename: "x.txt", source: LyingSource(byteCount: announced, actual: actual))]
            let built = try builder.build()
            #expect(throws: MessageBuildError(message)) { _ = try built.bytes() }
        }
    }

    @Test func mistakesAreRefused() {
        var noRecipients = Self.builder()
        noRecipients.to = []
        var twoFrom = Self.builder()
        twoFrom.from.append(Mailbox("other@example.org"))
        var badAddress = Self.builder()
        badAddress.to = [Mailbox("not an address")]
        var badType = Self.builder()
        badType.attachments = [Attachment(filename: "x", contentType: "multipart/mixed", bytes: [])]
        var badID = Self.builder()
        badID.messageID = "no-at-sign"
        var badDomain = Self.builder()
        badDomain.messageID = nil
        badDomain.from = [Mailbox("alice@[127.0.0.1]")]
        let cases: [(MessageBuilder, String)] = [
            (noRecipients, "a message needs at least one recipient"),
            (twoFrom, "a message with several From addresses needs a Sender (RFC 5322 §3.6.2)"),
            (badType, "an attachment cannot be multipart/mixed (it is sent base64)"),
            (badID, "the Message-ID no-at-sign is not a valid id (dot-atom@dot-atom)"),
            (badDomain, "the From domain [127.0.0.1] cannot name a Message-ID: set messageIDDomain"),
        ]
        for (builder, message) in cases {
            #expect(throws: MessageBuildError(message)) { _ = try builder.build() }
        }
        #expect(throws: MessageBuildError.self) { _ = try badAddress.build() }
    }

    @Test func generatedIDsUseTheDomain() throws {
        var builder = Self.builder()
        builder.messageID = nil
        builder.messageIDDomain = "ids.example.com"
        let first = try builder.build(), second = try builder.build()
        #expect(first.messageID.hasSuffix("@ids.example.com"))
        #expect(first.messageID != second.messageID)
        builder.messageIDDomain = nil
        #expect(try builder.build().messageID.hasSuffix("@example.org"))
    }
}

extension BytesAttachment {
    func makeReaderUnchecked() -> any AttachmentReader { try! makeReader() }
}
