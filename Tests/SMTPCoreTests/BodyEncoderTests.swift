import SMTPCore
import Testing

/// Encodes `chunks` in the given mode and returns the wire bytes, or the error.
private func encode(_ chunks: [[UInt8]], mode: BodyEncoder.Mode = .dotStuffed, eightBit: Bool = true,
                    finish: Bool = true) -> Result<[UInt8], BodyProblem> {
    var encoder = BodyEncoder(mode: mode, allowsEightBit: eightBit)
    var out: [UInt8] = []
    for chunk in chunks {
        do {
            try chunk.withUnsafeBufferPointer { buffer throws(BodyProblem) in try encoder.encode(buffer, into: &out) }
        } catch {
            return .failure(error)
        }
    }
    if finish { encoder.finish(into: &out) }
    return .success(out)
}

private func wire(_ text: String) -> [UInt8] { Script.unescape(text) }

/// Every way to cut `bytes` into up to three chunks.
private func allSplits(_ bytes: [UInt8]) -> [[[UInt8]]] {
    var result: [[[UInt8]]] = [[bytes]]
    for i in 0...bytes.count {
        for j in i...bytes.count {
            result.append([Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])])
        }
    }
    return result
}

@Suite("Body encoder")
struct BodyEncoderTests {
    @Test(arguments: [
        ("", "."),
        ("a", "a\\r\\n."),
        ("a\\r\\n", "a\\r\\n."),
        (".", "..\\r\\n."),
        ("..", "...\\r\\n."),
        (".a\\r\\n.b\\r\\n", "..a\\r\\n..b\\r\\n."),
        ("a\\r\\n\\r\\n.\\r\\n", "a\\r\\n\\r\\n..\\r\\n."),
        ("a\\nb", "a\\r\\nb\\r\\n."),
        ("a\\rb", "a\\r\\nb\\r\\n."),
        ("a\\r\\r\\nb", "a\\r\\n\\r\\nb\\r\\n."),
        ("a\\n\\rb", "a\\r\\n\\r\\nb\\r\\n."),
        ("a\\r", "a\\r\\n."),
        ("\\n", "\\r\\n."),
        ("\\n.", "\\r\\n..\\r\\n."),
        ("x.y\\r\\n", "x.y\\r\\n."),
    ])
    func dotStuffingAndNormalization(_ input: String, _ expected: String) {
        let want = wire(expected + "\\r\\n")
        for split in allSplits(wire(input)) {
            #expect(encode(split) == .success(want), "\(input.debugDescription) split as \(split)")
        }
    }

    /// The SMTP-smuggling sequences (CVE-2023-51764/5/6 and kin): each hides an end-of-data
    /// that a lax server might honour. After encoding none may end the data early.
    static let smuggling = ["\\n.\\n", "\\n.\\r\\n", "\\r.\\r", "\\r\\n.\\n", "\\r\\n.\\r", "\\r.\\n", "\\n.\\r", "\\r\\n.\\r\\n", "\\r\\n\\x00.\\r\\n"]

    @Test(arguments: smuggling)
    func smugglingSequencesCannotEndTheData(_ sequence: String) {
        let body = wire("Subject: x\\r\\n\\r\\nhello" + sequence + "MAIL FROM:<evil@example.com>\\r\\nRCPT TO:<victim@example.net>\\r\\nDATA\\r\\n")
        var results = Set<String>()
        for split in allSplits(body) {
            switch encode(split) {
            case .failure(let problem):
                // Only the NUL variant may be refused, and then nothing is sent.
                #expect(problem == .nulByte)
                results.insert("refused")
            case .success(let out):
                results.insert(String(decoding: out, as: UTF8.self))
                let text = String(decoding: out, as: UTF8.self)
                // The only end-of-data is the final one.
                #expect(text.hasSuffix("\r\n.\r\n"))
                #expect(!String(text.dropLast(3)).contains("\r\n.\r\n"))
                // No lone CR or LF at all.
                for (index, byte) in out.enumerated() {
                    if byte == 13 { #expect(index + 1 < out.count && out[index + 1] == 10) }
                    if byte == 10 { #expect(index > 0 && out[index - 1] == 13) }
                }
            }
        }
        #expect(results.count == 1, "every split gives the same result")
    }

    @Test func leadingDotInALaterChunk() {
        // The CRLF ends one chunk; the dot starts the next (lettre RUSTSEC-2021-0069, curl CVE-2018-0500).
        #expect(encode([wire("a\\r\\n"), wire(".\\r\\n")]) == .success(wire("a\\r\\n..\\r\\n.\\r\\n")))
        #expect(encode([wire("a\\r"), wire("\\n.")]) == .success(wire("a\\r\\n..\\r\\n.\\r\\n")))
        #expect(encode([wire("a\\n"), wire("."), wire(".")]) == .success(wire("a\\r\\n...\\r\\n.\\r\\n")))
        #expect(encode([wire("a\\r"), [], wire(".")]) == .success(wire("a\\r\\n..\\r\\n.\\r\\n")))
    }

    @Test func nulIsRefused() {
        #expect(encode([wire("a\\x00b")]) == .failure(.nulByte))
        #expect(encode([wire("a\\x00b")], mode: .chunkedText) == .failure(.nulByte))
        #expect(encode([wire("a\\x00b")], mode: .binary) == .success(wire("a\\x00b")))
    }

    @Test func lineLengthLimitCountsTheWire() {
        let ok = [UInt8](repeating: UInt8(ascii: "x"), count: 998)
        #expect(encode([ok]) == .success(ok + wire("\\r\\n.\\r\\n")))
        #expect(encode([ok + [UInt8(ascii: "x")]]) == .failure(.lineTooLong(limit: 998)))
        // A doubled dot does not count (RFC 5321 §4.5.3.1.6).
        #expect(encode([[UInt8(ascii: ".")] + ok.dropLast()]) == .success([46, 46] + ok.dropLast() + wire("\\r\\n.\\r\\n")))
        #expect(encode([[UInt8(ascii: ".")] + ok]) == .failure(.lineTooLong(limit: 998)))
        // The limit holds across chunks, and resets at each line.
        #expect(encode([Array(ok.prefix(500)), Array(ok.prefix(499))]) == .failure(.lineTooLong(limit: 998)))
        #expect(encode([ok + [10] + ok]) == .success(ok + [13, 10] + ok + wire("\\r\\n.\\r\\n")))
    }

    @Test func sevenBitRefusesEightBitBytes() {
        #expect(encode([Array("caf\u{E9}".utf8)], eightBit: false) == .failure(.eightBitData))
        #expect(encode([Array("caf\u{E9}".utf8)], eightBit: true) == .success(Array("caf\u{E9}\r\n.\r\n".utf8)))
    }

    @Test func chunkedTextNormalizesWithoutStuffing() {
        #expect(encode([wire(".a\\n.\\r.")], mode: .chunkedText) == .success(wire(".a\\r\\n.\\r\\n.\\r\\n")))
        #expect(encode([], mode: .chunkedText) == .success([]))
    }

    @Test func binaryIsUntouched() {
        let bytes: [UInt8] = (0...255).map { UInt8($0) }
        #expect(encode([bytes], mode: .binary) == .success(bytes))
    }

    @Test func randomContentAlwaysRoundTrips() {
        var generator = SplitStrategy.Generator(state: 99)
        let alphabet: [UInt8] = [13, 10, 46, 46, 97, 98, 32]
        for _ in 0..<500 {
            let length = Int(generator.next() % 40)
            let body = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let chunks = SplitStrategy.random(seed: 0).pieces(body, generator: &generator)
            guard case .success(let out) = encode(chunks) else { Issue.record("refused"); continue }
            // Decode as a strict server does and compare with the normalized input.
            var decoded: [UInt8] = []
            var lines = out.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
            #expect(lines.removeLast().isEmpty)
            #expect(lines.removeLast() == [46, 13])
            for line in lines {
                #expect(line.last == 13)
                var content = Array(line.dropLast())
                if content.first == 46 { content.removeFirst() }
                decoded += content + [13, 10]
            }
            #expect(decoded == FlowTests.normalized(String(decoding: body, as: UTF8.self)), "\(body)")
        }
    }
}

@Suite("Address syntax")
struct AddressSyntaxTests {
    private func check(_ address: String) -> SMTPError? {
        var machine = try! SMTPMachine(configuration: .test())
        machine.connectionEstablished(at: .zero)
        for reply in ["220 mx\r\n", "250-mx\r\n250 SMTPUTF8\r\n"] {
            machine.received(Array(reply.utf8), at: .zero)
            while case let action = machine.nextAction(), !isWait(action) {
                if case .write = action { var sink: [UInt8] = []; machine.takeOutput(into: &sink) }
            }
        }
        do {
            _ = try machine.startTransaction(Envelope(sender: address, recipients: ["ok@example.net"]), at: .zero)
            return nil
        } catch {
            return error
        }
    }

    private func isWait(_ action: SMTPAction) -> Bool {
        if case .wait = action { return true }
        return false
    }

    @Test(arguments: [
        "user@example.org", "first.last@example.org", "a+tag@sub.example.org", "\"quoted user\"@example.org",
        "\"a\\\\\\\"b\"@example.org", "x@[192.0.2.1]", "x@[IPv6:2001:db8::1]", "o'neil@example.org", "ü@bücher.example",
        "user@localhost", "#!$%&'*+-/=?^_`{|}~@example.org",
    ])
    func accepted(_ address: String) {
        #expect(check(address) == nil, "\(address)")
    }

    static let badAddresses: [(String, AddressProblem)] = [
        ("a@b\r\n.example", .forbiddenCharacter(13)), ("a@b\n", .forbiddenCharacter(10)), ("a\u{0}@b", .forbiddenCharacter(0)),
        ("a\t@b", .forbiddenCharacter(9)), ("<a@b>", .forbiddenCharacter(60)), ("a@b>", .forbiddenCharacter(62)),
        ("a b@example.org", .forbiddenCharacter(32)), ("ab@exa mple.org", .forbiddenCharacter(32)),
        ("example.org", .missingAtSign), ("@example.org", .invalidLocalPart), ("a@", .invalidDomain),
        (".a@example.org", .invalidLocalPart), ("a.@example.org", .invalidLocalPart), ("a..b@example.org", .invalidLocalPart),
        ("a@-example.org", .invalidDomain), ("a@example-.org", .invalidDomain), ("a@example.org.", .invalidDomain),
        ("a@[300.0.0.1]", .invalidDomain), ("a@[1.2.3]", .invalidDomain), ("\"unterminated@example.org", .invalidLocalPart),
        ("a(comment)@example.org", .invalidLocalPart), ("a@exa_mple.org", .invalidDomain),
        (String(repeating: "l", count: 65) + "@example.org", .localPartTooLong),
        ("a@" + String(repeating: "d", count: 64) + ".org", .invalidDomain),
        ("a@" + Array(repeating: "label", count: 60).joined(separator: "."), .pathTooLong),
    ]

    @Test(arguments: badAddresses)
    func refused(_ address: String, _ problem: AddressProblem) {
        #expect(check(address) == .invalidAddress(address, problem), "\(address.debugDescription)")
    }

    /// An engine past EHLO, ready for a transaction.
    private func readyMachine(_ sink: inout [UInt8]) throws -> SMTPMachine {
        var machine = try SMTPMachine(configuration: .test())
        machine.connectionEstablished(at: .zero)
        for reply in ["220 mx\r\n", "250 mx\r\n"] {
            machine.received(Array(reply.utf8), at: .zero)
            while true {
                let action = machine.nextAction()
                if case .wait = action { break }
                if case .write = action { machine.takeOutput(into: &sink) }
            }
        }
        return machine
    }

    @Test func emptyRecipientIsRefused() throws {
        var sink: [UInt8] = []
        var machine = try readyMachine(&sink)
        #expect(throws: SMTPError.invalidAddress("", .empty)) {
            _ = try machine.startTransaction(Envelope(sender: "", recipients: [""]), at: .zero)
        }
    }

    @Test func postmasterWithoutDomainOnlyAsRecipient() throws {
        var sink: [UInt8] = []
        var machine = try readyMachine(&sink)
        #expect(throws: SMTPError.invalidAddress("Postmaster", .missingAtSign)) {
            _ = try machine.startTransaction(Envelope(sender: "Postmaster", recipients: ["x@example.org"]), at: .zero)
        }
        _ = try machine.startTransaction(Envelope(sender: "", recipients: ["Postmaster"]), at: .zero)
        machine.takeOutput(into: &sink)
        #expect(String(decoding: sink, as: UTF8.self).hasSuffix("MAIL FROM:<>\r\n"))
    }
}
