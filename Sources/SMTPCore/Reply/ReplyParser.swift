internal import CSMTPScan

/// A resumable parser for SMTP replies (RFC 5321 §4.2).
///
/// Bytes go in with `append` in any chunking; `next()` returns the next complete reply, or nil
/// when it needs more bytes. The parser keeps one buffer, compacted only when new bytes arrive,
/// and scans each byte once: a reply split over a thousand reads costs what it costs whole.
/// A whole single-line reply ("250 2.1.5 Ok") takes a fast path; anything else (more lines, a
/// partial line, every error) the general one, which picks up where the fast path stopped.
///
/// Framing is strict. Every line ends in CRLF; a bare LF or a CR not followed by LF is an error.
/// Every line starts with the same three-digit code (first digit 2-5, second 0-5), followed by
/// "-" (more lines follow), " " (last line) or CRLF (last line, no text). Limits on line length,
/// lines per reply and total reply size bound memory whatever the server sends.
///
/// Errors are sticky: after one, every call throws the same error.
public struct ReplyParser: Sendable {
    /// Bounds on what one reply may occupy. Crossing one is a protocol violation.
    public struct Limits: Sendable, Hashable {
        /// Longest line, CRLF included. RFC 5321 allows 512; real servers send more.
        public var maxLineLength: Int = 2048
        /// Most lines in one multi-line reply (a large EHLO reply has about 20). Never more than
        /// 2,097,151, whatever the setting.
        public var maxLinesPerReply: Int = 128
        /// Most bytes in one reply, all lines included.
        public var maxReplySize: Int = 32 * 1024

        /// Limits with these values; values too small to frame any reply are raised to the least workable ones.
        public init(maxLineLength: Int = 2048, maxLinesPerReply: Int = 128, maxReplySize: Int = 32 * 1024) {
            self.maxLineLength = max(6, maxLineLength)
            self.maxLinesPerReply = max(1, maxLinesPerReply)
            self.maxReplySize = max(6, maxReplySize)
        }
    }

    /// The bounds each reply is checked against.
    public var limits: Limits { didSet { singleLineLimit = Self.singleLineBound(limits) } }
    /// `singleLineBound(limits)`, for the fast path.
    private(set) var singleLineLimit: Int
    /// Read enhanced status codes from reply text (set once ENHANCEDSTATUSCODES is advertised).
    public var parsesEnhancedStatusCodes: Bool

    var buffer: [UInt8] = []
    /// Start of the reply being assembled; everything before it has been returned.
    var replyStart = 0
    /// Start of the line being assembled.
    var lineStart = 0
    /// Next byte to examine: bytes in lineStart..<scan hold no CR or LF.
    var scan = 0
    /// Lines of the current reply seen so far, and their code.
    var lines = 0
    var code: UInt16 = 0
    var failure: SMTPProtocolViolation?

    /// An empty parser.
    public init(limits: Limits = Limits(), parsesEnhancedStatusCodes: Bool = false) {
        self.limits = limits
        self.singleLineLimit = Self.singleLineBound(limits)
        self.parsesEnhancedStatusCodes = parsesEnhancedStatusCodes
    }

    /// Bytes received but not yet returned as part of a reply (a partial reply, or replies not
    /// yet pulled with `next()`).
    public var bufferedByteCount: Int { buffer.count - replyStart }

    /// Bytes returned as replies so far: the stream offset where the next reply starts.
    public internal(set) var consumedByteCount = 0

    /// Every byte appended so far, returned or not.
    public var receivedByteCount: Int { consumedByteCount + bufferedByteCount }

    /// The error that stopped the parser, if any.
    public var error: SMTPProtocolViolation? { failure }

    /// Adds bytes as received; pull the replies they complete with `next()`.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    /// Adds bytes as received; pull the replies they complete with `next()`.
    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes. Runs only when bytes arrive, never while replies handed out by
    /// `next()` are expected to be alive, so the steady state neither copies nor allocates.
    mutating func compact() {
        if replyStart == buffer.count {
            if !buffer.isEmpty { buffer.removeAll(keepingCapacity: true) }
            replyStart = 0
            lineStart = 0
            scan = 0
        } else if replyStart > 0, replyStart >= 4096 || replyStart * 2 >= buffer.count {
            let shift = replyStart
            buffer.removeSubrange(0..<shift)
            replyStart = 0
            lineStart -= shift
            scan -= shift
        }
    }

    /// Returns the next complete reply, nil when more bytes are needed.
    public mutating func next() throws(SMTPProtocolViolation) -> SMTPReply? {
        if lines == 0, failure == nil {
            // The fast path, for what most replies are: one whole line, "DDD text" and CRLF.
            let start = replyStart
            let from = scan
            let bound = singleLineLimit
            let enhanced = parsesEnhancedStatusCodes
            var found = -1
            var end = 0
            var head: UInt64 = 0
            var words: (UInt64, UInt64) = (0, 0)
            buffer.withUnsafeBufferPointer { bytes in
                found = Self.firstLineBreak(in: bytes, from: from)
                guard let code = Self.singleLineCode(in: bytes, start: start, lineBreak: found, lengthBound: bound) else { return }
                end = found &+ 2
                head = SMTPReply.packed(code: code, enhancedBits: enhanced ? SMTPReply.readsEnhancedStatusCode : 0,
                                        lineCount: 1)
                if end &- start <= SMTPReply.inlineCapacity {
                    words = SMTPReply.inlineWords(UnsafeRawPointer(bytes.baseAddress! + start), count: end &- start,
                                                  readable: bytes.count &- start)
                }
            }
            if end != 0 {
                let count = end &- start
                consumedByteCount &+= count
                replyStart = end
                lineStart = end
                scan = end
                if count <= SMTPReply.inlineCapacity { return SMTPReply(packed: head, inline: words, count: count) }
                return SMTPReply(packed: head, storage: buffer, start: start, end: end)
            }
            // Anything else goes the general way, from the line break just found: the bytes
            // before it hold no CR or LF, so they are not scanned again.
            scan = found < 0 ? buffer.count : found
        }
        return try nextInGeneral()
    }

    /// The general path: any reply, a line at a time, and every error.
    private mutating func nextInGeneral() throws(SMTPProtocolViolation) -> SMTPReply? {
        if let failure { throw failure }
        var cursor = Cursor(replyStart: replyStart, lineStart: lineStart, scan: scan, lines: lines, code: code)
        let limits = self.limits
        let enhanced = parsesEnhancedStatusCodes
        var reply: SMTPReply?
        // One buffer access for the whole reply, however many lines it has; a short reply is
        // copied out of the buffer in the same access.
        let step = buffer.withUnsafeBufferPointer { bytes in
            let step = Self.advance(&cursor, over: bytes, lineBreak: Self.firstLineBreak(in: bytes, from: cursor.scan),
                                    limits: limits)
            if case .reply(let end) = step, end - cursor.replyStart <= SMTPReply.inlineCapacity {
                reply = Self.shortReply(in: bytes, cursor, end: end, enhanced: enhanced)
            }
            return step
        }
        switch step {
        case .reply(let end):
            if reply == nil { reply = longReply(cursor, end: end, enhanced: enhanced) }
            consumedByteCount += end - replyStart
            replyStart = end
            lineStart = end
            scan = end
            lines = 0
            code = 0
            return reply
        case .needMore:
            save(cursor)
            return nil
        case .failed(let violation):
            save(cursor)
            failure = violation
            throw violation
        }
    }

    /// Where the parser stands inside the current reply.
    struct Cursor {
        var replyStart: Int
        var lineStart: Int
        var scan: Int
        var lines: Int
        var code: UInt16
    }

    enum Step {
        case needMore
        case reply(end: Int)
        case failed(SMTPProtocolViolation)
    }

    mutating func save(_ cursor: Cursor) {
        lineStart = cursor.lineStart
        scan = cursor.scan
        lines = cursor.lines
        code = cursor.code
    }

    /// Scans lines from the cursor until a reply is complete, more bytes are needed, or the
    /// bytes break the framing or a limit. `lineBreak` is the first CR or LF at or after
    /// `cursor.scan`, or -1. Inlined into both callers (`next()` and `parse`), as it was into
    /// the one before there were two.
    @inline(__always)
    static func advance(_ cursor: inout Cursor, over bytes: UnsafeBufferPointer<UInt8>, lineBreak: Int,
                                limits: Limits) -> Step {
        let count = bytes.count
        let replyOverAt = overAt(cursor.replyStart, limits.maxReplySize)
        let maxLines = min(limits.maxLinesPerReply, SMTPReply.maxLineCount)
        // The first line's code as its three digits, for a cheap check of the lines after it.
        var codeDigits = cursor.lines == 0 ? UInt32.max : digits(cursor.code)
        var found = lineBreak
        while true {
            // The limits first, on the line's bytes before any CR or LF, complete or not: the same
            // check on the same bytes, so where the reads split the input cannot change the error.
            // The line would exceed `maxLineLength`, or the reply `maxReplySize`, counting the CRLF
            // still to come; if both are proven, the one proven by fewer bytes wins. So a partial
            // reply never holds more than `maxReplySize` bytes.
            let lineOverAt = overAt(cursor.lineStart, limits.maxLineLength)
            if (found < 0 ? count : found) >= min(lineOverAt, replyOverAt) {
                return .failed(lineOverAt <= replyOverAt ? .lineTooLong(limit: limits.maxLineLength)
                                                         : .replyTooLarge(limit: limits.maxReplySize))
            }
            if found < 0 {
                cursor.scan = count
                return .needMore
            }
            let base = bytes.baseAddress! // a byte was found
            if base[found] == 10 { return .failed(.bareLineFeed) }
            // A CR: the line ends only if LF follows.
            guard found &+ 1 < count else {
                cursor.scan = found
                return .needMore
            }
            guard base[found &+ 1] == 10 else { return .failed(.bareCarriageReturn) }

            // The code and separator.
            let start = cursor.lineStart
            let length = found &- start
            guard length >= 3 else { return .failed(.malformedLine) }
            // The code and the byte after it (CR for a bare code) are readable: start + 3 <= found.
            let head = UInt32(littleEndian: UnsafeRawPointer(base + start).loadUnaligned(as: UInt32.self))
            if head & 0xFF_FFFF != codeDigits { // not the first line's valid code again: check it all
                let d0 = base[start] &- UInt8(ascii: "0")
                let d1 = base[start &+ 1] &- UInt8(ascii: "0")
                let d2 = base[start &+ 2] &- UInt8(ascii: "0")
                guard d0 <= 9, d1 <= 9, d2 <= 9 else { return .failed(.malformedLine) }
                let lineCode = UInt16(d0) &* 100 &+ UInt16(d1) &* 10 &+ UInt16(d2)
                guard d0 >= 2, d0 <= 5, d1 <= 5 else { return .failed(.invalidCode(lineCode)) }
                if cursor.lines == 0 {
                    cursor.code = lineCode
                    codeDigits = head & 0xFF_FFFF
                } else if lineCode != cursor.code {
                    return .failed(.inconsistentCode(first: cursor.code, later: lineCode))
                }
            }
            var isLast = true
            if length > 3 {
                let separator = base[start &+ 3]
                if separator == UInt8(ascii: "-") {
                    isLast = false
                } else if separator != UInt8(ascii: " ") {
                    return .failed(.malformedLine)
                }
            }
            cursor.lines &+= 1
            if cursor.lines > maxLines { return .failed(.tooManyLines(limit: limits.maxLinesPerReply)) }
            let lineEnd = found &+ 2 // one past the LF; within both limits (checked above)
            if isLast { return .reply(end: lineEnd) }
            cursor.lineStart = lineEnd
            cursor.scan = lineEnd
            // Find the end of the next line: the first CR or LF at or after `scan`.
            found = firstLineBreak(in: bytes, from: lineEnd)
        }
    }

    /// `code` (three digits) as the ASCII bytes that spell it, in memory order in the low three
    /// bytes (little-endian), as a 4-byte load at a line's start holds them.
    @inline(__always)
    private static func digits(_ code: UInt16) -> UInt32 {
        let spelled = UInt32(code / 100) | UInt32(code / 10 % 10) << 8 | UInt32(code % 10) << 16
        return spelled | 0x30_3030
    }

    /// The first index at which bytes with no CR or LF, from `start` on, prove that a limit of
    /// `limit` bytes (CRLF included) will be crossed: `start + limit - 1`, saturating.
    @inline(__always)
    private static func overAt(_ start: Int, _ limit: Int) -> Int {
        let (sum, overflow) = start.addingReportingOverflow(max(limit, 0) &- 1)
        return overflow ? Int.max : sum
    }

    /// For the fast path: when `lineBreak` ends a whole single-line reply starting at `start`
    /// ("DDD " and text, then CRLF, within the limits, with a valid code), its code. Anything else
    /// (a "-" line, a bare "DDD", a partial line, any error) is nil, for the general path, which
    /// reaches its verdict on the same bytes.
    /// `lengthBound` is `singleLineBound(limits)`.
    @inline(__always)
    static func singleLineCode(in bytes: UnsafeBufferPointer<UInt8>, start: Int, lineBreak: Int,
                               lengthBound: Int) -> UInt16? {
        // The line's text must end before either limit is proven (as `advance` decides):
        // lineBreak < start + limit - 1 for both, that is length + 1 < the smaller limit.
        guard lineBreak >= start &+ 4, (lineBreak &- start) &+ 1 < lengthBound,
              lineBreak &+ 1 < bytes.count else { return nil }
        let base = bytes.baseAddress!
        guard base[lineBreak] == 13, base[lineBreak &+ 1] == 10 else { return nil }
        return code(spelledBy: UInt32(littleEndian: UnsafeRawPointer(base + start).loadUnaligned(as: UInt32.self)))
    }

    /// The code of a last line's first four bytes `head` (a little-endian load): three digits, the
    /// first 2-5 and the second 0-5, then a space. Else nil. All four bytes at once: for ASCII
    /// bytes, adding 0x80 - low sets a byte's top bit exactly when it is at least `low`, and adding
    /// 0x7F - high exactly when it is above `high`, with no carry into the next byte.
    @inline(__always)
    static func code(spelledBy head: UInt32) -> UInt16? {
        let low: UInt32 = 0x2030_3032  // "2", "0", "0", " " in memory order
        let high: UInt32 = 0x2039_3535 // "5", "5", "9", " "
        let tops: UInt32 = 0x8080_8080
        let atLeastLow = head &+ (tops &- low)
        let aboveHigh = head &+ (0x7F7F_7F7F &- high)
        guard head & tops == 0, atLeastLow & ~aboveHigh & tops == tops else { return nil }
        return UInt16(truncatingIfNeeded: head & 0xF) &* 100 &+ UInt16(truncatingIfNeeded: head >> 8 & 0xF) &* 10
            &+ UInt16(truncatingIfNeeded: head >> 16 & 0xF)
    }

    /// What a whole single-line reply's length before its CRLF, plus one, must stay below: the
    /// smaller of the line and reply limits, or 0 (nothing passes) when no line is allowed.
    @inline(__always)
    static func singleLineBound(_ limits: Limits) -> Int {
        limits.maxLinesPerReply >= 1 ? min(limits.maxLineLength, limits.maxReplySize) : 0
    }

    /// The index of the first CR or LF at or after `start`, or -1. On x86-64, sixteen bytes per
    /// compare (SSE2, CSMTPScan's header); elsewhere eight per word (`firstLineBreakByWords`).
    @inline(__always)
    static func firstLineBreak(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return -1 }
        #if arch(x86_64) && !os(Windows)
        return csmtp_first_line_break(base, start, bytes.count)
        #else
        return firstLineBreakByWords(in: bytes, from: start)
        #endif
    }

    /// `firstLineBreak` eight bytes at a time, with one test per word: `(word - 0x0E0E...) & ~word
    /// & 0x8080...` flags every byte below 14 (CR is 13, LF 10) and maybe bytes above a flagged
    /// one, so the lowest flag is exact (little-endian loads). Text has no other bytes that low
    /// but for a rare tab; a word where the first such byte is not CR or LF gets the exact
    /// two-compare test.
    @inline(__always)
    static func firstLineBreakByWords(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard let base = bytes.baseAddress else { return -1 }
        let count = bytes.count
        var index = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let lows = ones &* 14
        while index &+ 8 <= count {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            let low = (word &- lows) & ~word & highs
            if low != 0 {
                let found = index &+ low.trailingZeroBitCount &>> 3
                let byte = base[found]
                if byte == 13 || byte == 10 { return found }
                let cr = word ^ (ones &* 13)
                let lf = word ^ (ones &* 10)
                let hits = ((cr &- ones) & ~cr | (lf &- ones) & ~lf) & highs
                if hits != 0 { return index &+ hits.trailingZeroBitCount &>> 3 }
            }
            index &+= 8
        }
        while index < count {
            let byte = base[index]
            if byte == 13 || byte == 10 { return index }
            index &+= 1
        }
        return -1
    }

    /// A reply of at most `SMTPReply.inlineCapacity` bytes, ending at `end`, copied out.
    @inline(__always)
    private static func shortReply(in bytes: UnsafeBufferPointer<UInt8>, _ cursor: Cursor, end: Int,
                                   enhanced: Bool) -> SMTPReply {
        let start = cursor.replyStart
        let head = SMTPReply.packed(code: cursor.code, enhancedBits: enhanced ? SMTPReply.readsEnhancedStatusCode : 0,
                                    lineCount: cursor.lines)
        let words = SMTPReply.inlineWords(UnsafeRawPointer(bytes.baseAddress! + start), count: end - start,
                                          readable: bytes.count - start)
        return SMTPReply(packed: head, inline: words, count: end - start)
    }

    /// A longer reply, sharing the buffer.
    private func longReply(_ cursor: Cursor, end: Int, enhanced: Bool) -> SMTPReply {
        let head = SMTPReply.packed(code: cursor.code, enhancedBits: enhanced ? SMTPReply.readsEnhancedStatusCode : 0,
                                    lineCount: cursor.lines)
        return SMTPReply(packed: head, storage: buffer, start: cursor.replyStart, end: end)
    }
}
