@testable import SMTPCore
import Testing

/// The parser's two inner pieces against plain references: the line-break scan (SSE2 on x86-64,
/// words elsewhere; both are checked here whatever the machine) and the four-byte code check of
/// the single-line fast path.
@Suite("Reply parser, scanner and code check")
struct ReplyParserScannerUnitTests {
    private static func firstBreak(_ bytes: [UInt8], from start: Int) -> Int {
        bytes[start...].firstIndex { $0 == 13 || $0 == 10 } ?? -1
    }

    /// Every start and every length up to 80 over buffers of text, control bytes, bytes above
    /// 0x7F (signed compares would take them for small ones) and a CR or LF at most once, often
    /// none: the index of the first CR or LF, or -1, and no read outside the buffer (each buffer
    /// is its own allocation, so the address sanitizer of the fuzz build would see one).
    @Test func lineBreakScanMatchesTheReference() {
        var generator = SplitStrategy.Generator(state: 0x5EED_CAFE)
        let alphabet: [UInt8] = [0x41, 0x7A, 0x20, 0x09, 0x0B, 0x0C, 0x0E, 0x00, 0x8D, 0x8A, 0xFF, 0x80]
        for length in 0...80 {
            for _ in 0..<40 {
                var bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
                if length > 0, generator.next() % 3 != 0 {
                    bytes[Int(generator.next() % UInt64(length))] = generator.next() % 2 == 0 ? 13 : 10
                }
                bytes.withUnsafeBufferPointer { buffer in
                    for start in 0...length {
                        let expected = Self.firstBreak(bytes, from: start)
                        #expect(ReplyParser.firstLineBreak(in: buffer, from: start) == expected, "\(bytes) from \(start)")
                        #expect(ReplyParser.firstLineBreakByWords(in: buffer, from: start) == expected, "\(bytes) from \(start)")
                    }
                }
            }
        }
    }

    private static func referenceCode(_ head: UInt32) -> UInt16? {
        let bytes = (0..<4).map { UInt8(truncatingIfNeeded: head >> (8 * $0)) }
        guard bytes[3] == 0x20, (0x32...0x35).contains(bytes[0]), (0x30...0x35).contains(bytes[1]),
              (0x30...0x39).contains(bytes[2]) else { return nil }
        return UInt16(bytes[0] - 0x30) * 100 + UInt16(bytes[1] - 0x30) * 10 + UInt16(bytes[2] - 0x30)
    }

    /// Each of the four bytes through all 256 values, the others at either edge of their range,
    /// then random words: the code exactly when "DDD " is a valid last line's start.
    @Test func fourByteCodeCheckMatchesTheReference() {
        let edges: [[UInt8]] = [[0x32, 0x30, 0x30, 0x20], [0x35, 0x35, 0x39, 0x20], [0x34, 0x32, 0x31, 0x20]]
        for edge in edges {
            for position in 0..<4 {
                for value in 0...255 {
                    var bytes = edge
                    bytes[position] = UInt8(value)
                    let head = bytes.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
                    #expect(ReplyParser.code(spelledBy: head) == Self.referenceCode(head), "\(bytes)")
                }
            }
        }
        var generator = SplitStrategy.Generator(state: 42)
        for _ in 0..<200_000 {
            let head = UInt32(truncatingIfNeeded: generator.next())
            if ReplyParser.code(spelledBy: head) != Self.referenceCode(head) {
                Issue.record("mismatch at \(String(head, radix: 16))")
                return
            }
        }
    }
}
