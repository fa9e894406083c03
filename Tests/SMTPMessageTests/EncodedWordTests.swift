@testable import SMTPMessage
import Testing

@Suite("RFC 2047 encoded-words")
struct EncodedWordTests {
    /// Decodes one Q encoded-word's octets (the test's own reading of RFC 2047 §4.2).
    static func octets(of word: String) -> [UInt8] {
        #expect(word.hasPrefix("=?utf-8?q?") && word.hasSuffix("?="), "\(word)")
        let body = Array(word.utf8.dropFirst(10).dropLast(2))
        var out: [UInt8] = []
        var index = 0
        while index < body.count {
            if body[index] == UInt8(ascii: "=") {
                out.append(UInt8(String(decoding: body[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)!)
                index += 3
            } else {
                out.append(body[index] == UInt8(ascii: "_") ? 32 : body[index])
                index += 1
            }
        }
        return out
    }

    @Test func shortTextIsOneWord() {
        #expect(EncodedWord.encode("Grüße aus Köln") == ["=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="])
        #expect(EncodedWord.encode("a=b?c_d") == ["=?utf-8?q?a=3Db=3Fc=5Fd?="])
    }

    @Test func longTextSplitsAtCharacterBoundaries() throws {
        let text = String(repeating: "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. 日本語の件名 👩‍👩‍👧 e\u{301}", count: 3)
        let words = EncodedWord.encode(text, firstLength: 60)
        #expect(words.count > 5)
        #expect(words[0].utf8.count <= 60)
        #expect(words.allSatisfy { $0.utf8.count <= 75 })
        // Each word is valid UTF-8 on its own, ends at a character boundary, and together they
        // are the text.
        var characters: [Character] = []
        for word in words {
            let bytes = Self.octets(of: word)
            let piece = try #require(String(validating: bytes, as: UTF8.self), "\(word) splits a UTF-8 sequence")
            characters += Array(piece)
        }
        #expect(characters == Array(text))
    }

    @Test func exactSplit() {
        let words = EncodedWord.encode(String(repeating: "é", count: 12), firstLength: 40)
        // The first word has 40 - 12 = 28 characters of payload: 4 é of 6 each; the rest fit in one.
        #expect(words == ["=?utf-8?q?" + String(repeating: "=C3=A9", count: 4) + "?=",
                          "=?utf-8?q?" + String(repeating: "=C3=A9", count: 8) + "?="])
    }
}
