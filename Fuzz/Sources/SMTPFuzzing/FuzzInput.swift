/// Reads a fuzzer's bytes front to back. Past the end every read yields zeros (or nothing), so
/// every input, even the empty one, decodes to some valid run: the fuzzer never wastes an input
/// on a layout error.
struct FuzzInput {
    private let bytes: [UInt8]
    private(set) var position = 0

    init(_ data: UnsafeRawBufferPointer) {
        bytes = Array(data)
    }

    init(_ data: [UInt8]) {
        bytes = data
    }

    var isAtEnd: Bool { position >= bytes.count }
    var remainingCount: Int { max(0, bytes.count - position) }

    /// The next byte, or 0 past the end.
    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// Up to `count` bytes.
    mutating func bytes(_ count: Int) -> ArraySlice<UInt8> {
        let end = min(bytes.count, position + max(0, count))
        let start = min(position, end)
        position = end
        return bytes[start..<end]
    }

    /// Everything left.
    mutating func rest() -> ArraySlice<UInt8> {
        bytes(remainingCount)
    }

    /// `count` bytes read as lengths for cutting a payload into pieces (see `cut`).
    mutating func cutPlan(count: Int) -> [Int] {
        (0..<count).map { _ in Int(byte()) }
    }
}

/// Cuts `payload` into consecutive pieces whose lengths cycle through `plan` (a 0 gives an empty
/// piece). An empty plan, or one of zeros only, gives the payload whole.
func cut(_ payload: ArraySlice<UInt8>, plan: [Int]) -> [ArraySlice<UInt8>] {
    guard plan.contains(where: { $0 > 0 }) else { return payload.isEmpty ? [] : [payload] }
    var pieces: [ArraySlice<UInt8>] = []
    var index = payload.startIndex
    var step = 0
    while index < payload.endIndex {
        let length = plan[step % plan.count]
        step += 1
        let end = min(payload.endIndex, index + length)
        pieces.append(payload[index..<end])
        index = end
    }
    return pieces
}

/// Lone CR and lone LF become CRLF; a non-empty result ends with CRLF. What a strict server must
/// reconstruct from any message content the engine accepts.
func normalizedBody(_ body: some Collection<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(body.count + 8)
    var previousWasCR = false
    for byte in body {
        if previousWasCR {
            previousWasCR = false
            if byte == 10 { continue }
        }
        switch byte {
        case 13:
            out.append(13); out.append(10)
            previousWasCR = true
        case 10:
            out.append(13); out.append(10)
        default:
            out.append(byte)
        }
    }
    if !out.isEmpty, !(out.count >= 2 && out[out.count - 2] == 13 && out[out.count - 1] == 10) {
        out.append(13); out.append(10)
    }
    return out
}

extension Array where Element == UInt8 {
    init(ascii text: StaticString) {
        self = text.withUTF8Buffer { Array($0) }
    }
}

/// True when `haystack` contains `needle` starting at `offset`.
func matches(_ haystack: some RandomAccessCollection<UInt8>, at offset: Int, _ needle: [UInt8]) -> Bool {
    guard offset >= 0, haystack.count - offset >= needle.count else { return false }
    var index = haystack.index(haystack.startIndex, offsetBy: offset)
    for byte in needle {
        if haystack[index] != byte { return false }
        index = haystack.index(after: index)
    }
    return true
}

/// Printable, bounded rendering of bytes for invariant messages.
func show(_ bytes: some Collection<UInt8>, limit: Int = 120) -> String {
    var out = ""
    for (count, byte) in bytes.enumerated() {
        if count >= limit { out += "..."; break }
        switch byte {
        case 13: out += "\\r"
        case 10: out += "\\n"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
        }
    }
    return out
}
