@testable import SMTPCore
import Testing

/// The encoder's word-at-a-time scan for the next octet that needs attention (CR, LF, NUL, and
/// an 8-bit octet where 8-bit is not allowed) against the plain byte loop, at every start.
@Suite("Body encoder: the pass-through scan")
struct BodyEncoderRunTests {
    static func reference(_ bytes: [UInt8], from start: Int, allowsEightBit: Bool) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 || byte == 10 || byte == 0 || (!allowsEightBit && byte >= 0x80) { break }
            index += 1
        }
        return index
    }

    @Test(arguments: [false, true])
    func wordScanFindsWhatTheByteLoopFinds(allowsEightBit: Bool) {
        // Octets next to the ones that matter (0x0C, 0x0E, 0x7F, 0x8A, 0x8D) catch a wrong mask.
        let alphabet: [UInt8] = [0, 9, 10, 11, 12, 13, 14, 46, 65, 0x7F, 0x80, 0x8A, 0x8D, 0xFF, 0x01]
        var generator = SplitStrategy.Generator(state: 42)
        for round in 0..<3000 {
            let length = round % 41
            let plainOdds = round % 3 == 0 ? 1 : 12 // some buffers are long plain runs
            let bytes = (0..<length).map { _ -> UInt8 in
                Int.random(in: 0..<plainOdds, using: &generator) == 0 ? alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] : UInt8(ascii: "x")
            }
            bytes.withUnsafeBufferPointer { buffer in
                for start in 0...length {
                    let found = BodyEncoder.endOfRun(in: buffer, from: start, allowsEightBit: allowsEightBit)
                    let expected = Self.reference(bytes, from: start, allowsEightBit: allowsEightBit)
                    #expect(found == expected, "\(bytes) from \(start)")
                    if found != expected { return }
                }
            }
        }
    }
}
