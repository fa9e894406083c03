/// The MIME structure of a built message: leaves with their content headers and body, and
/// multiparts with a boundary. `segments` lays it out as the octets to send, in order.
indirect enum MIMEPart: Sendable {
    case leaf(headers: [UInt8], body: PartBody)
    case multipart(subtype: String, boundary: String, parts: [MIMEPart])

    enum PartBody: Sendable {
        /// Already encoded, CRLF line ends.
        case encoded([UInt8])
        /// Streamed from its source and base64-encoded as it is sent.
        case base64(any AttachmentSource)
    }

    var contentHeaders: [UInt8] {
        switch self {
        case .leaf(let headers, _): return headers
        case .multipart(let subtype, let boundary, _):
            return HeaderFolder.fold(name: "Content-Type", words: ["multipart/\(subtype);", "boundary=\"\(boundary)\""])
        }
    }

    /// The body after the header block's empty line, as segments.
    func bodySegments(into segments: inout [Segment]) {
        switch self {
        case .leaf(_, .encoded(let bytes)):
            segments.append(.bytes(bytes))
        case .leaf(_, .base64(let source)):
            segments.append(.base64(source))
        case .multipart(_, let boundary, let parts):
            for part in parts {
                segments.append(.bytes(Array("\r\n--\(boundary)\r\n".utf8) + part.contentHeaders + [13, 10]))
                part.bodySegments(into: &segments)
            }
            segments.append(.bytes(Array("\r\n--\(boundary)--".utf8)))
        }
    }

    /// Whether a multipart boundary occurs in encoded content (7bit and 8bit text could hold
    /// it; quoted-printable and base64 cannot hold "=_").
    func contains(_ pattern: [UInt8]) -> Bool {
        switch self {
        case .leaf(_, .encoded(let bytes)): return Self.find(pattern, in: bytes)
        case .leaf(_, .base64): return false
        case .multipart(_, _, let parts): return parts.contains { $0.contains(pattern) }
        }
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Bool {
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return false }
        for start in 0...(bytes.count - pattern.count) where bytes[start] == pattern[0] {
            if bytes[start..<(start + pattern.count)].elementsEqual(pattern) { return true }
        }
        return false
    }

    /// A multipart whose boundary is in none of its parts.
    static func multipart(_ subtype: String, _ parts: [MIMEPart]) -> MIMEPart {
        while true {
            let boundary = "=_" + RandomToken.hex(16)
            if !parts.contains(where: { $0.contains(Array("--\(boundary)".utf8)) }) {
                return .multipart(subtype: subtype, boundary: boundary, parts: parts)
            }
        }
    }
}

/// A stretch of the rendered message.
enum Segment: Sendable {
    case bytes([UInt8])
    case base64(any AttachmentSource)

    var size: Int {
        switch self {
        case .bytes(let bytes): return bytes.count
        case .base64(let source): return Base64Lines.encodedLength(of: source.byteCount)
        }
    }
}
