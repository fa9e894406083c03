/// A small RFC 5322 header reader for `-t` and sendmail mode: the fields of a header section
/// (unfolded), and the addr-specs of an address list (display names, quoted strings, comments
/// and angle addresses; a group's name and its ";" are dropped, its members kept).
enum HeaderParser {
    /// A field as it stands in the message: its name, its unfolded value, and its raw octets
    /// (continuation lines and line ends included) so a rewrite can copy it unchanged.
    struct Field: Equatable {
        var name: String
        var value: String
        var raw: ArraySlice<UInt8>
    }

    /// Where the header section ends in `bytes`: the offset just past the empty line (CRLF CRLF
    /// or LF LF), or nil when there is none in `bytes`.
    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        var lineStart = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == 10 {
                let line = bytes[lineStart..<index]
                if line.isEmpty || line.elementsEqual([13]) { return index + 1 }
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    /// The fields of a header section (without its empty line). A line that is neither a field
    /// nor a continuation (no colon) is an error, as it would end the header for a reader.
    static func fields(_ header: ArraySlice<UInt8>) throws -> [Field] {
        var lines: [ArraySlice<UInt8>] = []
        var start = header.startIndex
        for index in header.indices where header[index] == 10 {
            lines.append(header[start...index])
            start = index + 1
        }
        if start < header.endIndex { lines.append(header[start...]) }
        var result: [Field] = []
        for (number, line) in lines.enumerated() {
            if let first = line.first, first == 32 || first == 9 {
                guard !result.isEmpty else { throw HeaderError("header line 1 starts with white space") }
                result[result.count - 1].raw = header[result[result.count - 1].raw.startIndex..<line.endIndex]
                result[result.count - 1].value += " " + text(line).trimmed
                continue
            }
            guard let colon = line.firstIndex(of: 58), colon > line.startIndex,
                  line[line.startIndex..<colon].allSatisfy({ $0 > 32 && $0 < 127 }) else {
                throw HeaderError("header line \(number + 1) is not a field (Name: value)")
            }
            result.append(Field(name: text(line[line.startIndex..<colon]),
                                value: text(line[(colon + 1)...]).trimmed, raw: line))
        }
        return result
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.filter { $0 != 13 && $0 != 10 }, as: UTF8.self)
    }

    /// The addr-specs of an address list, in order ("A <a@x>, \"B, C\" <b@y>, c@z (C)").
    static func addresses(_ list: String) throws -> [String] {
        var result: [String] = []
        var current = ""      // the words of the current mailbox outside angle brackets
        var angle: String?    // the text inside <...>, once seen
        var inAngle = false
        var characters = Array(list)[...]
        func finish() throws {
            let address = (angle ?? current).trimmed
            if angle == nil, unquoted(address).contains(where: { $0 == " " || $0 == "\t" }) {
                throw HeaderError("\"\(address)\" is not an address")
            }
            if !address.isEmpty { result.append(address) }
            current = ""
            angle = nil
        }
        while let character = characters.popFirst() {
            switch character {
            case "\"":
                // A quoted string: part of a display name, or a quoted local part.
                var quoted = "\""
                var closed = false
                while let next = characters.popFirst() {
                    quoted.append(next)
                    if next == "\\", let escaped = characters.popFirst() { quoted.append(escaped); continue }
                    if next == "\"" { closed = true; break }
                }
                guard closed else { throw HeaderError("unterminated quoted string in \"\(list)\"") }
                if inAngle { angle! += quoted } else { current += quoted }
            case "(" where !inAngle:
                var depth = 1
                while depth > 0, let next = characters.popFirst() {
                    if next == "\\" { _ = characters.popFirst(); continue }
                    if next == "(" { depth += 1 }
                    if next == ")" { depth -= 1 }
                }
                guard depth == 0 else { throw HeaderError("unterminated comment in \"\(list)\"") }
                current += " "
            case "<" where !inAngle:
                inAngle = true
                angle = ""
            case ">" where inAngle:
                inAngle = false
            case "," where !inAngle:
                try finish()
            case ":" where !inAngle:
                current = ""  // a group's display name
            case ";" where !inAngle:
                try finish()
            default:
                if inAngle { angle!.append(character) } else { current.append(character) }
            }
        }
        guard !inAngle else { throw HeaderError("unterminated <address> in \"\(list)\"") }
        try finish()
        return result
    }
}

/// `text` without its quoted strings (for the white-space check of a bare address).
private func unquoted(_ text: String) -> String {
    var result = ""
    var inQuote = false
    var escaped = false
    for character in text {
        if escaped { escaped = false; continue }
        if inQuote, character == "\\" { escaped = true; continue }
        if character == "\"" { inQuote.toggle(); continue }
        if !inQuote { result.append(character) }
    }
    return result
}

struct HeaderError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmed: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view = view.dropFirst() }
        while let last = view.last, last == " " || last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
