@testable import SMTPMessage
import Testing

@Suite("quoted-printable, base64, RFC 2231 parameters, content types")
struct BodyEncoderTests {
    static func qp(_ text: String) -> String { String(decoding: QuotedPrintable.encode(Array(text.utf8)), as: UTF8.self) }

    @Test func quotedPrintableEscapes() {
        #expect(Self.qp("a=b") == "a=3Db")
        #expect(Self.qp("café\n") == "caf=C3=A9\r\n")
        #expect(Self.qp("tab\there") == "tab\there")
        #expect(Self.qp("nul\u{0}") == "nul=00")
    }

    @Test func quotedPrintableTrailingWhitespace() {
        #expect(Self.qp("space \nline\t\r\nend ") == "space=20\r\nline=09\r\nend=20")
        #expect(Self.qp("two  \n") == "two =20\r\n")
    }

    @Test func quotedPrintableSoftBreaks() {
        #expect(Self.qp(String(repeating: "x", count: 76)) == String(repeating: "x", count: 76))
        #expect(Self.qp(String(repeating: "x", count: 100) + "\n")
            == String(repeating: "x", count: 75) + "=\r\n" + String(repeating: "x", count: 25) + "\r\n")
        // An =XX escape is never split by a soft break.
        #expect(Self.qp(String(repeating: "x", count: 74) + "é")
            == String(repeating: "x", count: 74) + "=\r\n=C3=A9")
        let long = String(repeating: "Grüße ", count: 40)
        let lines = Self.qp(long).split(separator: "\r\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.utf8.count <= 76 })
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix("=") })
    }

    static func base64(_ bytes: [UInt8], chunks: [Int]) -> String {
        var encoder = Base64Lines()
        var out: [UInt8] = []
        var offset = 0
        var chunk = 0
        while offset < bytes.count {
            let count = min(chunks[chunk % chunks.count], bytes.count - offset)
            bytes[offset..<(offset + count)].withUnsafeBytes { encoder.encode($0, into: &out) }
            offset += count
            chunk += 1
        }
        encoder.finish(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func base64In76ColumnLines() {
        let bytes = (0..<200).map { UInt8($0 % 256) }
        let whole = Self.base64(bytes, chunks: [200])
        let lines = whole.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.map(\.count) == [76, 76, 76, 40])
        #expect(lines[0] == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4")
        #expect(lines[3] == "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsc=")
        // Any chunking gives the same lines; the length is known in advance.
        for chunks in [[1], [2, 5], [57], [56, 1, 3]] { #expect(Self.base64(bytes, chunks: chunks) == whole) }
        for count in [0, 1, 2, 3, 56, 57, 58, 114, 200] {
            #expect(Self.base64(Array(bytes.prefix(count)), chunks: [7]).utf8.count == Base64Lines.encodedLength(of: count))
        }
        #expect(Self.base64(Array(bytes.prefix(57)), chunks: [57]).count == 76)
        #expect(Self.base64([0xff], chunks: [1]) == "/w==")
    }

    @Test func rfc2231Filenames() throws {
        #expect(try ParameterValue.words("filename", "report.pdf", last: true) == ["filename=\"report.pdf\""])
        #expect(try ParameterValue.words("filename", "Résumé 2024.pdf", last: true) == ["filename*=utf-8''R%C3%A9sum%C3%A9%202024.pdf"])
        #expect(try ParameterValue.words("filename", "say \"hi\".txt", last: false) == ["filename*=utf-8''say%20%22hi%22.txt;"])
        let long = try ParameterValue.words("filename", String(repeating: "ü", count: 20) + ".txt", last: true)
        #expect(long == ["filename*0*=utf-8''" + String(repeating: "%C3%BC", count: 9) + ";",
                         "filename*1*=" + String(repeating: "%C3%BC", count: 9) + ";",
                         "filename*2*=%C3%BC%C3%BC.txt"])
        #expect(long.allSatisfy { $0.utf8.count + 1 <= 78 })
    }

    @Test func contentTypes() throws {
        #expect(["a.PDF", "b.jpeg", "c.tar.gz", "noext", ".hidden", "x.unknown"].map(ContentTypes.guess(forFilename:))
            == ["application/pdf", "image/jpeg", "application/gzip", "application/octet-stream",
                "application/octet-stream", "application/octet-stream"])
        #expect(throws: MessageBuildError("content type text is not type/subtype")) { try ContentTypes.check("text") }
        #expect(throws: MessageBuildError("content type text/plain; x=y is not type/subtype")) { try ContentTypes.check("text/plain; x=y") }
        #expect(throws: MessageBuildError("an attachment cannot be message/rfc822 (it is sent base64)")) { try ContentTypes.check("message/rfc822") }
    }

    @Test func textEncodingFollowsTheRules() {
        #expect(TextEncoding.encode("plain\nascii", allowEightBit: false) == (.sevenBit, Array("plain\r\nascii".utf8)))
        #expect(TextEncoding.encode("plain\nascii", allowEightBit: true) == (.sevenBit, Array("plain\r\nascii".utf8)))
        #expect(TextEncoding.encode("café\r", allowEightBit: true) == (.eightBit, Array("café\r\n".utf8)))
        #expect(TextEncoding.encode("café\r", allowEightBit: false) == (.quotedPrintable, Array("caf=C3=A9\r\n".utf8)))
        let long = String(repeating: "a", count: 999)
        #expect(TextEncoding.encode(long, allowEightBit: true).0 == .quotedPrintable)
        #expect(TextEncoding.encode(String(repeating: "a", count: 998), allowEightBit: false).0 == .sevenBit)
        #expect(TextEncoding.encode("nul\u{0}", allowEightBit: true).0 == .quotedPrintable)
    }
}
