/// Envelope positions, inserted in ascending order (RCPT order within a round is envelope
/// order), kept without allocating for the first 64: a transaction's accepted recipients.
struct RecipientSet: Sendable, Sequence {
    private var low: UInt64 = 0
    /// Positions 64 and up, ascending.
    private var high: [Int] = []

    var isEmpty: Bool { low == 0 && high.isEmpty }
    var count: Int { low.nonzeroBitCount + high.count }

    mutating func insert(_ position: Int) {
        if position < 64 { low |= 1 << UInt64(position) } else { high.append(position) }
    }

    /// The `n`th position, counting from 0 in ascending order.
    subscript(n: Int) -> Int {
        var remaining = n
        var bits = low
        while bits != 0 {
            let position = bits.trailingZeroBitCount
            if remaining == 0 { return position }
            remaining -= 1
            bits &= bits - 1
        }
        return high[remaining]
    }

    struct Iterator: IteratorProtocol {
        fileprivate var bits: UInt64
        fileprivate let high: [Int]
        fileprivate var index = 0

        mutating func next() -> Int? {
            if bits != 0 {
                let position = bits.trailingZeroBitCount
                bits &= bits - 1
                return position
            }
            guard index < high.count else { return nil }
            defer { index += 1 }
            return high[index]
        }
    }

    func makeIterator() -> Iterator { Iterator(bits: low, high: high) }
}
