/// One pass over a built message: header and text octets from memory, attachments read from
/// their sources in chunks and base64-encoded on the way, so memory stays constant whatever
/// the attachments' size.
public final class MessageStream {
    private static let inputChunk = 57 * 1024  // 1024 full base64 lines

    private let segments: [Segment]
    private var index = 0
    private var offset = 0
    private var reader: (any AttachmentReader)?
    private var remaining = 0
    private var encoder = Base64Lines()
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var input: UnsafeMutableRawBufferPointer?

    init(_ segments: [Segment]) { self.segments = segments }

    deinit { input?.deallocate() }

    /// True once the last octet was read.
    public var isAtEnd: Bool { index == segments.count && pendingOffset == pending.count }

    /// Fills the start of `destination`; returns how many octets (0 at the end).
    public func read(into destination: UnsafeMutableRawBufferPointer) throws(MessageBuildError) -> Int {
        var filled = 0
        while filled < destination.count {
            if pendingOffset < pending.count {
                let count = min(destination.count - filled, pending.count - pendingOffset)
                pending.withUnsafeBytes { source in
                    (destination.baseAddress! + filled).copyMemory(from: source.baseAddress! + pendingOffset, byteCount: count)
                }
                pendingOffset += count
                filled += count
                continue
            }
            guard index < segments.count else { break }
            switch segments[index] {
            case .bytes(let bytes):
                let count = min(destination.count - filled, bytes.count - offset)
                bytes.withUnsafeBytes { source in
                    (destination.baseAddress! + filled).copyMemory(from: source.baseAddress! + offset, byteCount: count)
                }
                offset += count
                filled += count
                if offset == bytes.count {
                    index += 1
                    offset = 0
                }
            case .base64(let source):
                try refill(from: source)
            }
        }
        return filled
    }

    /// Reads the next chunk of an attachment into `pending`, encoded; at its end, checks that
    /// the source held exactly the octets it announced.
    private func refill(from source: any AttachmentSource) throws(MessageBuildError) {
        pending.removeAll(keepingCapacity: true)
        pendingOffset = 0
        if reader == nil {
            reader = try source.makeReader()
            remaining = source.byteCount
            encoder = Base64Lines()
            if input == nil { input = .allocate(byteCount: Self.inputChunk, alignment: 16) }
        }
        guard let reader, let input else { return }
        if remaining > 0 {
            let wanted = min(remaining, input.count)
            let count = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<wanted]))
            guard count > 0, count <= wanted else {
                throw MessageBuildError("an attachment ended before its \(source.byteCount) octets")
            }
            remaining -= count
            encoder.encode(UnsafeRawBufferPointer(rebasing: input[0..<count]), into: &pending)
            return
        }
        let extra = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: input[0..<1]))
        guard extra == 0 else { throw MessageBuildError("an attachment is longer than its \(source.byteCount) octets") }
        encoder.finish(into: &pending)
        self.reader = nil
        index += 1
    }
}
