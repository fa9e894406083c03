/// A resumable parser for SMTP replies (RFC 5321 §4.2).
///
/// Bytes go in with `append` in any chunking; `next()` returns the next complete reply, or nil
/// when it needs more bytes. The parser keeps one buffer, compacted only when new bytes arrive,
/// and scans each byte once: a reply split over a thousand reads costs what it costs whole.
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
        /// Most lines in one multi-line reply (a large EHLO reply has about 20).
        public var maxLinesPerReply: Int = 128
        /// Most bytes in one reply, all lines included.
        public var maxReplySize: Int = 32 * 1024

        public init(maxLineLength: Int = 2048, maxLinesPerReply: Int = 128, maxReplySize: Int = 32 * 1024) {
            self.maxLineLength = max(6, maxLineLength)
            self.maxLinesPerReply = max(1, maxLinesPerReply)
            self.maxReplySize = max(6, maxReplySize)
        }
    }

    public var limits: Limits
    /// Read enhanced status codes from reply text (set once ENHANCEDSTATUSCODES is advertised).
    public var parsesEnhancedStatusCodes: Bool

    private var buffer: [UInt8] = []
    /// Start of the reply being assembled; everything before it has been returned.
    private var replyStart = 0
    /// Start of the line being assembled.
    private var lineStart = 0
    /// Next byte to examine: bytes in lineStart..<scan hold no CR or LF.
    private var scan = 0
    /// Lines of the current reply seen so far, and their code.
    private var lines = 0
    private var code: UInt16 = 0
    private var failure: SMTPProtocolViolation?

    public init(limits: Limits = Limits(), parsesEnhancedStatusCodes: Bool = false) {
        self.limits = limits
        self.parsesEnhancedStatusCodes = parsesEnhancedStatusCodes
    }

    /// Bytes received but not yet returned as part of a reply (a partial reply, or replies not
    /// yet pulled with `next()`).
    public var bufferedByteCount: Int { buffer.count - replyStart }

    /// Bytes returned as replies so far: the stream offset where the next reply starts.
    public private(set) var consumedByteCount = 0

    /// Every byte appended so far, returned or not.
    public var receivedByteCount: Int { consumedByteCount + bufferedByteCount }

    /// The error that stopped the parser, if any.
    public var error: SMTPProtocolViolation? { failure }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes. Runs only when bytes arrive, never while replies handed out by
    /// `next()` are expected to be alive, so the steady state neither copies nor allocates.
    private mutating func compact() {
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
        if let failure { throw failure }
        do {
            return try parseNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func parseNext() throws(SMTPProtocolViolation) -> SMTPReply? {
        while true {
            // Find the end of the current line: the first CR or LF at or after `scan`.
            let count = buffer.count
            let from = scan
            let found: Int = buffer.withUnsafeBufferPointer { bytes in
                var index = from
                while index < count {
                    let byte = bytes[index]
                    if byte <= 13, byte == 13 || byte == 10 { return index }
                    index += 1
                }
                return -1
            }
            // The limits first, on the line's bytes before any CR or LF, complete or not: the same
            // check on the same bytes, so where the reads split the input cannot change the error.
            try checkLimits(textEnd: found < 0 ? count : found)
            if found < 0 {
                scan = count
                return nil
            }
            if buffer[found] == 10 { throw .bareLineFeed }
            // A CR: the line ends only if LF follows.
            guard found + 1 < count else {
                scan = found
                return nil
            }
            guard buffer[found + 1] == 10 else { throw .bareCarriageReturn }
            let lineEnd = found + 2 // one past the LF; within both limits (checkLimits)

            let isLast = try parseLineHeader(textEnd: found)
            lines += 1
            if lines > limits.maxLinesPerReply { throw .tooManyLines(limit: limits.maxLinesPerReply) }

            if isLast {
                let reply = makeReply(end: lineEnd)
                consumedByteCount += lineEnd - replyStart
                replyStart = lineEnd
                lineStart = lineEnd
                scan = lineEnd
                lines = 0
                code = 0
                return reply
            }
            lineStart = lineEnd
            scan = lineEnd
        }
    }

    /// Throws once the current line's bytes up to `textEnd` (none of them CR or LF) prove that
    /// a limit will be crossed, counting the CRLF still to come: the line would exceed
    /// `maxLineLength`, or the reply `maxReplySize`. If both are proven, the one proven by fewer
    /// bytes wins, so the error is the same however the input is split; and a partial reply
    /// never holds more than `maxReplySize` bytes.
    private func checkLimits(textEnd: Int) throws(SMTPProtocolViolation) {
        let lineOverAt = lineStart + limits.maxLineLength - 1
        let replyOverAt = replyStart + limits.maxReplySize - 1
        guard textEnd >= min(lineOverAt, replyOverAt) else { return }
        if lineOverAt <= replyOverAt { throw .lineTooLong(limit: limits.maxLineLength) }
        throw .replyTooLarge(limit: limits.maxReplySize)
    }

    /// Checks the code and separator of the line at `lineStart` whose text ends at `textEnd`
    /// (the CR). Returns whether this is the last line of the reply.
    private mutating func parseLineHeader(textEnd: Int) throws(SMTPProtocolViolation) -> Bool {
        let length = textEnd - lineStart
        guard length >= 3 else { throw .malformedLine }
        let d0 = buffer[lineStart] &- UInt8(ascii: "0")
        let d1 = buffer[lineStart + 1] &- UInt8(ascii: "0")
        let d2 = buffer[lineStart + 2] &- UInt8(ascii: "0")
        guard d0 <= 9, d1 <= 9, d2 <= 9 else { throw .malformedLine }
        let lineCode = UInt16(d0) * 100 + UInt16(d1) * 10 + UInt16(d2)
        guard d0 >= 2, d0 <= 5, d1 <= 5 else { throw .invalidCode(lineCode) }
        if lines == 0 {
            code = lineCode
        } else if lineCode != code {
            throw .inconsistentCode(first: code, later: lineCode)
        }
        if length == 3 { return true }
        switch buffer[lineStart + 3] {
        case UInt8(ascii: " "): return true
        case UInt8(ascii: "-"): return false
        default: throw .malformedLine
        }
    }

    private func makeReply(end: Int) -> SMTPReply {
        let replyCode = ReplyCode(unchecked: code)
        var enhanced: EnhancedStatusCode?
        if parsesEnhancedStatusCodes {
            // The first line's text: after "NNN " up to its CR.
            let textStart = replyStart + 4
            var textEnd = textStart
            while textEnd < end, buffer[textEnd] != 13 { textEnd += 1 }
            if textStart < textEnd {
                enhanced = buffer.withUnsafeBufferPointer { bytes in
                    EnhancedStatusCode.parse(UnsafeBufferPointer(rebasing: bytes[textStart..<textEnd]))
                }
                if let found = enhanced, Int(found.statusClass) != replyCode.replyClass { enhanced = nil }
            }
        }
        return SMTPReply(code: replyCode, enhancedStatusCode: enhanced, lineCount: lines,
                         storage: buffer, start: replyStart, end: end)
    }
}
