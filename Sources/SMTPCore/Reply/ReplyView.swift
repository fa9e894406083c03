/// A complete reply lent by `ReplyParser.parse(_:_:)` for the duration of one call of its body:
/// the bytes stay where they were parsed (the caller's read, or the parser's buffer for a reply
/// that spanned reads), so looking at a reply copies and counts nothing.
///
/// The view cannot be copied or kept; `reply` makes an owned `SMTPReply` of it when one is needed
/// beyond the call.
public struct ReplyView: ~Copyable {
    /// Code, enhanced-code flag and line count, packed as in `SMTPReply` (no inline byte count).
    let head: UInt64
    let base: UnsafeRawPointer
    /// The raw byte count: every line, with its code, separator and CRLF.
    let count: Int

    init(head: UInt64, base: UnsafeRawPointer, count: Int) {
        self.head = head
        self.base = base
        self.count = count
    }

    /// The reply code (the first line's; every line carries the same).
    public var code: ReplyCode { ReplyCode(unchecked: UInt16(truncatingIfNeeded: head & 0x3FF)) }

    /// How many lines the reply has (1 for a single-line reply).
    public var lineCount: Int { Int(truncatingIfNeeded: (head >> 35) & UInt64(SMTPReply.maxLineCount)) }

    /// As `SMTPReply.enhancedStatusCode`: read from the first line's text when the parser was set to
    /// read enhanced status codes.
    public var enhancedStatusCode: EnhancedStatusCode? {
        guard head & SMTPReply.readsEnhancedStatusCode != 0 else { return nil }
        return SMTPReply.enhancedStatusCode(code: head, in: UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Calls `body` with the reply exactly as received, all lines with their CRLF. The pointer is
    /// valid only during the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// An owned copy: inline when it is short (no allocation), else in storage of its own.
    public var reply: SMTPReply {
        if count <= SMTPReply.inlineCapacity {
            return SMTPReply(packed: head, inline: SMTPReply.inlineWords(base, count: count, readable: count), count: count)
        }
        return SMTPReply(packed: head, storage: Array(UnsafeRawBufferPointer(start: base, count: count)), start: 0, end: count)
    }
}
