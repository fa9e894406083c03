/// A MIME parameter (RFC 2045 §5.1) as header words: `name="value"` when the value is short
/// printable ASCII, otherwise RFC 2231 `name*0*=utf-8''%XX...` continuations that each fit a
/// folded line, split at character boundaries.
enum ParameterValue {
    static func words(_ name: String, _ value: String, last: Bool) throws(MessageBuildError) -> [String] {
        try checkHeaderText(value, "the \(name) parameter")
        let end = last ? "" : ";"
        let simple = value.utf8.allSatisfy { $0 >= 32 && $0 < 127 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if simple && !value.contains("=?") && name.utf8.count + value.utf8.count + 5 <= HeaderFolder.lineLimit - 2 {
            return ["\(name)=\"\(value)\"\(end)"]
        }
        // Each continuation on a line of its own: " name*NN*=" + value + ";" within 78.
        let room = HeaderFolder.lineLimit - 1 - name.utf8.count - 5 - 1 - "utf-8''".count
        var pieces: [String] = []
        var current = ""
        for character in value {
            var piece = ""
            for byte in String(character).utf8 {
                if isAttributeChar(byte) {
                    piece.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    piece += "%" + Hex.byte(byte)
                }
            }
            if !current.isEmpty && current.utf8.count + piece.utf8.count > room {
                pieces.append(current)
                current = ""
            }
            current += piece
        }
        pieces.append(current)
        if pieces.count == 1 { return ["\(name)*=utf-8''\(pieces[0])\(end)"] }
        return pieces.enumerated().map { index, piece in
            let suffix = index == pieces.count - 1 ? end : ";"
            return "\(name)*\(index)*=" + (index == 0 ? "utf-8''" : "") + piece + suffix
        }
    }

    /// RFC 2231 attribute-char: a token character other than '*', '\'' and '%'.
    static func isAttributeChar(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$&+-.^_`|~".utf8).contains(byte)
        }
    }

    /// RFC 2045 token.
    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 32 && byte < 127 && !Array("()<>@,;:\\\"/[]?=".utf8).contains(byte)
        }
    }
}
