/// Base64 (RFC 2045 §6.8) in lines of 76 characters separated by CRLF, fed in chunks of any
/// size: the encoder keeps at most two octets and one partial line between calls.
public struct Base64Lines: Sendable {
    /// Characters per line: 76, as RFC 2045 allows at most.
    public static let lineLength = 76
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private var carry: [UInt8] = []
    private var column = 0
    private var started = false

    /// An encoder at the start of its output.
    public init() {}

    /// The encoded length of `count` octets: full lines of 76 characters, CRLF between lines.
    public static func encodedLength(of count: Int) -> Int {
        guard count > 0 else { return 0 }
        let characters = (count + 2) / 3 * 4
        let lines = (characters + lineLength - 1) / lineLength
        return characters + 2 * (lines - 1)
    }

    /// Encodes `input`, appending to `out` every full quantum; up to two octets wait for the next call or `finish(into:)`.
    public mutating func encode(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var index = 0
        while !carry.isEmpty && carry.count < 3 && index < input.count {
            carry.append(input[index])
            index += 1
        }
        if carry.count == 3 {
            emit(carry[0], carry[1], carry[2], into: &out)
            carry.removeAll(keepingCapacity: true)
        }
        while index + 3 <= input.count {
            emit(input[index], input[index + 1], input[index + 2], into: &out)
            index += 3
        }
        while index < input.count {
            carry.append(input[index])
            index += 1
        }
    }

    /// Encodes the last one or two octets with padding.
    public mutating func finish(into out: inout [UInt8]) {
        guard !carry.isEmpty else { return }
        let b0 = carry[0], b1: UInt8 = carry.count > 1 ? carry[1] : 0
        startQuantum(into: &out)
        out.append(Self.alphabet[Int(b0 >> 2)])
        out.append(Self.alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
        out.append(carry.count > 1 ? Self.alphabet[Int((b1 & 15) << 2)] : UInt8(ascii: "="))
        out.append(UInt8(ascii: "="))
        carry.removeAll()
    }

    private mutating func startQuantum(into out: inout [UInt8]) {
        if column == Self.lineLength {
            out += [13, 10]
            column = 0
        }
        column += 4
    }

    private mutating func emit(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, into out: inout [UInt8]) {
        startQuantum(into: &out)
        out.append(Self.alphabet[Int(b0 >> 2)])
        out.append(Self.alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
        out.append(Self.alphabet[Int((b1 & 15) << 2 | b2 >> 6)])
        out.append(Self.alphabet[Int(b2 & 63)])
    }
}
