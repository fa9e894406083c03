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

    /// For values already checked (by `parse` or the public initializer).
    init(unchecked statusClass: UInt8, subject: UInt16, detail: UInt16) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// Parses `text` (the reply text after the code and separator). Returns the code when the
    /// text starts with `class.subject.detail` followed by a space or the end of the text.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> EnhancedStatusCode? {
        var values: (UInt16, UInt16, UInt16) = (0, 0, 0)
        var index = 0
        for part in 0..<3 {
            let maxDigits = part == 0 ? 1 : 3
            var value: UInt16 = 0
            var digits = 0
            while index < text.count {
                let digit = text[index] &- UInt8(ascii: "0")
                guard digit <= 9 else { break }
                digits += 1
                guard digits <= maxDigits else { return nil }
                value = value * 10 + UInt16(digit)
                index += 1
            }
            guard digits >= 1 else { return nil }
            switch part {
            case 0: values.0 = value
            case 1: values.1 = value
            default: values.2 = value
            }
            if part < 2 {
                guard index < text.count, text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
        }
        guard index == text.count || text[index] == UInt8(ascii: " ") else { return nil }
        return EnhancedStatusCode(statusClass: UInt8(values.0), subject: values.1, detail: values.2)
    }
}
