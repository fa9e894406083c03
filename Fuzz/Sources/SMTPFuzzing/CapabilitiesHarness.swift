import SMTPCore

/// The capabilities target. See `FuzzHarness.capabilities` for the invariant.
enum CapabilitiesHarness {
    static let knownFlags: [(name: [UInt8], flag: Capabilities.Flags)] = [
        (Array(ascii: "PIPELINING"), .pipelining), (Array(ascii: "8BITMIME"), .eightBitMIME),
        (Array(ascii: "SMTPUTF8"), .smtpUTF8), (Array(ascii: "STARTTLS"), .startTLS),
        (Array(ascii: "CHUNKING"), .chunking), (Array(ascii: "BINARYMIME"), .binaryMIME),
        (Array(ascii: "DSN"), .dsn), (Array(ascii: "ENHANCEDSTATUSCODES"), .enhancedStatusCodes),
    ]

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let flags = input.byte()
        let payload = input.rest()

        // The payload's LF-separated lines, CR removed, as the text of a 250 reply.
        var lines: [[UInt8]] = [[]]
        for byte in payload {
            if byte == 10 {
                if lines.count == 100 { break }
                lines.append([])
            } else if byte != 13, lines[lines.count - 1].count < 500 {
                lines[lines.count - 1].append(byte)
            }
        }
        var raw: [UInt8] = []
        for (index, text) in lines.enumerated() {
            let last = index == lines.count - 1
            raw += Array(ascii: "250")
            if last, text.isEmpty, flags & 1 != 0 {
                raw += [13, 10]
                continue
            }
            raw.append(last ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            raw += text
            raw += [13, 10]
        }

        // A well-formed reply within the default limits is accepted whole.
        var parser = ReplyParser()
        parser.append(contentsOf: raw)
        let parsed: SMTPReply?
        do { parsed = try parser.next() } catch { invariantFailure("well-formed EHLO reply refused: \(error)") }
        guard let reply = parsed else { invariantFailure("well-formed EHLO reply not returned") }
        invariant(parser.bufferedByteCount == 0, "bytes left after a whole reply")
        invariant(Array(reply.raw) == raw, "reply bytes differ from the input")
        invariant(reply.lineCount == lines.count, "line count differs")

        let capabilities = Capabilities(ehloReply: reply)
        checkWellFormed(capabilities)
        let reference = referenceCapabilities(lines)
        invariant(capabilities.flags == reference.flags,
                     "flags \(capabilities.flags.rawValue), reference \(reference.flags.rawValue)")
        invariant(capabilities.maxMessageSize == reference.maxMessageSize,
                     "SIZE \(String(describing: capabilities.maxMessageSize)), reference \(String(describing: reference.maxMessageSize))")
        invariant(capabilities.authMechanisms == reference.authMechanisms,
                     "AUTH \(capabilities.authMechanisms), reference \(reference.authMechanisms)")
        invariant(Capabilities(ehloReply: reply) == capabilities, "parsing is not deterministic")

        checkEngine(raw: raw, expected: capabilities, required: flags & 2 != 0)
    }

    static func checkWellFormed(_ capabilities: Capabilities) {
        invariant(capabilities.isExtended, "an EHLO reply gave a non-extended set")
        let known: Capabilities.Flags = [.size, .pipelining, .eightBitMIME, .smtpUTF8, .startTLS, .auth, .chunking,
                                         .binaryMIME, .dsn, .enhancedStatusCodes]
        invariant(capabilities.flags.isSubset(of: known), "unknown flag bits \(capabilities.flags.rawValue)")
        if let size = capabilities.maxMessageSize {
            invariant(size > 0, "SIZE limit \(size)")
            invariant(capabilities.contains(.size), "SIZE limit without the SIZE flag")
        }
        invariant(capabilities.contains(.auth) == !capabilities.authMechanisms.isEmpty, "AUTH flag and list disagree")
        var seen: [String] = []
        for name in capabilities.authMechanisms {
            let bytes = Array(name.utf8)
            invariant(!bytes.isEmpty && bytes.count <= 20, "AUTH name length \(bytes.count)")
            invariant(bytes.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 },
                         "AUTH name with a bad character")
            invariant(!seen.contains(name), "duplicate AUTH name")
            seen.append(name)
            invariant(capabilities.offersAuthMechanism(name), "listed mechanism not offered")
            invariant(capabilities.offersAuthMechanism(name.lowercased()), "mechanism match is case-sensitive")
        }
    }

    /// An independent reading of the keyword lines (every line but the first): the keyword ends
    /// at the first space or "=", compared without regard to ASCII case; SIZE takes the first
    /// parameter of its last line (1-18 digits, positive); AUTH collects valid RFC 4422 names in
    /// order of first appearance.
    static func referenceCapabilities(_ lines: [[UInt8]]) -> Capabilities {
        var result = Capabilities()
        for line in lines.dropFirst() {
            let keywordEnd = line.firstIndex { $0 == 32 || $0 == 61 } ?? line.count
            let keyword = line[0..<keywordEnd].map(upper)
            let params = keywordEnd < line.count ? Array(line[(keywordEnd + 1)...]) : []
            let words = params.split(separator: 32).map(Array.init)
            if let known = knownFlags.first(where: { $0.name == keyword }) {
                result.flags.insert(known.flag)
            } else if keyword == Array(ascii: "SIZE") {
                result.flags.insert(.size)
                result.maxMessageSize = nil
                if let first = words.first, first.count <= 18, first.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                    let value = first.reduce(0) { $0 * 10 + Int($1 - 48) }
                    if value > 0 { result.maxMessageSize = value }
                }
            } else if keyword == Array(ascii: "AUTH") {
                for word in words {
                    let name = word.map(upper)
                    guard !name.isEmpty, name.count <= 20,
                          name.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 })
                    else { continue }
                    let text = String(decoding: name, as: UTF8.self)
                    if !result.authMechanisms.contains(text) { result.authMechanisms.append(text) }
                }
                if !result.authMechanisms.isEmpty { result.flags.insert(.auth) }
            }
        }
        return result
    }

    private static func upper(_ byte: UInt8) -> UInt8 {
        byte >= 97 && byte <= 122 ? byte - 32 : byte
    }

    /// The engine, given this EHLO reply, reports the same set and follows its TLS policy.
    static func checkEngine(raw: [UInt8], expected: Capabilities, required: Bool) {
        let configuration = SMTPConfiguration(heloName: "client.example", tls: required ? .required : .opportunistic)
        var machine: SMTPMachine
        do { machine = try SMTPMachine(configuration: configuration) } catch { invariantFailure("\(error)") }
        var written: [UInt8] = []
        var reported: Capabilities?
        func drain(_ machine: inout SMTPMachine) {
            var steps = 0
            while true {
                steps += 1
                invariant(steps < 10_000, "drain does not end")
                switch machine.nextAction() {
                case .write: machine.takeOutput(into: &written)
                case .event(.capabilities(let capabilities)): reported = capabilities
                case .wait: return
                default: break
                }
            }
        }
        machine.connectionEstablished(at: .zero)
        machine.received(Array(ascii: "220 mx.example ESMTP\r\n"), at: .zero)
        drain(&machine)
        invariant(written == Array(ascii: "EHLO client.example\r\n"), "engine did not send EHLO")
        written.removeAll()
        machine.received(raw, at: .zero)
        drain(&machine)
        invariant(reported == expected, "engine reported other capabilities")
        invariant(machine.capabilities == expected, "engine holds other capabilities")
        if expected.contains(.startTLS) {
            invariant(written == Array(ascii: "STARTTLS\r\n"), "STARTTLS offered but not sent: \(show(written))")
            invariant(machine.failure == nil, "failure although STARTTLS was offered")
        } else if required {
            invariant(machine.failure == .tlsNotOffered, "required TLS not offered, yet \(String(describing: machine.failure))")
            invariant(written == Array(ascii: "QUIT\r\n"), "after tlsNotOffered only QUIT: \(show(written))")
        } else {
            invariant(written.isEmpty && machine.failure == nil, "plaintext session should be ready: \(show(written))")
        }
    }
}
