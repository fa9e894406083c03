/// RFC 2047 encoded-words, "Q" encoding in UTF-8, restricted to the characters a phrase allows
/// (§5 (3)), so the same words serve in Subject and in display names.
enum EncodedWord {
    /// RFC 2047 §2: an encoded-word is at most 75 characters.
    static let maxLength = 75
    static let prefix = "=?utf-8?q?"
    static let suffix = "?="

    /// `text` as encoded-words, split at character boundaries (never inside a UTF-8 sequence,
    /// and not inside a grapheme cluster unless that one cluster is too long for a word).
    /// The first word is at most `firstLength` characters long, the others `maxLength`.
    static func encode(_ text: String, firstLength: Int = maxLength) -> [String] {
        let overhead = prefix.count + suffix.count
        var words: [String] = []
        var current = ""
        var limit = max(firstLength, overhead + 12) - overhead
        func flush() {
            words.append(prefix + current + suffix)
            current = ""
            limit = maxLength - overhead
        }
        for character in text {
            let piece = encoded(character.unicodeScalars)
            if current.utf8.count + piece.utf8.count <= limit {
                current += piece
                continue
            }
            if !current.isEmpty { flush() }
            if piece.utf8.count <= limit {
                current = piece
            } else {
                for scalar in character.unicodeScalars {
                    let scalarPiece = encoded([scalar])
                    if current.utf8.count + scalarPiece.utf8.count > limit { flush() }
                    current += scalarPiece
                }
            }
        }
        if !current.isEmpty || words.isEmpty { flush() }
        return words
    }

    private static func encoded(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var out = ""
        for scalar in scalars {
            for byte in String(scalar).utf8 {
                if byte == 32 {
                    out += "_"
                } else if isLiteral(byte) {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    out += "=" + Hex.byte(byte)
                }
            }
        }
        return out
    }

    private static func isLiteral(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}

enum Hex {
    private static let digits = Array("0123456789ABCDEF".utf8)
    static func byte(_ byte: UInt8) -> String {
        String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }
    static func append(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
}
