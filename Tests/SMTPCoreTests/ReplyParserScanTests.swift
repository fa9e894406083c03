import SMTPCore
import Testing

/// The line-break scan tests a word for bytes below 14 and only then for CR and LF: control
/// bytes in the text must neither end a line nor hide a CR or LF after them in the same word.
@Suite("Reply parser, line-break scan")
struct ReplyParserScanTests {
    /// Raw replies from `text`, through `append` and `next()` and through `parse`, or the error.
    private func parsed(_ text: [UInt8]) -> [Result<[[UInt8]], SMTPProtocolViolation>] {
        var pulled = ReplyParser()
        pulled.append(contentsOf: text)
        var pulledReplies: [[UInt8]] = []
        var pulledResult: Result<[[UInt8]], SMTPProtocolViolation>
        do {
            while let reply = try pulled.next() { pulledReplies.append(Array(reply.raw)) }
            pulledResult = .success(pulledReplies)
        } catch {
            pulledResult = .failure(error)
        }
        var lent = ReplyParser()
        var lentReplies: [[UInt8]] = []
        var lentResult: Result<[[UInt8]], SMTPProtocolViolation>
        do {
            try text.withUnsafeBytes { bytes in
                try lent.parse(bytes) { view in lentReplies.append(view.withUnsafeBytes { Array($0) }) }
            }
            lentResult = .success(lentReplies)
        } catch {
            lentResult = .failure(error as! SMTPProtocolViolation)
        }
        return [pulledResult, lentResult]
    }

    /// Every control byte below CR but LF, at every position of a 24-byte line's text: one reply,
    /// the line whole.
    @Test(arguments: (0...12).filter { $0 != 10 }.map { UInt8($0) })
    func controlBytesStayInTheText(_ control: UInt8) {
        for position in 4..<22 {
            var line = Array("250 abcdefghijklmnopqrstuvwx".utf8)[..<22].map { $0 }
            line[position] = control
            line += [13, 10]
            #expect(parsed(line + line) == [.success([line, line]), .success([line, line])], "at \(position)")
        }
    }

    /// A CR or LF just after a control byte, in the same eight bytes, is found: the line ends
    /// there, or the stray CR or LF is refused.
    @Test func lineBreakAfterAControlByteInTheSameWord() {
        let good = Array("250 a\tb\r\n".utf8)
        #expect(parsed(good + good) == [.success([good, good]), .success([good, good])])
        #expect(parsed(Array("250 \t\rx\r\n".utf8)) == [.failure(.bareCarriageReturn), .failure(.bareCarriageReturn)])
        #expect(parsed(Array("250 \u{1}\n250 x\r\n".utf8)) == [.failure(.bareLineFeed), .failure(.bareLineFeed)])
    }
}
