import SMTPCore

/// The body encoder target. See `FuzzHarness.bodyEncoder` for the invariant.
enum BodyEncoderHarness {
    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.byte()
        let limitByte = input.byte()
        let modes: [BodyEncoder.Mode] = [.dotStuffed, .chunkedText, .binary, .dotStuffed]
        let mode = modes[Int(flags & 3)]
        let allowsEightBit = flags & 4 != 0
        let maxLineLength = flags & 8 != 0 ? 1 + Int(limitByte % 64) : 998
        let plan = input.cutPlan(count: Int(input.byte() % 16))
        let body = input.rest()

        let whole = encode(body.isEmpty ? [] : [body], mode: mode, allowsEightBit: allowsEightBit, maxLineLength: maxLineLength)
        let pieces = cut(body, plan: plan)
        let split = encode(pieces, mode: mode, allowsEightBit: allowsEightBit, maxLineLength: maxLineLength)
        invariant(split == whole, "body encoder: chunking \(pieces.map(\.count)) changed the result")

        let expected = reference(body, mode: mode, allowsEightBit: allowsEightBit, maxLineLength: maxLineLength)
        switch (whole, expected) {
        case (.failure(let problem), .failure(let want)):
            invariant(problem == want, "body encoder refused with \(problem), reference says \(want)")
        case (.failure(let problem), .success):
            invariantFailure("body encoder refused an acceptable body: \(problem)")
        case (.success, .failure(let want)):
            invariantFailure("body encoder accepted a body it must refuse (\(want))")
        case (.success(let wire), .success(let normalized)):
            switch mode {
            case .binary:
                invariant(wire == Array(body), "binary content changed")
            case .chunkedText:
                checkNoBareLineBreaks(wire)
                invariant(wire == normalized, "BDAT text differs from the normalized body")
            case .dotStuffed:
                let decoded = strictServerDecode(wire, maxLineLength: maxLineLength)
                invariant(decoded == normalized, """
                    decoded DATA differs from the normalized body: \(show(decoded)) vs \(show(normalized))
                    """)
            }
        }
    }

    /// Encodes `pieces`, finishing on success; checks the documented per-call output bounds.
    static func encode(_ pieces: [ArraySlice<UInt8>], mode: BodyEncoder.Mode, allowsEightBit: Bool,
                       maxLineLength: Int) -> Result<[UInt8], BodyProblem> {
        var encoder = BodyEncoder(mode: mode, allowsEightBit: allowsEightBit, maxLineLength: maxLineLength)
        var wire: [UInt8] = []
        for piece in pieces {
            let before = wire.count
            do {
                try piece.withUnsafeBufferPointer { buffer throws(BodyProblem) in try encoder.encode(buffer, into: &wire) }
            } catch {
                return .failure(error)
            }
            invariant(wire.count - before <= 2 * piece.count + 2, "encode appended more than 2n+2 bytes")
        }
        let before = wire.count
        encoder.finish(into: &wire)
        invariant(wire.count - before <= 5, "finish appended \(wire.count - before) bytes")
        return .success(wire)
    }

    /// The first problem in `body`, in byte order, or the normalized body.
    static func reference(_ body: ArraySlice<UInt8>, mode: BodyEncoder.Mode, allowsEightBit: Bool,
                          maxLineLength: Int) -> Result<[UInt8], BodyProblem> {
        if mode == .binary { return .success(Array(body)) }
        var lineLength = 0
        for byte in body {
            switch byte {
            case 13, 10:
                lineLength = 0
            case 0:
                return .failure(.nulByte)
            case 0x80...:
                if !allowsEightBit { return .failure(.eightBitData) }
                fallthrough
            default:
                lineLength += 1
                if lineLength > maxLineLength { return .failure(.lineTooLong(limit: maxLineLength)) }
            }
        }
        return .success(normalizedBody(body))
    }

    static func checkNoBareLineBreaks(_ wire: [UInt8]) {
        for index in wire.indices {
            if wire[index] == 13 { invariant(index + 1 < wire.count && wire[index + 1] == 10, "bare CR on the wire") }
            if wire[index] == 10 { invariant(index > 0 && wire[index - 1] == 13, "bare LF on the wire") }
        }
    }

    /// Reads DATA content as a strict server: CRLF lines only (a bare CR or LF would let a lax
    /// server see an end of data: SMTP smuggling), "." alone ends the data and must be the last
    /// line, a leading dot is removed from every other line. Returns the message.
    static func strictServerDecode(_ wire: [UInt8], maxLineLength: Int) -> [UInt8] {
        checkNoBareLineBreaks(wire)
        var message: [UInt8] = []
        var lineStart = 0
        var index = 0
        var ended = false
        while index + 1 < wire.count {
            guard wire[index] == 13 else { index += 1; continue }
            let line = wire[lineStart..<index]
            invariant(!ended, "bytes after the end-of-data line")
            if line.count == 1, line.first == UInt8(ascii: ".") {
                ended = true
            } else {
                let text = line.first == UInt8(ascii: ".") ? line.dropFirst() : line
                invariant(text.count <= maxLineLength, "line of \(text.count) octets on the wire")
                message += text
                message += [13, 10]
            }
            index += 2
            lineStart = index
        }
        invariant(ended && lineStart == wire.count, "the data does not end with the end-of-data line")
        // The end-of-data sequence appears only at the end: "\r\n.\r\n" (or ".\r\n" first).
        for offset in 0..<max(0, wire.count - 5) where matches(wire, at: offset, [13, 10, 46, 13, 10]) {
            invariantFailure("end of data at offset \(offset + 2) of \(wire.count)")
        }
        if wire.count > 3 { invariant(!matches(wire, at: 0, [46, 13, 10]), "empty data ended at the start") }
        return message
    }
}
