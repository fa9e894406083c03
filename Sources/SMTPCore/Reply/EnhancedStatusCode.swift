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

    /// A code from its three parts; nil when the class is not 2, 4 or 5, or a part is over 999.
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

    /// The code as written: "5.1.1".
    public var description: String { "\(statusClass).\(subject).\(detail)" }

    /// Parses `text` (the reply text after the code and separator). Returns the code when the
    /// text starts with `class.subject.detail` followed by a space or the end of the text: a class
    /// of one digit (2, 4 or 5), a subject and a detail of one to three digits each.
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> EnhancedStatusCode? {
        guard text.count >= 5 else { return nil }
        let statusClass = text[0] &- UInt8(ascii: "0")
        guard statusClass == 2 || statusClass == 4 || statusClass == 5, text[1] == UInt8(ascii: ".") else { return nil }
        var index = 2
        guard let subject = number(text, &index), index < text.count, text[index] == UInt8(ascii: ".") else { return nil }
        index += 1
        guard let detail = number(text, &index), index == text.count || text[index] == UInt8(ascii: " ") else {
            return nil
        }
        return EnhancedStatusCode(unchecked: statusClass, subject: subject, detail: detail)
    }

    /// One to three digits at `index`, which moves past them; nil for none or more than three.
    @inline(__always)
    private static func number(_ text: UnsafeBufferPointer<UInt8>, _ index: inout Int) -> UInt16? {
        var value: UInt16 = 0
        let start = index
        while index < text.count, index - start < 4 {
            let digit = text[index] &- UInt8(ascii: "0")
            guard digit <= 9 else { break }
            value = value &* 10 &+ UInt16(digit)
            index += 1
        }
        let digits = index - start
        return digits >= 1 && digits <= 3 ? value : nil
    }
}
