/// One complete server reply: a code, its optional enhanced status code and one or more lines.
///
/// A reply does not copy its bytes: it shares the storage the parser read them into, and its
/// text becomes a `String` only when asked for. Holding a reply past the next `received` call is
/// safe (the parser then copies its buffer on write), merely not free; the engine's own steady
/// state never does it.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The reply code (the first line's; every line must carry the same).
    public let code: ReplyCode
    /// Present when the server advertised ENHANCEDSTATUSCODES and the first line carried a
    /// well-formed code whose class matches the reply code.
    public let enhancedStatusCode: EnhancedStatusCode?
    /// How many lines the reply had (1 for a single-line reply).
    public let lineCount: Int

    /// The raw reply, every line with its code, separator and CRLF.
    let storage: [UInt8]
    let start: Int
    let end: Int

    init(code: ReplyCode, enhancedStatusCode: EnhancedStatusCode?, lineCount: Int, storage: [UInt8], start: Int, end: Int) {
        self.code = code
        self.enhancedStatusCode = enhancedStatusCode
        self.lineCount = lineCount
        self.storage = storage
        self.start = start
        self.end = end
    }

    /// Builds a reply from its code and lines, as a server would send it. For tests and for
    /// drivers that synthesize replies; the lines must not contain CR or LF.
    public init(code: ReplyCode, lines: [String] = [""], enhancedStatusCode: EnhancedStatusCode? = nil) {
        var bytes: [UInt8] = []
        let lines = lines.isEmpty ? [""] : lines
        for (index, line) in lines.enumerated() {
            bytes.append(contentsOf: code.description.utf8)
            bytes.append(index == lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            bytes.append(contentsOf: line.utf8.filter { $0 != 13 && $0 != 10 })
            bytes.append(contentsOf: [13, 10])
        }
        self.init(code: code, enhancedStatusCode: enhancedStatusCode, lineCount: lines.count,
                  storage: bytes, start: 0, end: bytes.count)
    }

    /// The reply exactly as received, all lines with their CRLF.
    public var raw: ArraySlice<UInt8> { storage[start..<end] }

    /// Calls `body` with the text of each line: the bytes after the code and separator, without
    /// the CRLF. A bare code ("250\r\n") has empty text.
    public func forEachLine(_ body: (ArraySlice<UInt8>) throws -> Void) rethrows {
        var lineStart = start
        var index = start
        while index < end {
            if storage[index] == 10 { // LF; the parser guaranteed the CR before it
                let textStart = min(lineStart + 4, index - 1)
                try body(storage[textStart..<(index - 1)])
                lineStart = index + 1
            }
            index += 1
        }
    }

    /// The text of every line (untrusted server text: strip control characters before showing it).
    public var lines: [String] {
        var result: [String] = []
        result.reserveCapacity(lineCount)
        forEachLine { result.append(String(decoding: $0, as: UTF8.self)) }
        return result
    }

    /// The text of all lines joined with a space.
    public var text: String { lines.joined(separator: " ") }

    /// The first line's text.
    public var firstLine: String {
        var first = ""
        var done = false
        forEachLine { line in
            if !done { first = String(decoding: line, as: UTF8.self); done = true }
        }
        return first
    }

    /// "CODE TEXT" with control characters replaced, safe to print on a terminal.
    public var description: String {
        let text = self.text
        return text.isEmpty ? code.description : "\(code) \(SMTPReply.printable(text))"
    }

    /// A copy that owns just its own bytes, for keeping a reply beyond the current exchange.
    public func detached() -> SMTPReply {
        let bytes = Array(raw)
        return SMTPReply(code: code, enhancedStatusCode: enhancedStatusCode, lineCount: lineCount,
                         storage: bytes, start: 0, end: bytes.count)
    }

    /// Replaces C0 controls and DEL with "\xNN" escapes so hostile server text cannot drive a terminal.
    public static func printable(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Equal when the codes, the enhanced codes and the raw bytes are.
    public static func == (lhs: SMTPReply, rhs: SMTPReply) -> Bool {
        lhs.code == rhs.code && lhs.enhancedStatusCode == rhs.enhancedStatusCode && lhs.raw == rhs.raw
    }

    /// Hashes the code and the length of the raw bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(raw.count)
    }
}
