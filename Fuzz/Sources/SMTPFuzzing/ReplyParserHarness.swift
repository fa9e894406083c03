import SMTPCore

/// The reply parser target. See `FuzzHarness.replyParser` for the invariant.
enum ReplyParserHarness {
    /// What a parse produced, compared across feeding strategies.
    struct Outcome: Equatable {
        var replies: [Summary] = []
        var error: SMTPProtocolViolation?
    }

    struct Summary: Equatable {
        var code: UInt16
        var enhanced: EnhancedStatusCode?
        var lineCount: Int
        var raw: [UInt8]
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.byte()
        let lineByte = input.byte(), linesByte = input.byte(), sizeByte = input.byte()
        let limits = ReplyParser.Limits(
            maxLineLength: flags & 0x02 != 0 ? 6 + Int(lineByte) : 2048,
            maxLinesPerReply: flags & 0x04 != 0 ? 1 + Int(linesByte % 16) : 128,
            maxReplySize: flags & 0x08 != 0 ? 6 + 2 * Int(sizeByte) : 32 * 1024)
        let enhanced = flags & 0x01 != 0
        let plan = input.cutPlan(count: Int(input.byte() % 17))
        let payload = input.rest()

        // The whole parse is checked in depth; the others must simply agree with it.
        let whole = parse(payload, pieces: payload.isEmpty ? [] : [payload], limits: limits, enhanced: enhanced, lazy: false,
                          deep: true)
        let pieces = cut(payload, plan: plan)
        let split = parse(payload, pieces: pieces, limits: limits, enhanced: enhanced, lazy: false)
        invariant(split == whole, """
            reply parser: split input gave \(describe(split)), whole input gave \(describe(whole)) \
            (pieces \(pieces.map(\.count)))
            """)
        let lazy = parse(payload, pieces: pieces, limits: limits, enhanced: enhanced, lazy: true)
        invariant(lazy == whole, "reply parser: lazy draining gave \(describe(lazy)), eager gave \(describe(whole))")
        for mixed in [false, true] {
            let lent = parseBorrowed(pieces, limits: limits, enhanced: enhanced, mixed: mixed)
            invariant(lent == whole, "reply parser: parse (mixed: \(mixed)) gave \(describe(lent)), next() gave \(describe(whole))")
        }

        // The replies are exactly the input's prefix; what follows justifies the error, if any.
        var consumed = 0
        for reply in whole.replies {
            invariant(matches(payload, at: consumed, reply.raw), "reply parser: reply bytes are not the input's")
            consumed += reply.raw.count
        }
        let rest = payload.dropFirst(consumed)
        if let error = whole.error {
            justify(error, rest: rest, limits: limits)
        } else {
            checkPendingPrefix(rest, limits: limits)
        }
    }

    private static func describe(_ outcome: Outcome) -> String {
        "\(outcome.replies.count) replies \(outcome.replies.map(\.code)) then \(outcome.error.map { "\($0)" } ?? "no error")"
    }

    /// Feeds `pieces` and collects the replies. Eager: after each piece, pull replies until nil.
    /// Lazy: pull at most one reply per piece, keep the reply values (which share the parser's
    /// buffer) across later input, and drain at the end.
    static func parse(_ payload: ArraySlice<UInt8>, pieces: [ArraySlice<UInt8>], limits: ReplyParser.Limits,
                      enhanced: Bool, lazy: Bool, deep: Bool = false) -> Outcome {
        var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
        var held: [SMTPReply] = []
        var error: SMTPProtocolViolation?

        func pull(_ parser: inout ReplyParser, max: Int) -> Bool {
            var pulled = 0
            while pulled < max {
                do {
                    guard let reply = try parser.next() else {
                        if !lazy {
                            invariant(parser.bufferedByteCount <= limits.maxReplySize,
                                         "reply parser holds \(parser.bufferedByteCount) bytes, limit \(limits.maxReplySize)")
                        }
                        return true
                    }
                    held.append(reply)
                    pulled += 1
                } catch let thrown {
                    error = thrown
                    return false
                }
            }
            return true
        }

        for piece in pieces {
            piece.withUnsafeBytes { parser.append($0) }
            if !pull(&parser, max: lazy ? 1 : Int.max) { break }
        }
        if error == nil { _ = pull(&parser, max: Int.max) }

        if let first = error {
            // Sticky: the same error again, even after more input.
            invariant(parser.error == first, "reply parser: error property differs from the thrown error")
            do { _ = try parser.next(); invariantFailure("reply parser: error not sticky") } catch let again {
                invariant(again == first, "reply parser: a different error the second time")
            }
            parser.append(contentsOf: Array(ascii: "250 ok\r\n"))
            do { _ = try parser.next(); invariantFailure("reply parser: error not sticky after input") } catch let again {
                invariant(again == first, "reply parser: a different error after more input")
            }
        }

        var outcome = Outcome(error: error)
        for reply in held {
            outcome.replies.append(deep ? check(reply, limits: limits, enhanced: enhanced)
                : Summary(code: reply.code.rawValue, enhanced: reply.enhancedStatusCode, lineCount: reply.lineCount,
                          raw: Array(reply.raw)))
        }
        return outcome
    }

    /// Checks one reply's form and returns its summary.
    private static func check(_ reply: SMTPReply, limits: ReplyParser.Limits, enhanced: Bool) -> Summary {
        let raw = Array(reply.raw)
        let code = reply.code.rawValue
        invariant(raw.count <= limits.maxReplySize, "reply larger than its limit")
        invariant((2...5).contains(code / 100) && (code / 10) % 10 <= 5, "reply code \(code) out of range")
        invariant(reply.lineCount >= 1 && reply.lineCount <= limits.maxLinesPerReply, "reply line count out of range")

        // Split the raw bytes into CRLF lines and check each.
        var lineTexts: [[UInt8]] = []
        var start = 0
        var index = 0
        while index < raw.count {
            let byte = raw[index]
            if byte == 13 {
                invariant(index + 1 < raw.count && raw[index + 1] == 10, "bare CR in a returned reply")
                let line = raw[start..<index]
                invariant(index + 2 - start <= limits.maxLineLength, "returned line longer than the limit")
                invariant(line.count >= 3, "returned line shorter than a code")
                let digits = (UInt16(line[start] &- 48), UInt16(line[start + 1] &- 48), UInt16(line[start + 2] &- 48))
                invariant(digits.0 <= 9 && digits.1 <= 9 && digits.2 <= 9, "returned line without a code")
                invariant(digits.0 * 100 + digits.1 * 10 + digits.2 == code, "returned line with another code")
                let isLast = index + 2 == raw.count
                if line.count == 3 {
                    invariant(isLast, "bare code on a line that is not the last")
                    lineTexts.append([])
                } else {
                    let separator = line[start + 3]
                    invariant(separator == (isLast ? UInt8(ascii: " ") : UInt8(ascii: "-")),
                                 "wrong separator \(separator) in a returned reply")
                    lineTexts.append(Array(line[(start + 4)...]))
                }
                index += 2
                start = index
                continue
            }
            invariant(byte != 10, "bare LF in a returned reply")
            index += 1
        }
        invariant(start == raw.count && !raw.isEmpty, "returned reply does not end in CRLF")
        invariant(lineTexts.count == reply.lineCount, "line count \(reply.lineCount) but \(lineTexts.count) lines")

        var seen: [[UInt8]] = []
        reply.forEachLine { seen.append(Array($0)) }
        invariant(seen == lineTexts, "forEachLine disagrees with the raw bytes")
        invariant(reply.lines.count == reply.lineCount, "lines disagrees with lineCount")

        // Enhanced code: exactly what a reference reading of the first line finds.
        let expected = enhanced ? referenceEnhancedCode(lineTexts[0], replyClass: UInt8(code / 100)) : nil
        invariant(reply.enhancedStatusCode == expected,
                     "enhanced code \(String(describing: reply.enhancedStatusCode)), reference \(String(describing: expected))")

        // Display text is safe for a terminal.
        for scalar in reply.description.unicodeScalars {
            invariant(scalar.value >= 0x20 && scalar.value != 0x7F && !(0x80..<0xA0).contains(scalar.value),
                         "control character in a reply description")
        }
        invariant(reply.detached() == reply, "a detached reply differs from its original")
        return Summary(code: code, enhanced: reply.enhancedStatusCode, lineCount: reply.lineCount, raw: raw)
    }

    /// RFC 3463 `class "." subject "." detail` at the start of `text`, followed by a space or the
    /// end; class 2, 4 or 5 equal to the reply's class, subject and detail of one to three digits.
    static func referenceEnhancedCode(_ text: [UInt8], replyClass: UInt8) -> EnhancedStatusCode? {
        var fields: [[UInt8]] = [[]]
        for byte in text {
            if byte == UInt8(ascii: " ") { break }
            if byte == UInt8(ascii: ".") { fields.append([]); continue }
            fields[fields.count - 1].append(byte)
        }
        guard fields.count == 3 else { return nil }
        for field in fields {
            guard !field.isEmpty, field.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        }
        guard fields[0].count == 1, fields[1].count <= 3, fields[2].count <= 3 else { return nil }
        func value(_ digits: [UInt8]) -> UInt16 { digits.reduce(0) { $0 * 10 + UInt16($1 - 48) } }
        let statusClass = UInt8(value(fields[0]))
        guard statusClass == replyClass else { return nil }
        return EnhancedStatusCode(statusClass: statusClass, subject: value(fields[1]), detail: value(fields[2]))
    }

    /// After the last reply, with no error: only a partial reply may remain, i.e. complete
    /// continuation lines and at most one unterminated line (which may end in CR).
    private static func checkPendingPrefix(_ rest: ArraySlice<UInt8>, limits: ReplyParser.Limits) {
        let bytes = Array(rest)
        var index = 0
        var lineStart = 0
        var lines = 0
        while index < bytes.count {
            if bytes[index] == 10 {
                invariant(index > 0 && bytes[index - 1] == 13, "no error reported for a bare LF")
                let line = bytes[lineStart..<(index - 1)]
                invariant(line.count >= 4 && line[line.startIndex + 3] == UInt8(ascii: "-"),
                             "no reply and no error for a complete last line")
                lines += 1
                lineStart = index + 1
            } else if bytes[index] == 13, index + 1 < bytes.count {
                invariant(bytes[index + 1] == 10, "no error reported for a bare CR")
            }
            index += 1
        }
        invariant(lines <= limits.maxLinesPerReply, "no error for a reply over the line limit")
    }

    /// Weak but independent evidence for each error, found in the bytes after the last reply.
    private static func justify(_ error: SMTPProtocolViolation, rest: ArraySlice<UInt8>, limits: ReplyParser.Limits) {
        let bytes = Array(rest)
        func lineStarts() -> [Int] {
            var starts = [0]
            for (offset, byte) in bytes.enumerated() where byte == 10 && offset + 1 < bytes.count { starts.append(offset + 1) }
            return starts
        }
        func code(at start: Int) -> UInt16? {
            guard start + 3 <= bytes.count else { return nil }
            let d = (bytes[start] &- 48, bytes[start + 1] &- 48, bytes[start + 2] &- 48)
            guard d.0 <= 9, d.1 <= 9, d.2 <= 9 else { return nil }
            return UInt16(d.0) * 100 + UInt16(d.1) * 10 + UInt16(d.2)
        }
        switch error {
        case .bareLineFeed:
            invariant(bytes.indices.contains { bytes[$0] == 10 && ($0 == 0 || bytes[$0 - 1] != 13) }, "bareLineFeed without one")
        case .bareCarriageReturn:
            invariant(bytes.indices.contains { bytes[$0] == 13 && $0 + 1 < bytes.count && bytes[$0 + 1] != 10 },
                         "bareCarriageReturn without one")
        case .lineTooLong(let limit):
            invariant(limit == limits.maxLineLength, "lineTooLong with another limit")
            var run = 0, longest = 0
            for byte in bytes { if byte == 13 || byte == 10 { run = 0 } else { run += 1; longest = max(longest, run) } }
            invariant(longest >= limit - 1, "lineTooLong but the longest line has \(longest) bytes")
        case .replyTooLarge(let limit):
            invariant(limit == limits.maxReplySize, "replyTooLarge with another limit")
            invariant(bytes.count >= limit - 1, "replyTooLarge but only \(bytes.count) bytes remain")
        case .tooManyLines(let limit):
            invariant(limit == limits.maxLinesPerReply, "tooManyLines with another limit")
            invariant(bytes.filter { $0 == 10 }.count > limit, "tooManyLines with too few lines")
        case .inconsistentCode(let first, let later):
            let codes = lineStarts().compactMap(code(at:))
            invariant(first != later && codes.contains(first) && codes.contains(later), "inconsistentCode unjustified")
        case .invalidCode(let value):
            invariant(lineStarts().compactMap(code(at:)).contains(value), "invalidCode \(value) unjustified")
            invariant(!((2...5).contains(value / 100) && (value / 10) % 10 <= 5), "invalidCode for a valid code")
        case .malformedLine:
            break
        case .unsolicitedReply, .unexpectedReply, .bytesAfterSTARTTLS, .bytesDuringTLSHandshake:
            invariantFailure("reply parser reported a session-level error: \(error)")
        }
    }
}
