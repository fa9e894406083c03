/// Standard base64 (RFC 4648 §4, with padding), as SASL exchanges in SMTP use it.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Appends the encoding of `bytes` to `output`.
    static func encode(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + ((bytes.count + 2) / 3) * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            output.append(b1.map { alphabet[Int(($0 & 0x0F) << 2 | (b2 ?? 0) >> 6)] } ?? UInt8(ascii: "="))
            output.append(b2.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "="))
        }
    }

    static func encode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        encode(bytes, into: &output)
        return output
    }

    private static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    /// Decodes strict base64: the length must be a multiple of four, padding only at the end,
    /// and no byte outside the alphabet. Returns nil for anything else.
    static func decode(_ encoded: some Collection<UInt8>) -> [UInt8]? {
        guard encoded.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count / 4 * 3)
        var quad: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        var index = 0
        var padding = 0
        for byte in encoded {
            let v: UInt8
            if byte == UInt8(ascii: "=") {
                // Padding may only appear in the last two positions of the last quad.
                guard index >= encoded.count - 2 else { return nil }
                padding += 1
                v = 0
            } else {
                guard padding == 0, let decoded = value(of: byte) else { return nil }
                v = decoded
            }
            switch index % 4 {
            case 0: quad.0 = v
            case 1: quad.1 = v
            case 2: quad.2 = v
            default:
                quad.3 = v
                output.append(quad.0 << 2 | quad.1 >> 4)
                output.append((quad.1 & 0x0F) << 4 | quad.2 >> 2)
                output.append((quad.2 & 0x03) << 6 | quad.3)
            }
            index += 1
        }
        output.removeLast(padding)
        return output
    }
}
