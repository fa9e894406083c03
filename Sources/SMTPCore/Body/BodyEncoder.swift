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
    public enum Mode: Sendable, Hashable {
        case dotStuffed
        case chunkedText
        case binary
    }

    public let mode: Mode
    public let allowsEightBit: Bool
    /// Longest line, CRLF and any transparency dot excluded (RFC 5321 §4.5.3.1.6: 998).
    public let maxLineLength: Int

    private var atLineStart = true
    private var pendingCR = false
    private var lineLength = 0

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
            if allowsEightBit {
                while index < count {
                    let byte = chunk[index]
                    if byte <= 13, byte == 13 || byte == 10 || byte == 0 { break }
                    index += 1
                }
            } else {
                while index < count {
                    let byte = chunk[index]
                    if byte >= 0x80 || (byte <= 13 && (byte == 13 || byte == 10 || byte == 0)) { break }
                    index += 1
                }
            }
            if index > runStart {
                lineLength += index - runStart
                if lineLength > maxLineLength { throw .lineTooLong(limit: maxLineLength) }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[runStart..<index]))
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
        atLineStart = true
        lineLength = 0
    }
}
