/// How the harness cuts server bytes (and message content) into pieces.
enum SplitStrategy: CustomStringConvertible, CaseIterable {
    case whole
    case byteByByte
    case random(seed: UInt64)

    static var allCases: [SplitStrategy] {
        [.whole, .byteByByte, .random(seed: 1), .random(seed: 0xDEADBEEF), .random(seed: 42)]
    }

    var description: String {
        switch self {
        case .whole: "whole"
        case .byteByByte: "byte-by-byte"
        case .random(let seed): "random(\(seed))"
        }
    }

    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func pieces(_ bytes: [UInt8], generator: inout Generator) -> [[UInt8]] {
        switch self {
        case .whole:
            return bytes.isEmpty ? [] : [bytes]
        case .byteByByte:
            return bytes.map { [$0] }
        case .random:
            var result: [[UInt8]] = []
            var index = 0
            while index < bytes.count {
                let length = Int(generator.next() % 7) + 1
                let end = min(bytes.count, index + length)
                result.append(Array(bytes[index..<end]))
                index = end
            }
            return result
        }
    }

    func makeGenerator() -> Generator {
        if case .random(let seed) = self { return Generator(state: seed) }
        return Generator(state: 0)
    }
}
