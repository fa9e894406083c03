import Foundation
@testable import SMTPMessage
import Testing

@Suite("header fields: folding, names, injection")
struct HeaderFieldTests {
    static func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
    }

    @Test func asciiSubjectFoldsAt78() throws {
        let subject = (1...30).map { "word\($0)" }.joined(separator: " ")
        let rendered = try UnstructuredField.render("Subject", subject)
        let lines = Self.lines(rendered)
        #expect(lines.last == "")
        #expect(lines.dropLast().allSatisfy { $0.utf8.count <= 78 })
        #expect(lines == [
            "Subject: word1 word2 word3 word4 word5 word6 word7 word8 word9 word10 word11",
            " word12 word13 word14 word15 word16 word17 word18 word19 word20 word21 word22",
            " word23 word24 word25 word26 word27 word28 word29 word30", "",
        ])
        // Unfolding (removing CRLF before white space) gives the text back.
        #expect("Subject: " + subject + "\r\n" == String(decoding: rendered, as: UTF8.self).replacingCRLFSpace())
    }

    @Test func nonASCIISubjectBecomesEncodedWordsWithinTheLines() throws {
        let subject = String(repeating: "Ünïcödé ", count: 12)
        let lines = Self.lines(try UnstructuredField.render("Subject", subject))
        #expect(lines.count > 3)
        #expect(lines.dropLast().allSatisfy { $0.utf8.count <= 78 })
        #expect(lines[0].hasPrefix("Subject: =?utf-8?q?"))
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.hasPrefix(" =?utf-8?q?") && $0.hasSuffix("?=") })
    }

    @Test func textThatLooksEncodedIsEncoded() throws {
        #expect(Self.lines(try UnstructuredField.render("Subject", "=?x?q?y?=")) == ["Subject: =?utf-8?q?=3D=3Fx=3Fq=3Fy=3F=3D?=", ""])
    }

    @Test func addressListsFoldBetweenMailboxes() throws {
        let boxes = (1...4).map { Mailbox("person\($0)@example.com", name: "Person Number \($0)") }
        #expect(Self.lines(try AddressField.render("To", boxes)) == [
            "To: Person Number 1 <person1@example.com>, Person Number 2",
            " <person2@example.com>, Person Number 3 <person3@example.com>, Person Number 4",
            " <person4@example.com>", "",
        ])
    }

    @Test func displayNames() throws {
        #expect(try DisplayName.words("John Smith") == ["John", "Smith"])
        #expect(try DisplayName.words("Smith, John \"J\"") == ["\"Smith,", "John", "\\\"J\\\"\""])
        #expect(try DisplayName.words("Jürgen") == ["=?utf-8?q?J=C3=BCrgen?="])
    }

    @Test func injectionIsRefused() {
        let cases: [(() throws -> Any, String)] = [
            ({ try HeaderField("X-Test", "a\r\nBcc: evil@example.com").render() }, "the X-Test field must not contain CR, LF or NUL"),
            ({ try HeaderField("X-Test", "a\nb").render() }, "the X-Test field must not contain CR, LF or NUL"),
            ({ try HeaderField("X-Test", "a\u{0}b").render() }, "the X-Test field must not contain CR, LF or NUL"),
            ({ try HeaderField("X Test", "a").render() }, "\"X Test\" is not a valid header field name"),
            ({ try HeaderField("X-Test:", "a").render() }, "\"X-Test:\" is not a valid header field name"),
            ({ try HeaderField("", "a").render() }, "\"\" is not a valid header field name"),
            ({ try HeaderField("Bcc", "a@b.c").render() }, "the Bcc field is set by the builder, not as a custom header"),
            ({ try UnstructuredField.render("Subject", "hi\r\nBcc: x@y.z") }, "the Subject field must not contain CR, LF or NUL"),
            ({ try DisplayName.words("Eve\r\nBcc: x@y.z") }, "a display name must not contain CR, LF or NUL"),
            ({ try ParameterValue.words("filename", "a\nb", last: true) }, "the filename parameter must not contain CR, LF or NUL"),
        ]
        for (run, message) in cases {
            #expect(throws: MessageBuildError(message)) { _ = try run() }
        }
    }

    @Test func customHeadersAreWritten() throws {
        #expect(Self.lines(try HeaderField("X-Mailer", "smtp-machine 1.0").render()) == ["X-Mailer: smtp-machine 1.0", ""])
        #expect(Self.lines(try HeaderField("X-Note", "café").render()) == ["X-Note: =?utf-8?q?caf=C3=A9?=", ""])
    }

    @Test func dates() {
        let cases: [(Int64, Int, String)] = [
            (0, 0, "Thu, 01 Jan 1970 00:00:00 +0000"),
            (1_057_049_557, 120, "Tue, 01 Jul 2003 10:52:37 +0200"),
            (951_782_400, -330, "Mon, 28 Feb 2000 18:30:00 -0530"),
            (-31_536_000, 0, "Wed, 01 Jan 1969 00:00:00 +0000"),
            (4_102_444_800, 0, "Fri, 01 Jan 2100 00:00:00 +0000"),
        ]
        #expect(cases.map { MessageDate(secondsSince1970: $0.0, utcOffsetMinutes: $0.1).rfc5322 } == cases.map(\.2))
    }
}

extension String {
    func replacingCRLFSpace() -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: "\r\n ") {
            out += rest[..<range.lowerBound] + " "
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
