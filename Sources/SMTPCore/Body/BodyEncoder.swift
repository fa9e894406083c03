/// Turns message content, streamed in chunks of any size, into what goes on the wire.
///
/// For DATA (`.dotStuffed`) and for text sent with BDAT (`.chunkedText`):
/// - every lone CR and every lone LF becomes CRLF, including a CR that ends one chunk and an LF
///   that starts the next (which together are one CRLF);
/// - NUL bytes, lines longer than `maxLineLength` octets and, for 7-bit bodies, bytes above 127
///   are refused: the encoder throws and the engine drops the connection rather than let a
///   truncated message through.
///
/// For DATA only, a "." at the start of any line is doubled, wherever the chunk boundaries fall,
/// and `finish` adds CRLF when the content did not end with one, then ".\r\n". Because no bare
/// CR or LF ever reaches the wire and every line-initial dot is doubled, the content cannot
/// contain the end-of-data sequence (SMTP smuggling, CVE-2023-51764/5/6).
///
/// `.binary` (BDAT with BODY=BINARYMIME) passes octets through unchanged.
public struct BodyEncoder: Sendable {
    /// How the content goes on the wire.
    public enum Mode: Sendable, Hashable {
        /// After DATA: lines normalized to CRLF, line-initial dots doubled, ended by ".\r\n".
        case dotStuffed
        /// Text in BDAT chunks: lines normalized to CRLF, no dot-stuffing, no end-of-data line.
        case chunkedText
        /// Binary in BDAT chunks (BODY=BINARYMIME): octets unchanged.
        case binary
    }

    /// How this encoder writes the content.
    public let mode: Mode
    /// Whether bytes above 127 may pass (an 8BITMIME body); false refuses them.
    public let allowsEightBit: Bool
    /// Longest line, CRLF and any transparency dot excluded (RFC 5321 §4.5.3.1.6: 998).
    public let maxLineLength: Int

    private var atLineStart = true
    private var pendingCR = false
    private var lineLength = 0
    /// Content octets produced so far, after line-end normalization: what RFC 1870 counts as the
    /// message size (CRLF pairs included, transparency dots and the end-of-data line not).
    public private(set) var contentOctets = 0

    /// The size of `content` as it will be sent: each lone CR or LF counts as CRLF, and a last
    /// line without one gets CRLF. This is the value for SIZE= (for `.binary` content it is
    /// simply the octet count).
    public static func messageSize(of content: some Sequence<UInt8>) -> Int {
        var counter = MessageSizeCounter()
        for byte in content { counter.add(byte) }
        return counter.size
    }

    /// An encoder for one message's content.
    public init(mode: Mode, allowsEightBit: Bool, maxLineLength: Int = 998) {
        self.mode = mode
        self.allowsEightBit = allowsEightBit
        self.maxLineLength = maxLineLength
    }

    /// Encodes one chunk, appending the wire bytes to `output`. At most `2 * chunk.count + 2`
    /// bytes are appended.
    public mutating func encode(_ chunk: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) throws(BodyProblem) {
        if mode == .binary {
            output.append(contentsOf: chunk)
            contentOctets += chunk.count
            return
        }
        let count = chunk.count
        guard count > 0 else { return }
        output.reserveCapacity(output.count + count + count / 8 + 4)
        let stuffs = mode == .dotStuffed
        var index = 0
        while index < count {
            if pendingCR {
                pendingCR = false
                endLine(&output)
                if chunk[index] == 10 { index += 1; continue }
            }
            if atLineStart, stuffs, chunk[index] == UInt8(ascii: ".") {
                // The doubled dot does not count towards the line limit (RFC 5321 §4.5.3.1.6).
                output.append(UInt8(ascii: "."))
            }
            // The longest run of bytes that pass through unchanged.
            let runStart = index
            index = Self.endOfRun(in: chunk, from: index, allowsEightBit: allowsEightBit)
            if index > runStart {
                lineLength += index - runStart
                if lineLength > maxLineLength { throw .lineTooLong(limit: maxLineLength) }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[runStart..<index]))
                contentOctets += index - runStart
                atLineStart = false
            }
            guard index < count else { break }
            switch chunk[index] {
            case 13:
                pendingCR = true
            case 10:
                endLine(&output)
            case 0:
                throw .nulByte
            default:
                throw .eightBitData
            }
            index += 1
        }
    }

    /// The first index at or after `start` holding CR, LF, NUL or (when 8-bit is not allowed)
    /// an octet above 127; `chunk.count` if none. Eight octets at a time: a byte equal to `b`
    /// makes that byte of `word ^ b...b` zero, and the classic zero-byte test flags the lowest
    /// zero byte exactly (little-endian loads), as does the high-bit test for 8-bit octets.
    @inline(__always)
    static func endOfRun(in chunk: UnsafeBufferPointer<UInt8>, from start: Int, allowsEightBit: Bool) -> Int {
        let count = chunk.count
        var index = start
        if let base = chunk.baseAddress {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let crs = ones &* 13
            let lfs = ones &* 10
            let eightBitMask = allowsEightBit ? 0 : highs
            while index &+ 8 <= count {
                let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                let cr = word ^ crs
                let lf = word ^ lfs
                let zeros = (word &- ones) & ~word | (cr &- ones) & ~cr | (lf &- ones) & ~lf
                let hits = (zeros | word & eightBitMask) & highs
                if hits != 0 { return index &+ hits.trailingZeroBitCount >> 3 }
                index &+= 8
            }
        }
        while index < count {
            let byte = chunk[index]
            if byte <= 13, byte == 13 || byte == 10 || byte == 0 { break }
            if byte >= 0x80, !allowsEightBit { break }
            index += 1
        }
        return index
    }

    /// Ends the content: flushes a trailing CR, terminates an unterminated last line and, for
    /// DATA, appends the end-of-data line.
    public mutating func finish(into output: inout [UInt8]) {
        guard mode != .binary else { return }
        if pendingCR {
            pendingCR = false
            endLine(&output)
        }
        if !atLineStart { endLine(&output) }
        if mode == .dotStuffed {
            output.append(contentsOf: [UInt8(ascii: "."), 13, 10])
        }
    }

    private mutating func endLine(_ output: inout [UInt8]) {
        output.append(13)
        output.append(10)
        contentOctets += 2
        atLineStart = true
        lineLength = 0
    }
}

/// Counts a message's size as `BodyEncoder` will send it (see `BodyEncoder.messageSize(of:)`),
/// over content that arrives in chunks.
public struct MessageSizeCounter: Sendable {
    private var total = 0
    private var previous: UInt8 = 10
    private var pendingCR = false

    /// A counter at zero.
    public init() {}

    /// Counts one more byte of the content.
    public mutating func add(_ byte: UInt8) {
        if pendingCR {
            pendingCR = false
            total += 2
            previous = 10
            if byte == 10 { return }
        }
        switch byte {
        case 13: pendingCR = true
        case 10: total += 2
        default: total += 1
        }
        previous = byte
    }

    /// Counts one more chunk of the content.
    public mutating func add(_ chunk: UnsafeRawBufferPointer) {
        for byte in chunk { add(byte) }
    }

    /// The size of everything added, once the content is complete.
    public var size: Int { pendingCR || previous != 10 ? total + 2 : total }
}
