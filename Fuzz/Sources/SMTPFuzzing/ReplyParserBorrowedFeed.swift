import SMTPCore

extension ReplyParserHarness {
    /// Feeds `pieces` through `parse(_:_:)`, each reply lent as a view; with `mixed`, every
    /// other piece goes in with `append` instead and is not pulled, so the next `parse` must
    /// return those replies first. Each view's owned copy must describe the same reply.
    static func parseBorrowed(_ pieces: [ArraySlice<UInt8>], limits: ReplyParser.Limits, enhanced: Bool,
                              mixed: Bool) -> Outcome {
        var parser = ReplyParser(limits: limits, parsesEnhancedStatusCodes: enhanced)
        var outcome = Outcome()
        func lend(_ bytes: UnsafeRawBufferPointer, into parser: inout ReplyParser) -> SMTPProtocolViolation? {
            do {
                try parser.parse(bytes) { view in
                    let summary = Summary(code: view.code.rawValue, enhanced: view.enhancedStatusCode,
                                          lineCount: view.lineCount, raw: view.withUnsafeBytes { Array($0) })
                    let owned = view.reply
                    invariant(Summary(code: owned.code.rawValue, enhanced: owned.enhancedStatusCode,
                                      lineCount: owned.lineCount, raw: Array(owned.raw)) == summary,
                              "reply parser: a lent reply's owned copy differs from the view")
                    outcome.replies.append(summary)
                }
                return nil
            } catch let violation as SMTPProtocolViolation {
                return violation
            } catch {
                invariantFailure("reply parser: parse threw \(error)")
            }
        }
        for (index, piece) in pieces.enumerated() {
            if mixed, index % 2 == 0 {
                piece.withUnsafeBytes { parser.append($0) }
                continue
            }
            if let error = piece.withUnsafeBytes({ lend($0, into: &parser) }) {
                outcome.error = error
                break
            }
        }
        if outcome.error == nil { outcome.error = lend(UnsafeRawBufferPointer(start: nil, count: 0), into: &parser) }
        if let first = outcome.error {
            invariant(parser.error == first, "reply parser: error property differs from the error parse threw")
            let again = Array(ascii: "250 ok\r\n").withUnsafeBytes { lend($0, into: &parser) }
            invariant(again == first, "reply parser: parse did not throw the same error again")
        } else {
            invariant(parser.consumedByteCount == pieces.reduce(0) { $0 + $1.count } - parser.bufferedByteCount,
                      "reply parser: parse lost or invented bytes")
        }
        return outcome
    }
}
