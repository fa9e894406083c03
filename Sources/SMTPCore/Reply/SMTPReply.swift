/// One complete server reply: a code, its optional enhanced status code and one or more lines.
///
/// The value is four words, so making, passing and dropping one costs a few register moves. A
/// reply of at most `inlineCapacity` bytes (most transaction replies: "250 2.1.5 Ok") carries its
/// bytes inside the value and touches no reference count; a longer one shares the storage the
/// parser read it into. Either way its text becomes a `String` only when asked for. Holding a
/// long reply past the next `received` call is safe (the parser then copies its buffer on
/// write), merely not free; the engine's own steady state never does it.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The raw reply, every line with its code, separator and CRLF: `storage[first..<second]`,
    /// or when `storage` is nil the first `inlineCount` bytes of `first` and `second` (in memory
    /// order; the bytes after them are whatever followed in the parser's buffer).
    let storage: [UInt8]?
    /// The code, enhanced status code, line count and inline byte count, packed (see `Packed`).
    let packed: UInt64
    let first: UInt64
    let second: UInt64

    /// The longest reply kept inside the value rather than in shared storage.
    static let inlineCapacity = 16
    /// The most lines a reply value can count (the parser's line limit never exceeds it).
    static let maxLineCount = (1 << 21) - 1

    /// Bit layout of `packed`: code 0-9; an enhanced status code given explicitly: present 10,
    /// class 11-13, subject 14-23, detail 24-33; 34 set when the enhanced status code is to be read
    /// from the first line's text when asked for; line count 35-55; inline byte count 56-63.
    @inline(__always)
    static func packed(code: UInt16, enhancedBits: UInt64, lineCount: Int) -> UInt64 {
        UInt64(code) | enhancedBits | UInt64(min(max(lineCount, 0), maxLineCount)) << 35
    }

    /// The bit that makes `enhancedStatusCode` read the reply's text.
    static let readsEnhancedStatusCode: UInt64 = 1 << 34

    @inline(__always)
    static func enhancedBits(_ enhanced: EnhancedStatusCode?) -> UInt64 {
        guard let enhanced else { return 0 }
        return 1 << 10 | UInt64(enhanced.statusClass) << 11 | UInt64(enhanced.subject) << 14 | UInt64(enhanced.detail) << 24
    }

    /// The reply code (the first line's; every line must carry the same).
    public var code: ReplyCode { ReplyCode(unchecked: UInt16(truncatingIfNeeded: packed & 0x3FF)) }

    /// Present when the server advertised ENHANCEDSTATUSCODES and the first line carried a
    /// well-formed code whose class matches the reply code. Read from the text when asked for
    /// (the engine asks only of refusals), so a parsed reply carries just a flag.
    public var enhancedStatusCode: EnhancedStatusCode? {
        if packed & (1 << 10) != 0 {
            return EnhancedStatusCode(unchecked: UInt8(truncatingIfNeeded: (packed >> 11) & 7),
                                      subject: UInt16(truncatingIfNeeded: (packed >> 14) & 0x3FF),
                                      detail: UInt16(truncatingIfNeeded: (packed >> 24) & 0x3FF))
        }
        guard packed & Self.readsEnhancedStatusCode != 0 else { return nil }
        return withBytes { Self.enhancedStatusCode(code: packed, in: $0) }
    }

    /// The enhanced status code at the start of the first line's text of the raw reply `raw`,
    /// when its class is that of the reply code in the low bits of `code`.
    static func enhancedStatusCode(code: UInt64, in raw: UnsafeRawBufferPointer) -> EnhancedStatusCode? {
        let replyClass = UInt8(truncatingIfNeeded: (code & 0x3FF) / 100)
        // The first line's text: after "NNN " up to its CR (the reply's first CR).
        let bytes = raw.bindMemory(to: UInt8.self)
        guard let textEnd = bytes.firstIndex(of: 13), textEnd > 4,
              let found = EnhancedStatusCode.parse(UnsafeBufferPointer(rebasing: bytes[4..<textEnd])),
              found.statusClass == replyClass else { return nil }
        return found
    }

    /// How many lines the reply had (1 for a single-line reply).
    public var lineCount: Int { Int(truncatingIfNeeded: (packed >> 35) & UInt64(Self.maxLineCount)) }

    /// A reply sharing `storage[start..<end]`.
    init(code: ReplyCode, enhancedStatusCode: EnhancedStatusCode?, lineCount: Int, storage: [UInt8], start: Int, end: Int) {
        self.init(packed: Self.packed(code: code.rawValue, enhancedBits: Self.enhancedBits(enhancedStatusCode), lineCount: lineCount),
                  storage: storage, start: start, end: end)
    }

    @inline(__always)
    init(packed: UInt64, storage: [UInt8], start: Int, end: Int) {
        self.storage = storage
        self.packed = packed
        self.first = UInt64(truncatingIfNeeded: start)
        self.second = UInt64(truncatingIfNeeded: end)
    }

    /// A reply that owns its `count` bytes (at most `inlineCapacity`), held in `inline`.
    @inline(__always)
    init(packed: UInt64, inline: (UInt64, UInt64), count: Int) {
        self.storage = nil
        self.packed = packed | UInt64(truncatingIfNeeded: count) << 56
        self.first = inline.0
        self.second = inline.1
    }

    /// The `count` bytes at `source` (at most `inlineCapacity`) as two words in memory order,
    /// where `readable` bytes may be read: loaded at once when 16 are readable (the bytes after
    /// `count` are then whatever follows), else byte by byte.
    @inline(__always)
    static func inlineWords(_ source: UnsafeRawPointer, count: Int, readable: Int) -> (UInt64, UInt64) {
        if readable >= 16 {
            return (source.loadUnaligned(as: UInt64.self), source.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        var low: UInt64 = 0
        var high: UInt64 = 0
        for index in 0..<min(count, 16) {
            let byte = UInt64(source.load(fromByteOffset: index, as: UInt8.self))
            if index < 8 { low |= byte << (8 * index) } else { high |= byte << (8 * (index - 8)) }
        }
        // Byte i at bits 8i is byte i in memory on a little-endian machine; swapped on the others.
        return (UInt64(littleEndian: low), UInt64(littleEndian: high))
    }

    /// The raw bytes, without copying them.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let storage {
            return try storage.withUnsafeBytes {
                try body(UnsafeRawBufferPointer(rebasing: $0[Int(truncatingIfNeeded: first)..<Int(truncatingIfNeeded: second)]))
            }
        }
        let count = Int(truncatingIfNeeded: packed >> 56)
        return try Swift.withUnsafeBytes(of: (first, second)) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// The raw byte count.
    var byteCount: Int {
        storage == nil ? Int(truncatingIfNeeded: packed >> 56) : Int(truncatingIfNeeded: second &- first)
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
        self.init(code: code, enhancedStatusCode: enhancedStatusCode, lineCount: lines.count, bytes: bytes)
    }

    /// The reply exactly as received, all lines with their CRLF.
    public var raw: ArraySlice<UInt8> {
        if let storage { return storage[Int(truncatingIfNeeded: first)..<Int(truncatingIfNeeded: second)] }
        return withBytes { ArraySlice($0) }
    }

    /// Calls `body` with the text of each line: the bytes after the code and separator, without
    /// the CRLF. A bare code ("250\r\n") has empty text.
    public func forEachLine(_ body: (ArraySlice<UInt8>) throws -> Void) rethrows {
        let raw = self.raw // a slice of the shared storage, or one copy of a short reply's bytes
        var lineStart = raw.startIndex
        var index = lineStart
        while index < raw.endIndex {
            if raw[index] == 10 { // LF; the parser guaranteed the CR before it
                let textStart = min(lineStart + 4, index - 1)
                try body(raw[textStart..<(index - 1)])
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
        if storage == nil { return self }
        return SMTPReply(code: code, enhancedStatusCode: enhancedStatusCode, lineCount: lineCount, bytes: Array(raw))
    }

    /// A reply owning `bytes`: inline when short enough, else in their own storage.
    private init(code: ReplyCode, enhancedStatusCode: EnhancedStatusCode?, lineCount: Int, bytes: [UInt8]) {
        if bytes.count <= Self.inlineCapacity {
            let words = bytes.withUnsafeBytes { raw in
                raw.baseAddress.map { Self.inlineWords($0, count: bytes.count, readable: bytes.count) } ?? (0, 0)
            }
            self.init(packed: Self.packed(code: code.rawValue, enhancedBits: Self.enhancedBits(enhancedStatusCode),
                                          lineCount: lineCount),
                      inline: words, count: bytes.count)
        } else {
            self.init(code: code, enhancedStatusCode: enhancedStatusCode, lineCount: lineCount, storage: bytes,
                      start: 0, end: bytes.count)
        }
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
        lhs.code == rhs.code && lhs.enhancedStatusCode == rhs.enhancedStatusCode
            && lhs.withBytes { left in rhs.withBytes { right in left.elementsEqual(right) } }
    }

    /// Hashes the code and the length of the raw bytes.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(byteCount)
    }
}
