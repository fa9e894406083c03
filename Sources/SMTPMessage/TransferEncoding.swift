/// The Content-Transfer-Encoding a part is sent with (RFC 2045 §6).
public enum TransferEncoding: String, Hashable, Sendable {
    /// ASCII lines, unchanged.
    case sevenBit = "7bit"
    /// 8-bit lines, unchanged (only where the server offers 8BITMIME).
    case eightBit = "8bit"
    /// Quoted-printable: mostly readable, 7-bit safe.
    case quotedPrintable = "quoted-printable"
    /// Base64, in lines of 76 characters.
    case base64
}

/// A text body's encoding: 7bit when it is ASCII; 8bit when it is not and `allowEightBit`
/// says the server offers 8BITMIME; quoted-printable otherwise, and always when a line is
/// longer than 998 octets or the text holds NUL. Line ends become CRLF.
enum TextEncoding {
    static let maxLineLength = 998

    static func encode(_ text: String, allowEightBit: Bool) -> (TransferEncoding, [UInt8]) {
        let bytes = Array(text.utf8)
        var normalized: [UInt8] = []
        normalized.reserveCapacity(bytes.count + bytes.count / 32)
        var eightBit = false, nul = false, longest = 0, line = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 || byte == 10 {
                normalized += [13, 10]
                longest = max(longest, line)
                line = 0
                index += (byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10) ? 2 : 1
                continue
            }
            if byte >= 128 { eightBit = true }
            if byte == 0 { nul = true }
            normalized.append(byte)
            line += 1
            index += 1
        }
        longest = max(longest, line)
        if !nul && longest <= maxLineLength {
            if !eightBit { return (.sevenBit, normalized) }
            if allowEightBit { return (.eightBit, normalized) }
        }
        return (.quotedPrintable, QuotedPrintable.encode(bytes))
    }
}
