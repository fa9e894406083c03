/// Folds a header field at 78 octets (RFC 5322 §2.2.3): the field body is a list of words that
/// may not be broken, each preceded by one space where a line break may go instead.
enum HeaderFolder {
    static let lineLimit = 78

    /// "Name: w1 w2 ..." with CRLF SP inserted before a word that would pass 78 octets, and a
    /// final CRLF. A word longer than a line stays whole on a line of its own.
    static func fold(name: String, words: [String]) -> [UInt8] {
        var out = Array(name.utf8) + [UInt8(ascii: ":")]
        var lineLength = out.count
        for word in words {
            let length = word.utf8.count
            if lineLength + 1 + length > lineLimit && lineLength > name.utf8.count + 1 {
                out += [13, 10]
                lineLength = 0
            }
            out.append(32)
            out += word.utf8
            lineLength += 1 + length
        }
        out += [13, 10]
        return out
    }

    /// Splits text at single spaces into foldable words; runs of spaces stay inside a word (a
    /// line break before an empty word would leave a line of white space only).
    static func words(of text: String) -> [String] {
        var result: [String] = []
        for piece in text.split(separator: " ", omittingEmptySubsequences: false) {
            if piece.isEmpty, !result.isEmpty {
                result[result.count - 1] += " "
            } else {
                result.append(String(piece))
            }
        }
        return result
    }
}
