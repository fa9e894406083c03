/// Quoted-printable (RFC 2045 §6.7) for text: line breaks (CRLF, LF or CR) are hard breaks
/// written as CRLF; '=', controls and 8-bit octets become =XX; a space or tab that ends a line
/// becomes =20/=09; lines longer than 76 characters end in a soft break "=".
public enum QuotedPrintable {
    /// Characters per encoded line, the soft break included: 76.
    public static let lineLimit = 76

    /// Encodes text as quoted-printable, with CRLF line ends.
    public static func encode(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + text.count / 8)
        var lineLength = 0
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == 13 || byte == 10 {
                out += [13, 10]
                lineLength = 0
                index += (byte == 13 && index + 1 < text.count && text[index + 1] == 10) ? 2 : 1
                continue
            }
            let next = index + 1 < text.count ? text[index + 1] : 10
            let endsLine = next == 13 || next == 10
            let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
                || ((byte == 32 || byte == 9) && !endsLine)
            let width = literal ? 1 : 3
            // Room for the octet, and for a soft break after it unless the line ends here.
            let needed = lineLength + width + (endsLine ? 0 : 1)
            if needed > lineLimit {
                out += [UInt8(ascii: "="), 13, 10]
                lineLength = 0
            }
            if literal {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "="))
                Hex.append(byte, to: &out)
            }
            lineLength += width
            index += 1
        }
        return out
    }
}
