/// An enhanced status code, `class.subject.detail` (RFC 3463), read from the start of a reply's
/// text when the server advertised ENHANCEDSTATUSCODES (RFC 2034).
///
/// A malformed code, or one whose class disagrees with the reply code, is ignored rather than
/// treated as a protocol error: it is advice for humans and for retry logic, not framing.
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public let statusClass: UInt8
    /// 0-999.
    public let subject: UInt16
    /// 0-999.
    public let detail: UInt16

    public init?(statusClass: UInt8, subject: UInt16, detail: UInt16) {
        guard statusClass == 2 || statusClass == 4 || statusClass == 5, subject <= 999, detail <= 999 else {
            return nil
        }
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// Parses `text` (the reply text after the code and separator). Returns the code and the
    /// number of bytes it occupies, or nil. The code must be followed by a space or end the text.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> EnhancedStatusCode? {
        var index = 0
        func number(maxDigits: Int) -> UInt16? {
            var value: UInt16 = 0
            var digits = 0
            while index < text.count, digits < maxDigits + 1 {
                let byte = text[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
                value = value * 10 + UInt16(byte - UInt8(ascii: "0"))
                digits += 1
                index += 1
            }
            guard digits >= 1, digits <= maxDigits else { return nil }
            return value
        }
        func dot() -> Bool {
            guard index < text.count, text[index] == UInt8(ascii: ".") else { return false }
            index += 1
            return true
        }
        guard let statusClass = number(maxDigits: 1), dot(),
              let subject = number(maxDigits: 3), dot(),
              let detail = number(maxDigits: 3) else { return nil }
        guard index == text.count || text[index] == UInt8(ascii: " ") else { return nil }
        return EnhancedStatusCode(statusClass: UInt8(statusClass), subject: subject, detail: detail)
    }
}
