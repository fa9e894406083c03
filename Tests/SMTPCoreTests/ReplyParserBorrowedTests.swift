import SMTPCore
import Testing

/// What a parse yields, compared whole: every reply (as lent, and as its owned copy), the error,
/// and the parser's byte counts (consumed, buffered, received) after each piece.
private struct Outcome: Equatable {
    struct Reply: Equatable {
        var code: UInt16
        var enhanced: EnhancedStatusCode?
        var lineCount: Int
        var raw: [UInt8]
    }

    var replies: [Reply] = []
    /// The owned copies (`ReplyView.reply`, or the reply `next()` returned), with their lines.
    var owned: [Reply] = []
    var lines: [[String]] = []
    var error: SMTPProtocolViolation?
    var counts: [[Int]] = []
}

private func counts(_ parser: ReplyParser) -> [Int] {
    [parser.consumedByteCount, parser.bufferedByteCount, parser.receivedByteCount]
}

private func summary(_ reply: SMTPReply) -> Outcome.Reply {
    .init(code: reply.code.rawValue, enhanced: reply.enhancedStatusCode, lineCount: reply.lineCount, raw: Array(reply.raw))
}

/// The reference: `append` each piece, then `next()` until nil.
private func pulled(_ pieces: [ArraySlice<UInt8>], limits: ReplyParser.Limits, enhanced: Bool) -> Outcome {
    var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
    var outcome = Outcome()
    for piece in pieces {
        piece.withUnsafeBytes { parser.append($0) }
        do {
            while let reply = try parser.next() {
                outcome.replies.append(summary(reply))
                outcome.owned.append(summary(reply))
                outcome.lines.append(reply.lines)
            }
        } catch {
            outcome.error = error
        }
        outcome.counts.append(counts(parser))
        if outcome.error != nil { break }
    }
    return outcome
}

/// The borrowed API: `parse` each piece.
private func borrowed(_ pieces: [ArraySlice<UInt8>], limits: ReplyParser.Limits, enhanced: Bool) -> Outcome {
    var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
    var outcome = Outcome()
    for piece in pieces {
        do {
            try piece.withUnsafeBytes { bytes in
                try parser.parse(bytes) { view in
                    outcome.replies.append(.init(code: view.code.rawValue, enhanced: view.enhancedStatusCode,
                                                 lineCount: view.lineCount, raw: view.withUnsafeBytes { Array($0) }))
                    let reply = view.reply
                    outcome.owned.append(summary(reply))
                    outcome.lines.append(reply.lines)
                }
            }
        } catch {
            outcome.error = error as? SMTPProtocolViolation
        }
        outcome.counts.append(counts(parser))
        if outcome.error != nil { break }
    }
    return outcome
}

/// Parses `text` whole and cut in two at every position (and, with `pairs`, in three at every
/// pair of positions), through `parse`; each must equal `append` and `next()` on the same
/// pieces. Returns the whole parse.
private func parseEveryCut(_ text: String, limits: ReplyParser.Limits = .init(), enhanced: Bool = true, pairs: Bool = false,
                           sourceLocation: SourceLocation = #_sourceLocation) -> Outcome {
    let bytes = Array(text.utf8)
    var cuts: [[Int]] = (0...bytes.count).map { [$0] }
    if pairs { cuts += (0...bytes.count).flatMap { first in (first...bytes.count).map { [first, $0] } } }
    cuts.append(Array(0...bytes.count)) // one byte at a time
    for points in cuts {
        let bounds = [0] + points + [bytes.count]
        let pieces = (0..<(bounds.count - 1)).map { bytes[bounds[$0]..<bounds[$0 + 1]] }
        let expected = pulled(pieces, limits: limits, enhanced: enhanced)
        #expect(borrowed(pieces, limits: limits, enhanced: enhanced) == expected, "cuts at \(points)",
                sourceLocation: sourceLocation)
    }
    let whole = borrowed([bytes[...]], limits: limits, enhanced: enhanced)
    #expect(whole == pulled([bytes[...]], limits: limits, enhanced: enhanced), sourceLocation: sourceLocation)
    return whole
}

private func reply(_ code: UInt16, _ enhanced: (UInt8, UInt16, UInt16)?, _ raw: String, lines: Int = 1) -> Outcome.Reply {
    .init(code: code, enhanced: enhanced.flatMap { EnhancedStatusCode(statusClass: $0.0, subject: $0.1, detail: $0.2) },
          lineCount: lines, raw: Array(raw.utf8))
}

private struct Stop: Error {}

@Suite("Reply parser, borrowed replies")
struct ReplyParserBorrowedTests {
    /// A session's replies, short and long, single and multi-line, bare codes, enhanced codes of
    /// every shape: cut anywhere, lent exactly as `next()` returns them, with the same counts.
    @Test func sessionCutAnywhere() {
        let text = "220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
            + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            + "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n250\r\n250 \r\n354 3.0.0 class 3\r\n"
            + "250 2.1.05 two digits\r\n250 2.1.0\r\n550 4.1.1 wrong class\r\n221 2.0.0 Bye\r\n"
        let whole = parseEveryCut(text)
        let expected = [
            reply(220, nil, "220 mx.example.org ESMTP\r\n"),
            reply(250, nil, "250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n", lines: 3),
            reply(250, (2, 1, 0), "250 2.1.0 Ok\r\n"),
            reply(250, (2, 1, 5), "250 2.1.5 Ok\r\n"),
            reply(354, nil, "354 End data with <CR><LF>.<CR><LF>\r\n"),
            reply(250, (2, 0, 0), "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n"),
            reply(250, nil, "250\r\n"),
            reply(250, nil, "250 \r\n"),
            reply(354, nil, "354 3.0.0 class 3\r\n"),
            reply(250, (2, 1, 5), "250 2.1.05 two digits\r\n"),
            reply(250, (2, 1, 0), "250 2.1.0\r\n"),
            reply(550, nil, "550 4.1.1 wrong class\r\n"),
            reply(221, (2, 0, 0), "221 2.0.0 Bye\r\n"),
        ]
        #expect(whole.replies == expected)
        #expect(whole.owned == expected)
        #expect(whole.lines[1] == ["mx.example.org", "PIPELINING", "CHUNKING"])
        #expect(whole.error == nil)
        #expect(whole.counts == [[text.utf8.count, 0, text.utf8.count]])
    }

    /// A multi-line reply over three reads, cut at every pair of positions.
    @Test func multiLineReplyInThreePieces() {
        let whole = parseEveryCut("250-a\r\n250-bb\r\n250 ccc\r\n220 x\r\n", pairs: true)
        #expect(whole.replies == [reply(250, nil, "250-a\r\n250-bb\r\n250 ccc\r\n", lines: 3), reply(220, nil, "220 x\r\n")])
    }

    /// Each error, after a good reply, whatever the cuts: the same error, the same replies before
    /// it, the same bytes kept.
    @Test(arguments: [
        ("250 x\r\n", SMTPProtocolViolation?.none),
        ("250 bare lf\n", .bareLineFeed),
        ("250 bare\rcr\r\n", .bareCarriageReturn),
        ("650 bad class\r\n", .invalidCode(650)),
        ("260 bad second digit\r\n", .invalidCode(260)),
        ("25x bad digit\r\n", .malformedLine),
        ("250_bad separator\r\n", .malformedLine),
        ("25\r\n", .malformedLine),
        ("250-a\r\n251 b\r\n", .inconsistentCode(first: 250, later: 251)),
        ("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", .tooManyLines(limit: 3)),
    ])
    func errorsAfterAGoodReply(_ tail: String, _ expected: SMTPProtocolViolation?) {
        let whole = parseEveryCut("250 2.1.0 Ok\r\n" + tail + "250 after\r\n", limits: .init(maxLinesPerReply: 3), pairs: true)
        #expect(whole.replies.first == reply(250, (2, 1, 0), "250 2.1.0 Ok\r\n"))
        #expect(whole.replies.count == (expected == nil ? 3 : 1))
        #expect(whole.error == expected)
    }

    /// The line and reply limits at their edges, and the line limit winning when both are crossed.
    @Test func limitsAtTheEdge() {
        let line = "250 " + String(repeating: "x", count: 20) + "\r\n" // 26 bytes
        #expect(parseEveryCut(line + line, limits: .init(maxLineLength: 26)).replies.count == 2)
        #expect(parseEveryCut(line, limits: .init(maxLineLength: 25)).error == .lineTooLong(limit: 25))
        #expect(parseEveryCut(line + line, limits: .init(maxReplySize: 26)).replies.count == 2)
        #expect(parseEveryCut(line, limits: .init(maxReplySize: 25)).error == .replyTooLarge(limit: 25))
        #expect(parseEveryCut(line, limits: .init(maxLineLength: 25, maxReplySize: 25)).error == .lineTooLong(limit: 25))
        var zero = ReplyParser.Limits()
        zero.maxLinesPerReply = 0
        #expect(parseEveryCut("250 2.1.0 Ok\r\n", limits: zero).error == .tooManyLines(limit: 0))
    }

    /// Replies appended and not pulled come first, then the read's, in order.
    @Test func appendedRepliesComeFirst() throws {
        var parser = ReplyParser()
        parser.append(contentsOf: Array("250 one\r\n250-two\r\n250 two".utf8))
        var raws: [String] = []
        try Array("\r\n250 three\r\n250 fo".utf8).withUnsafeBytes { bytes in
            try parser.parse(bytes) { view in raws.append(view.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }) }
        }
        #expect(raws == ["250 one\r\n", "250-two\r\n250 two\r\n", "250 three\r\n"])
        #expect(counts(parser) == [38, 6, 44])
        parser.append(contentsOf: Array("ur\r\n".utf8))
        #expect(try parser.next().map { Array($0.raw) } == Array("250 four\r\n".utf8))
    }

    /// A body that throws stops the parse: its reply counts as returned, the rest is kept for
    /// `next()`, whether the reply was lent from the read or from the buffer.
    @Test(arguments: [0, 5, 12])
    func throwingBodyKeepsTheRest(_ buffered: Int) throws {
        let text = Array("250 one\r\n250 two\r\n250 three\r\n".utf8)
        var parser = ReplyParser()
        parser.append(contentsOf: text[..<buffered])
        var seen: [String] = []
        #expect(throws: Stop.self) {
            try text[buffered...].withUnsafeBytes { bytes in
                try parser.parse(bytes) { view in
                    seen.append(view.withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
                    throw Stop()
                }
            }
        }
        #expect(seen == ["250 one\r\n"])
        #expect(counts(parser) == [9, text.count - 9, text.count])
        #expect(try parser.next().map { Array($0.raw) } == Array("250 two\r\n".utf8))
        #expect(try parser.next().map { Array($0.raw) } == Array("250 three\r\n".utf8))
        #expect(try parser.next() == nil)
    }

    /// After an error every call throws it again, and keeps counting the bytes it is given.
    @Test func errorsAreSticky() {
        var parser = ReplyParser()
        var errors: [SMTPProtocolViolation?] = []
        for text in ["250 x\n", "250 ok\r\n"] {
            var lent = 0
            do {
                try Array(text.utf8).withUnsafeBytes { try parser.parse($0) { _ in lent += 1 } }
                errors.append(nil)
            } catch {
                errors.append(error as? SMTPProtocolViolation)
            }
            #expect(lent == 0)
        }
        #expect(errors == [.bareLineFeed, .bareLineFeed])
        #expect(counts(parser) == [0, 14, 14])
        #expect(throws: SMTPProtocolViolation.bareLineFeed) { try parser.next() }
    }

    /// Views of 15, 16 and 17 bytes (around the inline limit) give owned replies equal to the
    /// same reply built from its lines.
    @Test(arguments: ["250 2.1.0 Oka\r\n", "250 2.1.0 Okay\r\n", "250 2.1.0 Okays\r\n"])
    func ownedCopyAtTheInlineBoundary(_ text: String) throws {
        var parser = ReplyParser(parsesEnhancedStatusCodes: true)
        var owned: [SMTPReply] = []
        try Array(text.utf8).withUnsafeBytes { try parser.parse($0) { owned.append($0.reply) } }
        let line = String(decoding: Array(text.utf8).dropFirst(4).dropLast(2), as: UTF8.self)
        let built = SMTPReply(code: .ok, lines: [line], enhancedStatusCode: EnhancedStatusCode(statusClass: 2, subject: 1, detail: 0))
        #expect(owned == [built])
        #expect(owned.map { Array($0.raw) } == [Array(text.utf8)])
        #expect(owned.map(\.hashValue) == [built.hashValue])
    }
}
