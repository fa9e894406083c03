import SMTPCore
import Testing

/// Feeds `bytes` under a split strategy and collects replies (as "code|line|line") or the error.
private func parse(_ text: String, strategy: SplitStrategy, limits: ReplyParser.Limits = .init(),
                   enhanced: Bool = false) -> (replies: [String], error: SMTPProtocolViolation?) {
    var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
    var generator = strategy.makeGenerator()
    var replies: [String] = []
    for piece in strategy.pieces(Script.unescape(text), generator: &generator) {
        parser.append(contentsOf: piece)
        do {
            while let reply = try parser.next() {
                var description = "\(reply.code)"
                if let enhanced = reply.enhancedStatusCode { description += " [\(enhanced)]" }
                description += "|" + reply.lines.joined(separator: "|")
                replies.append(description)
            }
        } catch {
            return (replies, error)
        }
    }
    return (replies, nil)
}

/// Parses under every strategy and requires identical results.
private func parseAll(_ text: String, limits: ReplyParser.Limits = .init(), enhanced: Bool = false,
                      sourceLocation: SourceLocation = #_sourceLocation) -> (replies: [String], error: SMTPProtocolViolation?) {
    let first = parse(text, strategy: .whole, limits: limits, enhanced: enhanced)
    for strategy in SplitStrategy.allCases.dropFirst() {
        let other = parse(text, strategy: strategy, limits: limits, enhanced: enhanced)
        #expect(other.replies == first.replies && other.error == first.error, "\(strategy) differs", sourceLocation: sourceLocation)
    }
    return first
}

@Suite("Reply parser")
struct ReplyParserTests {
    @Test func singleAndMultiLine() {
        let result = parseAll("220 mx.example ESMTP ready\\r\\n250-mx.example\\r\\n250-PIPELINING\\r\\n250 8BITMIME\\r\\n")
        #expect(result.replies == ["220|mx.example ESMTP ready", "250|mx.example|PIPELINING|8BITMIME"])
        #expect(result.error == nil)
    }

    @Test func textIsOptional() {
        let result = parseAll("250\\r\\n250 \\r\\n354-\\r\\n354\\r\\n")
        #expect(result.replies == ["250|", "250|", "354||"])
    }

    @Test func needMoreBytesIsNotAnError() throws {
        var parser = ReplyParser()
        parser.append(contentsOf: Array("250-first\r\n250 sec".utf8))
        #expect(try parser.next() == nil)
        parser.append(contentsOf: Array("ond\r".utf8))
        #expect(try parser.next() == nil)
        parser.append(contentsOf: [10])
        #expect(try parser.next()?.lines == ["first", "second"])
        #expect(parser.bufferedByteCount == 0)
    }

    @Test(arguments: [
        ("250-a\\r\\n251 b\\r\\n", SMTPProtocolViolation.inconsistentCode(first: 250, later: 251)),
        ("150 hello\\r\\n", .invalidCode(150)),
        ("650 hello\\r\\n", .invalidCode(650)),
        ("260 bad second digit\\r\\n", .invalidCode(260)),
        ("099 x\\r\\n", .invalidCode(99)),
        ("25 short\\r\\n", .malformedLine),
        ("2500 four digits\\r\\n", .malformedLine),
        ("250_x\\r\\n", .malformedLine),
        ("abc def\\r\\n", .malformedLine),
        ("\\r\\n", .malformedLine),
        ("250 bare lf\\n", .bareLineFeed),
        ("250 bare\\rcr\\r\\n", .bareCarriageReturn),
        ("25\\n", .bareLineFeed),
    ])
    func malformedReplies(_ text: String, _ expected: SMTPProtocolViolation) {
        let result = parseAll(text)
        #expect(result.error == expected, "\(text)")
        #expect(result.replies.isEmpty)
    }

    @Test func errorsAreSticky() {
        var parser = ReplyParser()
        parser.append(contentsOf: Array("999 nope\r\n250 fine\r\n".utf8))
        #expect(throws: SMTPProtocolViolation.invalidCode(999)) { try parser.next() }
        #expect(throws: SMTPProtocolViolation.invalidCode(999)) { try parser.next() }
        parser.append(contentsOf: Array("250 more\r\n".utf8))
        #expect(throws: SMTPProtocolViolation.invalidCode(999)) { try parser.next() }
    }

    @Test func lineLengthLimitHoldsWithoutCRLF() {
        let limits = ReplyParser.Limits(maxLineLength: 64)
        // Exactly at the limit (62 text bytes + CRLF = 64 with the code): fine.
        let fits = "250 " + String(repeating: "x", count: 58) + "\\r\\n"
        #expect(parseAll(fits, limits: limits).error == nil)
        let tooLong = "250 " + String(repeating: "x", count: 59) + "\\r\\n"
        #expect(parseAll(tooLong, limits: limits).error == .lineTooLong(limit: 64))
        // An endless line is refused once the limit is passed, not buffered forever.
        var parser = ReplyParser(limits: limits)
        var threw = false
        for _ in 0..<1000 where !threw {
            parser.append(contentsOf: Array("xxxxxxxx".utf8))
            do { _ = try parser.next() } catch { threw = true; #expect(error == .lineTooLong(limit: 64)) }
        }
        #expect(threw)
        #expect(parser.bufferedByteCount < 128)
    }

    @Test func endlessMultiLineReplyHitsTheLineCountLimit() {
        var parser = ReplyParser(limits: .init(maxLinesPerReply: 10))
        var failure: SMTPProtocolViolation?
        for _ in 0..<1000 where failure == nil {
            parser.append(contentsOf: Array("250-more\r\n".utf8))
            do { _ = try parser.next() } catch { failure = error }
        }
        #expect(failure == .tooManyLines(limit: 10))
    }

    @Test func replySizeLimit() {
        let limits = ReplyParser.Limits(maxLineLength: 100, maxLinesPerReply: 1000, maxReplySize: 300)
        let line = "250-" + String(repeating: "y", count: 90) + "\\r\\n"
        let result = parseAll(String(repeating: line, count: 4) + "250 end\\r\\n", limits: limits)
        #expect(result.error == .replyTooLarge(limit: 300))
    }

    @Test func enhancedStatusCodes() {
        let text = "250 2.1.0 Ok\\r\\n550 5.1.1 <x>: unknown\\r\\n250 2.0.0\\r\\n451 4.3.0\\r\\n250 2.1.0Ok\\r\\n250 5.1.0 wrong class\\r\\n550 5.1000.1 too long\\r\\n550 5.1 short\\r\\n550 X.1.1 letters\\r\\n250-2.0.0 multi\\r\\n250 2.0.0 line\\r\\n"
        let result = parseAll(text, enhanced: true)
        #expect(result.replies == [
            "250 [2.1.0]|2.1.0 Ok", "550 [5.1.1]|5.1.1 <x>: unknown", "250 [2.0.0]|2.0.0", "451 [4.3.0]|4.3.0",
            "250|2.1.0Ok", "250|5.1.0 wrong class", "550|5.1000.1 too long", "550|5.1 short", "550|X.1.1 letters",
            "250 [2.0.0]|2.0.0 multi|2.0.0 line",
        ])
        // Without the extension, the same text carries no enhanced code.
        #expect(parseAll("250 2.1.0 Ok\\r\\n").replies == ["250|2.1.0 Ok"])
    }

    @Test func controlCharactersAreEscapedForDisplay() throws {
        var parser = ReplyParser()
        parser.append(contentsOf: Array("550 evil \u{1B}[31mred\u{07}\r\n".utf8))
        let reply = try #require(try parser.next())
        #expect(reply.description == "550 evil \\x1B[31mred\\x07")
        #expect(reply.text == "evil \u{1B}[31mred\u{07}")
    }

    @Test func compactionKeepsAPartialReplyIntact() throws {
        var parser = ReplyParser()
        var count = 0
        // Many replies, each split in two, so the buffer compacts between halves.
        for index in 0..<10_000 {
            parser.append(contentsOf: Array("250-line \(index)\r\n250 la".utf8))
            while try parser.next() != nil { count += 1 }
            parser.append(contentsOf: Array("st \(index)\r\n".utf8))
            while let reply = try parser.next() {
                count += 1
                #expect(reply.lines == ["line \(index)", "last \(index)"])
            }
        }
        #expect(count == 10_000)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func heldRepliesSurviveLaterInput() throws {
        var parser = ReplyParser()
        parser.append(contentsOf: Array("250 first\r\n".utf8))
        let held = try #require(try parser.next())
        for _ in 0..<100 { parser.append(contentsOf: Array("250 other reply\r\n".utf8)); _ = try parser.next() }
        #expect(held.text == "first")
        #expect(held.raw.elementsEqual(Array("250 first\r\n".utf8)))
    }
}

@Suite("Capabilities")
struct CapabilitiesTests {
    private func capabilities(_ lines: [String]) -> Capabilities {
        Capabilities(ehloReply: SMTPReply(code: .ok, lines: lines))
    }

    @Test func caseInsensitiveKeywordsAndOldAuthSyntax() {
        let caps = capabilities(["mx", "pipelining", "Size 1000", "AUTH=LOGIN", "auth plain login cram-md5", "starttls", "X-UNKNOWN foo"])
        #expect(caps.flags == [.pipelining, .size, .auth, .startTLS])
        #expect(caps.maxMessageSize == 1000)
        #expect(caps.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
    }

    @Test func sizeWithoutLimitOrGarbage() {
        #expect(capabilities(["mx", "SIZE"]).maxMessageSize == nil)
        #expect(capabilities(["mx", "SIZE 0"]).maxMessageSize == nil)
        #expect(capabilities(["mx", "SIZE -5"]).maxMessageSize == nil)
        #expect(capabilities(["mx", "SIZE 99999999999999999999999"]).maxMessageSize == nil)
        #expect(capabilities(["mx", "SIZE 12x"]).maxMessageSize == nil)
        #expect(capabilities(["mx", "SIZE 52428800"]).contains(.size))
    }

    @Test func invalidMechanismNamesAreDropped() {
        let caps = capabilities(["mx", "AUTH PLAIN bad!name THIS-NAME-IS-FAR-TOO-LONG-FOR-SASL ok_1"])
        #expect(caps.authMechanisms == ["PLAIN", "OK_1"])
    }

    @Test func firstLineIsNeverAKeyword() {
        #expect(capabilities(["STARTTLS"]).flags.isEmpty)
    }

    @Test func authWithNoMechanismsIsNotAuth() {
        #expect(!capabilities(["mx", "AUTH"]).contains(.auth))
    }
}
