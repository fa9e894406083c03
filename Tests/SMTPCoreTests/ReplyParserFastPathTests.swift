import SMTPCore
import Testing

/// What a parse yields, compared whole: every reply's code, enhanced code, line count, raw bytes
/// and lines, then the error.
private struct Parsed: Equatable {
    struct Reply: Equatable {
        var code: UInt16
        var enhanced: EnhancedStatusCode?
        var lineCount: Int
        var raw: [UInt8]
        var lines: [String]
    }

    var replies: [Reply] = []
    var error: SMTPProtocolViolation?
}

/// Feeds `pieces` in order, pulling every reply after each.
private func parse(_ pieces: [ArraySlice<UInt8>], limits: ReplyParser.Limits = .init(), enhanced: Bool = true) -> Parsed {
    var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
    var parsed = Parsed()
    for piece in pieces {
        parser.append(contentsOf: piece)
        do {
            while let reply = try parser.next() {
                parsed.replies.append(.init(code: reply.code.rawValue, enhanced: reply.enhancedStatusCode,
                                            lineCount: reply.lineCount, raw: Array(reply.raw), lines: reply.lines))
            }
        } catch {
            parsed.error = error
            return parsed
        }
    }
    return parsed
}

/// The input parsed whole, after checking that cutting it in two at every position gives the
/// same replies and error.
private func parseEverySplit(_ text: String, limits: ReplyParser.Limits = .init(), enhanced: Bool = true,
                             sourceLocation: SourceLocation = #_sourceLocation) -> Parsed {
    let bytes = Array(text.utf8)
    let whole = parse([bytes[...]], limits: limits, enhanced: enhanced)
    for cut in 0...bytes.count {
        let split = parse([bytes[..<cut], bytes[cut...]], limits: limits, enhanced: enhanced)
        #expect(split == whole, "cut at \(cut)", sourceLocation: sourceLocation)
    }
    return whole
}

private func reply(_ code: UInt16, _ enhanced: (UInt8, UInt16, UInt16)?, _ raw: String, lines: [String]) -> Parsed.Reply {
    .init(code: code, enhanced: enhanced.flatMap { EnhancedStatusCode(statusClass: $0.0, subject: $0.1, detail: $0.2) },
          lineCount: lines.count, raw: Array(raw.utf8), lines: lines)
}

@Suite("Reply parser fast path")
struct ReplyParserFastPathTests {
    /// A session's replies: short ones (inline), longer single lines (shared), a multi-line one,
    /// bare codes, enhanced codes of every shape; cut anywhere, they parse the same.
    @Test func sessionSplitAnywhere() {
        let text = "220 mx.example.org ESMTP\r\n250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n"
            + "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
            + "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n250\r\n250 \r\n354 3.0.0 class 3\r\n"
            + "250 2.1.05 two digits\r\n250 2.1.0\r\n550 4.1.1 wrong class\r\n221 2.0.0 Bye\r\n"
        let parsed = parseEverySplit(text)
        #expect(parsed == Parsed(replies: [
            reply(220, nil, "220 mx.example.org ESMTP\r\n", lines: ["mx.example.org ESMTP"]),
            reply(250, nil, "250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n",
                  lines: ["mx.example.org", "PIPELINING", "CHUNKING"]),
            reply(250, (2, 1, 0), "250 2.1.0 Ok\r\n", lines: ["2.1.0 Ok"]),
            reply(250, (2, 1, 5), "250 2.1.5 Ok\r\n", lines: ["2.1.5 Ok"]),
            reply(354, nil, "354 End data with <CR><LF>.<CR><LF>\r\n", lines: ["End data with <CR><LF>.<CR><LF>"]),
            reply(250, (2, 0, 0), "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n", lines: ["2.0.0 Ok: queued as 4XyZ1k2Lm3N"]),
            reply(250, nil, "250\r\n", lines: [""]),
            reply(250, nil, "250 \r\n", lines: [""]),
            reply(354, nil, "354 3.0.0 class 3\r\n", lines: ["3.0.0 class 3"]),
            reply(250, (2, 1, 5), "250 2.1.05 two digits\r\n", lines: ["2.1.05 two digits"]),
            reply(250, (2, 1, 0), "250 2.1.0\r\n", lines: ["2.1.0"]),
            reply(550, nil, "550 4.1.1 wrong class\r\n", lines: ["4.1.1 wrong class"]),
            reply(221, (2, 0, 0), "221 2.0.0 Bye\r\n", lines: ["2.0.0 Bye"]),
        ]))
    }

    /// Each error, after a good reply, whatever the cut: the fast path hands every such line to
    /// the general one, which decides alike.
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
    ])
    func errorsAfterAGoodReply(_ tail: String, _ expected: SMTPProtocolViolation?) {
        let parsed = parseEverySplit("250 2.1.0 Ok\r\n" + tail)
        #expect(parsed.replies.first == reply(250, (2, 1, 0), "250 2.1.0 Ok\r\n", lines: ["2.1.0 Ok"]))
        #expect(parsed.replies.count == (expected == nil ? 2 : 1))
        #expect(parsed.error == expected)
    }

    /// A line exactly at the line limit is accepted, one byte more is refused; likewise the
    /// reply limit when it is the smaller; when both are crossed at once the line limit wins.
    @Test func limitsAtTheEdge() {
        let line = "250 " + String(repeating: "x", count: 20) + "\r\n" // 26 bytes
        #expect(parseEverySplit(line, limits: .init(maxLineLength: 26)).error == nil)
        #expect(parseEverySplit(line, limits: .init(maxLineLength: 25)).error == .lineTooLong(limit: 25))
        #expect(parseEverySplit(line, limits: .init(maxReplySize: 26)).error == nil)
        #expect(parseEverySplit(line, limits: .init(maxReplySize: 25)).error == .replyTooLarge(limit: 25))
        #expect(parseEverySplit(line, limits: .init(maxLineLength: 25, maxReplySize: 25)).error == .lineTooLong(limit: 25))
        // The second reply starts the reply limit afresh.
        #expect(parseEverySplit(line + line, limits: .init(maxReplySize: 26)).replies.count == 2)
    }

    /// A line limit set to zero through the property (the initializer raises it to one) refuses
    /// even a single-line reply, as it did before the fast path.
    @Test func zeroLineLimitRefusesEveryReply() {
        var limits = ReplyParser.Limits()
        limits.maxLinesPerReply = 0
        #expect(parseEverySplit("250 2.1.0 Ok\r\n", limits: limits).error == .tooManyLines(limit: 0))
    }

    /// Limits as large as an Int goes neither overflow nor refuse anything.
    @Test func hugeLimitsDoNotOverflow() {
        let limits = ReplyParser.Limits(maxLineLength: .max, maxLinesPerReply: .max, maxReplySize: .max)
        let parsed = parseEverySplit("250 2.1.0 Ok\r\n250-a\r\n250 b\r\n", limits: limits)
        #expect(parsed == Parsed(replies: [
            reply(250, (2, 1, 0), "250 2.1.0 Ok\r\n", lines: ["2.1.0 Ok"]),
            reply(250, nil, "250-a\r\n250 b\r\n", lines: ["a", "b"]),
        ]))
    }

    /// Replies of 15, 16 (the most kept inside the value) and 17 bytes: equal to the same reply
    /// built from its lines, with equal hashes, and unchanged by `detached()`.
    @Test(arguments: ["250 2.1.0 Oka\r\n", "250 2.1.0 Okay\r\n", "250 2.1.0 Okays\r\n"])
    func inlineBoundary(_ text: String) throws {
        #expect([15, 16, 17].contains(text.utf8.count))
        var parser = ReplyParser(parsesEnhancedStatusCodes: true)
        parser.append(contentsOf: Array(text.utf8))
        let parsed = try #require(try parser.next())
        let line = String(decoding: Array(text.utf8).dropFirst(4).dropLast(2), as: UTF8.self)
        let built = SMTPReply(code: .ok, lines: [line], enhancedStatusCode: EnhancedStatusCode(statusClass: 2, subject: 1, detail: 0))
        #expect(Array(parsed.raw) == Array(text.utf8))
        #expect(parsed.lines == [line])
        #expect(parsed.enhancedStatusCode == EnhancedStatusCode(statusClass: 2, subject: 1, detail: 0))
        #expect(parsed == built)
        #expect(parsed.hashValue == built.hashValue)
        #expect(parsed.detached() == parsed)
        #expect(Array(parsed.detached().raw) == Array(text.utf8))
    }

    /// A reply keeps the enhanced-code setting it was parsed under.
    @Test func enhancedSettingIsTheOneAtParseTime() throws {
        var parser = ReplyParser(parsesEnhancedStatusCodes: false)
        parser.append(contentsOf: Array("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n".utf8))
        let before = try #require(try parser.next())
        parser.parsesEnhancedStatusCodes = true
        let after = try #require(try parser.next())
        #expect(before.enhancedStatusCode == nil)
        #expect(after.enhancedStatusCode == EnhancedStatusCode(statusClass: 2, subject: 1, detail: 5))
    }
}
