import SMTPCore

/// A strict server's view of one session, used by the engine target to judge the client.
///
/// It reads every byte the client writes the way a server would (command lines, DATA content
/// with dot un-stuffing, BDAT payloads by exact count), parses every byte the server sent into
/// replies, and pairs them: the greeting answers the connection, then each reply answers the
/// oldest command still waiting (after the end of the data, LMTP owes one reply per accepted
/// recipient). The engine parses replies lazily, so each command line is judged against the
/// replies the engine had processed when it generated that command: the driver forwards the
/// engine's transcript events, which interleave "reply handled" and "command written" in the
/// engine's own order, and each command line on the wire must match its transcript entry.
/// Every rule is an `invariant` check.
struct WireObserver {
    struct Setup {
        var heloName: [UInt8]
        var tls: TLSPolicy
        var lmtp: Bool
        var usePipelining: Bool
        var useChunking: Bool
        var authMechanisms: [String]?
        var authWithoutTLS: Bool
        var maxAuthRounds: Int
        var sender: [UInt8]
        var recipients: [[UInt8]]
        var bodyType: BodyType
        var size: Int?
        var requestsDSN: Bool
        var body: [UInt8]
        var limits: ReplyParser.Limits
    }

    enum Kind: Equatable {
        case greeting, hello, helo, startTLS, auth, authResponse, mail, recipient, data, dataEnd, chunk(last: Bool), reset, quit

        /// Commands that must end a pipelined group (RFC 2920 §3.1, RFC 3207, RFC 4954).
        var endsGroup: Bool {
            switch self {
            case .hello, .helo, .startTLS, .auth, .authResponse, .data, .quit: true
            default: false
            }
        }
    }

    struct Command {
        var kind: Kind
        var transaction: Int?
        /// The first reply to this command.
        var reply: SMTPReply?
        /// The first reply's position in the server's stream (0 is the greeting), and the last's.
        var replyNumber = -1
        var lastReplyNumber = -1
        /// Replies owed (decided when the first arrives: LMTP owes one per accepted recipient
        /// after the end of the data) and received.
        var owed = 1
        var received = 0
    }

    struct Transaction {
        var mail: Int
        var recipients: [Int] = []
        var data: Int?
        var chunks: [Int] = []
        /// The end of the data (final dot or BDAT LAST) was written.
        var ended = false
        /// RSET was written after this transaction's MAIL.
        var reset = false
        var payload: [UInt8] = []
    }

    enum Mode {
        case command
        /// DATA was written; its reply decides whether content or commands follow.
        case awaitingGoAhead(command: Int)
        case data(transaction: Int)
        case chunk(remaining: Int, last: Bool, transaction: Int)
    }

    let setup: Setup
    let normalized: [UInt8]

    private var parser: ReplyParser
    private(set) var parserFailed = false
    private(set) var commands: [Command] = []
    private var unassigned: [(number: Int, reply: SMTPReply)] = []
    /// Replies parsed from the server's stream so far.
    private var parsedReplies = 0
    /// Index of the next command to receive a reply.
    private var replyCursor = 0
    private var transactions: [Transaction] = []
    private var mode = Mode.command
    private var line: [UInt8] = []
    private var sawCR = false
    private var dataMessage: [UInt8] = []

    /// Transcript command entries not yet seen on the wire, with the number of replies the engine
    /// had handled when it wrote each.
    private var stamps: [(line: String, processed: Int)] = []
    private var stampHead = 0
    /// Replies the engine has handled so far.
    private var processed = 0
    /// Replies the engine had handled when it generated the command being judged.
    private var known = 0

    private(set) var tlsActive = false
    private var tlsRequested = false
    private var tlsFailed = false
    private var commandsSinceTLS = 0
    private var startTLSCount = 0
    private var authCount = 0
    private var authResponses = 0
    private var quitWritten = false
    private(set) var wroteAnything = false
    /// Latest EHLO/LHLO/HELO command.
    private var lastHello: Int?
    /// Positive replies to an end of data (final dot or BDAT LAST).
    private(set) var positiveFinalReplies = 0

    init(setup: Setup) {
        self.setup = setup
        normalized = setup.bodyType == .binaryMIME ? setup.body : normalizedBody(setup.body)
        parser = ReplyParser(limits: setup.limits)
        if setup.tls != .implicit { commands.append(Command(kind: .greeting)) }
    }

    // MARK: - Replies

    /// Bytes the server sent (after TLS, decrypted), exactly as fed to the engine.
    mutating func serverSent(_ bytes: ArraySlice<UInt8>) {
        guard !parserFailed else { return }
        bytes.withUnsafeBytes { parser.append($0) }
        while true {
            do {
                guard let reply = try parser.next() else { break }
                unassigned.append((parsedReplies, reply.detached()))
                parsedReplies += 1
            } catch {
                parserFailed = true
                break
            }
        }
        assignReplies()
    }

    /// Complete replies that no command has asked for yet.
    var unassignedCount: Int { unassigned.count }

    /// Commands written whose reply has not been fed.
    var unansweredCount: Int { commands.count - replyCursor }

    /// Server bytes fed that do not (yet) form a complete reply.
    var partialReplyBytes: Int { parser.bufferedByteCount }

    private mutating func assignReplies() {
        while !unassigned.isEmpty, replyCursor < commands.count {
            let (number, reply) = unassigned.removeFirst()
            let index = replyCursor
            if commands[index].received == 0 {
                commands[index].reply = reply
                commands[index].replyNumber = number
                commands[index].owed = repliesOwed(index)
            }
            commands[index].received += 1
            commands[index].lastReplyNumber = number
            if [.dataEnd, .chunk(last: true)].contains(commands[index].kind), isPositive(reply) { positiveFinalReplies += 1 }
            if commands[index].received == commands[index].owed { replyCursor += 1 }
        }
    }

    private func isPositive(_ reply: SMTPReply?) -> Bool {
        guard let code = reply?.code.rawValue else { return false }
        return code / 100 == 2 && code != 220 && code != 221 && code != 235
    }

    private func isNegative(_ reply: SMTPReply?) -> Bool {
        guard let code = reply?.code.rawValue else { return false }
        return code >= 400
    }

    /// After the end of the data LMTP owes one reply per accepted recipient (RFC 2033 §4.2); a
    /// refused BDAT chunk or a refused MAIL leaves one. Every other command owes one.
    private func repliesOwed(_ index: Int) -> Int {
        let command = commands[index]
        guard setup.lmtp, [.dataEnd, .chunk(last: true)].contains(command.kind), let number = command.transaction else { return 1 }
        let transaction = transactions[number]
        if transaction.chunks.contains(where: { $0 < index && isNegative(commands[$0].reply) }) { return 1 }
        return max(1, acceptedRecipients(transaction))
    }

    /// Recipients accepted (MAIL and RCPT positive), by the replies fed, or only those the engine
    /// knew when it generated the current command.
    private func acceptedRecipients(_ transaction: Transaction, knownOnly: Bool = false) -> Int {
        let reply: (Int) -> SMTPReply? = { knownOnly ? knownReply($0) : commands[$0].reply }
        guard isPositive(reply(transaction.mail)) else { return 0 }
        return transaction.recipients.filter { isPositive(reply($0)) }.count
    }

    // MARK: - The engine's own account

    /// A `.transcript` event.
    mutating func transcript(_ entry: TranscriptEntry) {
        switch entry {
        case .reply:
            processed += 1
        case .command(let line):
            stamps.append((line, processed))
        case .data:
            break
        }
    }

    /// `.sessionFailed`: output not yet taken was dropped, so its transcript entries never reach
    /// the wire; and replies the engine already took from its buffer as answers to those dropped
    /// commands (a server may answer ahead, e.g. greeting and EHLO reply in one read) answer
    /// nothing on the wire, so they must not be paired with what is written next (QUIT).
    mutating func sessionFailed() {
        stamps.removeAll()
        stampHead = 0
        unassigned.removeAll { $0.number < processed }
    }

    /// Transcript command entries whose line has not appeared on the wire.
    var unwrittenCommandCount: Int { stamps.count - stampHead }

    /// The reply to `index` if the engine had handled it when it generated the current command.
    private func knownReply(_ index: Int) -> SMTPReply? {
        commands[index].replyNumber >= 0 && commands[index].replyNumber < known ? commands[index].reply : nil
    }

    /// Every reply `index` owes was handled by the engine before it generated the current command.
    private func fullyAnswered(_ index: Int) -> Bool {
        commands[index].received == commands[index].owed && commands[index].lastReplyNumber < known
    }

    // MARK: - TLS

    /// The engine asked for a handshake.
    mutating func handshakeRequested() {
        invariant(!tlsRequested && !tlsActive, "TLS requested twice")
        if setup.tls == .implicit {
            invariant(!wroteAnything, "implicit TLS requested after plaintext was written")
        } else {
            let last = commands.count - 1
            invariant(last >= 1 && commands[last].kind == .startTLS && commands[last].reply?.code.rawValue == 220,
                         "TLS requested without a 220 to STARTTLS")
            // Response injection: nothing may follow the 220 before the handshake.
            invariant(unassigned.isEmpty && parser.bufferedByteCount == 0 && !parserFailed,
                         "TLS requested although bytes followed the 220 to STARTTLS")
        }
        tlsRequested = true
    }

    mutating func handshakeFinished(success: Bool) {
        invariant(tlsRequested, "handshake result without a request")
        tlsRequested = false
        if success {
            tlsActive = true
            commandsSinceTLS = 0
            lastHello = nil
            if setup.tls == .implicit { commands.append(Command(kind: .greeting)); assignReplies() }
        } else {
            tlsFailed = true
        }
    }

    // MARK: - What the client writes

    /// One `.write`: the bytes `takeOutput` handed over.
    mutating func clientWrote(_ bytes: [UInt8]) {
        invariant(!bytes.isEmpty, "empty write")
        invariant(!tlsFailed, "bytes written after a failed TLS handshake: \(show(bytes))")
        invariant(!quitWritten, "bytes written after QUIT: \(show(bytes))")
        invariant(!tlsRequested, "bytes written during the TLS handshake: \(show(bytes))")
        if setup.tls == .implicit { invariant(tlsActive, "plaintext written before implicit TLS: \(show(bytes))") }
        invariant(commands.first?.reply != nil, "bytes written before the greeting: \(show(bytes))")
        if let last = commands.indices.last, commands[last].kind == .startTLS, commands[last].reply?.code.rawValue == 220, !tlsActive {
            invariantFailure("plaintext written after the 220 to STARTTLS: \(show(bytes))")
        }
        wroteAnything = true
        var index = 0
        while index < bytes.count {
            if case .awaitingGoAhead(let dataCommand) = mode {
                guard let reply = commands[dataCommand].reply else {
                    invariantFailure("bytes written after DATA before its reply: \(show(bytes[index...]))")
                }
                if reply.code.rawValue == 354, let number = commands[dataCommand].transaction {
                    mode = .data(transaction: number)
                    dataMessage.removeAll()
                } else {
                    mode = .command
                }
            }
            switch mode {
            case .awaitingGoAhead:
                continue
            case .command:
                let byte = bytes[index]
                index += 1
                if sawCR {
                    invariant(byte == 10, "bare CR in a command line")
                    sawCR = false
                    let complete = line
                    line.removeAll(keepingCapacity: true)
                    commandLine(complete)
                } else if byte == 13 {
                    sawCR = true
                } else {
                    invariant(byte != 10, "bare LF in a command line")
                    line.append(byte)
                    invariant(line.count <= 12_288, "endless command line")
                }
            case .data(let number):
                let byte = bytes[index]
                index += 1
                if sawCR {
                    invariant(byte == 10, "bare CR in DATA content (SMTP smuggling)")
                    sawCR = false
                    let complete = line
                    line.removeAll(keepingCapacity: true)
                    dataLine(complete, transaction: number)
                } else if byte == 13 {
                    sawCR = true
                } else {
                    invariant(byte != 10, "bare LF in DATA content (SMTP smuggling)")
                    invariant(byte != 0, "NUL in DATA content")
                    line.append(byte)
                    invariant(line.count <= 999, "DATA line over 1000 octets")
                }
            case .chunk(let remaining, let last, let number):
                let take = min(remaining, bytes.count - index)
                transactions[number].payload += bytes[index..<(index + take)]
                index += take
                if take == remaining {
                    mode = .command
                    if last {
                        invariant(transactions[number].payload == normalized, """
                            BDAT content differs from the body: \(show(transactions[number].payload)) vs \(show(normalized))
                            """)
                    }
                } else {
                    mode = .chunk(remaining: remaining - take, last: last, transaction: number)
                }
            }
        }
    }

    private mutating func dataLine(_ text: [UInt8], transaction number: Int) {
        if text == [UInt8(ascii: ".")] {
            let accepted = acceptedRecipients(transactions[number]) > 0
            if dataMessage.isEmpty {
                invariant(normalized.isEmpty || !accepted, "empty DATA although a recipient was accepted")
            } else {
                invariant(accepted, "message content sent with no accepted recipient")
            }
            if !dataMessage.isEmpty || accepted {
                invariant(dataMessage == normalized, """
                    DATA content differs from the normalized body: \(show(dataMessage)) vs \(show(normalized))
                    """)
            }
            transactions[number].ended = true
            commands.append(Command(kind: .dataEnd, transaction: number))
            assignReplies()
            mode = .command
            return
        }
        let content = text.first == UInt8(ascii: ".") ? text.dropFirst() : text[...]
        invariant(content.count <= 998, "DATA line over 998 octets")
        dataMessage += content
        dataMessage += [13, 10]
        invariant(dataMessage.count <= normalized.count + 2, "DATA content longer than the body")
    }

    // MARK: - Commands

    /// The latest command the client wrote (the greeting is the server's).
    private var lastCommand: Int? { commands.count > 1 ? commands.indices.last : nil }

    /// What the latest successful EHLO offered, as the engine knew it.
    private var currentCapabilities: Capabilities {
        guard let hello = lastHello, commands[hello].kind == .hello, let reply = knownReply(hello), isPositive(reply)
        else { return .basic }
        return Capabilities(ehloReply: reply)
    }

    private var helloSucceeded: Bool {
        guard let hello = lastHello else { return false }
        return isPositive(knownReply(hello))
    }

    private var pipeliningAllowed: Bool {
        setup.usePipelining && currentCapabilities.contains(.pipelining)
    }

    /// TLS is in place, or the policy lets the session go on without it.
    private var tlsSettled: Bool {
        switch setup.tls {
        case .off: true
        case .implicit, .required: tlsActive
        case .opportunistic: tlsActive || (helloSucceeded && !currentCapabilities.contains(.startTLS))
        }
    }

    private var currentTransaction: Int? {
        guard let number = transactions.indices.last else { return nil }
        let transaction = transactions[number]
        if transaction.ended || transaction.reset || isNegative(knownReply(transaction.mail)) { return nil }
        return number
    }

    private mutating func append(_ kind: Kind, transaction: Int? = nil) -> Int {
        commands.append(Command(kind: kind, transaction: transaction))
        commandsSinceTLS += 1
        assignReplies()
        return commands.count - 1
    }

    private mutating func commandLine(_ text: [UInt8]) {
        let shown = show(text)
        for byte in text { invariant(byte >= 0x20 && byte < 0x7F, "non-printable byte in a command line: \(shown)") }
        invariant(stampHead < stamps.count, "command on the wire without a transcript entry: \(shown)")
        let stamp = stamps[stampHead]
        stampHead += 1
        if stampHead == stamps.count { stamps.removeAll(keepingCapacity: true); stampHead = 0 }
        if !stamp.line.contains("<redacted>") {
            invariant(Array(stamp.line.utf8) == text, "wire line \(shown) but transcript \(stamp.line)")
        }
        known = stamp.processed

        // A line after a 334 is the answer to the challenge, whatever it looks like.
        if let last = commands.indices.last, [.auth, .authResponse].contains(commands[last].kind),
           knownReply(last)?.code.rawValue == 334 {
            authResponses += 1
            invariant(authResponses <= setup.maxAuthRounds + 1, "more AUTH responses than the round limit")
            invariant(text == [UInt8(ascii: "*")] || isBase64(text), "AUTH response is not base64: \(shown)")
            invariant(tlsActive || setup.authWithoutTLS, "AUTH response without TLS")
            _ = append(.authResponse)
            return
        }
        invariant(text.count <= 510, "command line over 512 octets: \(shown)")

        // Pipelining (RFC 2920): without it, one command at a time; with it, never past a command
        // that ends a group.
        if let last = lastCommand, !fullyAnswered(last) {
            invariant(pipeliningAllowed, "command pipelined without PIPELINING: \(shown)")
            invariant(!commands[last].kind.endsGroup, "command written behind \(commands[last].kind) before its reply: \(shown)")
        }

        let verb = text.prefix { $0 != UInt8(ascii: " ") }
        let argument = text.count > verb.count ? Array(text[(verb.count + 1)...]) : []
        switch String(decoding: verb, as: UTF8.self) {
        case "EHLO", "LHLO":
            invariant((String(decoding: verb, as: UTF8.self) == "LHLO") == setup.lmtp, "\(shown) in the wrong dialect")
            invariant(argument == setup.heloName, "hello with another name: \(shown)")
            let afterGreeting = commands.count == 1
            let afterTLS = tlsActive && commandsSinceTLS == 0 && setup.tls != .implicit
            invariant(afterGreeting || afterTLS, "\(shown) not as the first command of the session or of TLS")
            invariant(knownReply(0)?.code.rawValue == 220, "\(shown) without a 220 greeting")
            lastHello = append(.hello)
        case "HELO":
            invariant(!setup.lmtp, "HELO in LMTP")
            invariant(setup.tls != .required, "HELO under required TLS")
            invariant(!tlsActive || setup.tls == .implicit, "HELO after STARTTLS")
            invariant(argument == setup.heloName, "HELO with another name: \(shown)")
            guard let hello = lastHello, lastCommand == hello, commands[hello].kind == .hello,
                  let reply = knownReply(hello), reply.code.rawValue >= 400 else {
                invariantFailure("HELO other than right after a refused EHLO")
            }
            lastHello = append(.helo)
        case "STARTTLS":
            invariant(argument.isEmpty, "STARTTLS with an argument")
            invariant(setup.tls == .opportunistic || setup.tls == .required, "STARTTLS under policy \(setup.tls)")
            invariant(!tlsActive && startTLSCount == 0, "STARTTLS twice")
            invariant(helloSucceeded && lastCommand == lastHello, "STARTTLS not right after a successful EHLO")
            invariant(currentCapabilities.contains(.startTLS), "STARTTLS not offered")
            startTLSCount += 1
            _ = append(.startTLS)
        case "AUTH":
            guard let mechanisms = setup.authMechanisms else { invariantFailure("AUTH without credentials") }
            invariant(tlsActive || setup.authWithoutTLS, "AUTH without TLS")
            invariant(tlsSettled, "AUTH before STARTTLS")
            invariant(authCount == 0, "AUTH twice")
            invariant(helloSucceeded && lastCommand == lastHello, "AUTH not right after a successful EHLO")
            let name = String(decoding: argument.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
            invariant(mechanisms.contains(name), "AUTH with a mechanism not configured: \(name)")
            invariant(currentCapabilities.authMechanisms.contains(name), "AUTH \(name) not offered")
            let initial = argument.count > name.utf8.count ? Array(argument[(name.utf8.count + 1)...]) : nil
            if let initial { invariant(initial == [UInt8(ascii: "=")] || isBase64(initial), "AUTH initial response not base64") }
            authCount += 1
            _ = append(.auth)
        case "MAIL":
            mailCommand(argument, shown: shown)
        case "RCPT":
            invariant(argument.starts(with: Array(ascii: "TO:<")), "malformed RCPT: \(shown)")
            guard let number = currentTransaction else { invariantFailure("RCPT outside a transaction: \(shown)") }
            invariant(transactions[number].data == nil && transactions[number].chunks.isEmpty, "RCPT after the data began")
            let address = Array(argument.dropFirst(4).prefix { $0 != UInt8(ascii: ">") })
            invariant(setup.recipients.contains(address), "RCPT to an address not in the envelope: \(shown)")
            if !pipeliningAllowed { invariant(isPositive(knownReply(transactions[number].mail)), "RCPT before a 2xx to MAIL") }
            let params = Array(argument.dropFirst(4 + address.count + 1))
            for param in params.split(separator: UInt8(ascii: " ")) {
                let name = String(decoding: param.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self)
                invariant(name == "NOTIFY" || name == "ORCPT", "unknown RCPT parameter \(name)")
                invariant(currentCapabilities.contains(.dsn), "\(name) without DSN")
            }
            let index = append(.recipient, transaction: number)
            transactions[number].recipients.append(index)
        case "DATA":
            invariant(argument.isEmpty, "DATA with an argument")
            guard let number = currentTransaction else { invariantFailure("DATA outside a transaction") }
            invariant(transactions[number].data == nil && transactions[number].chunks.isEmpty, "DATA twice")
            invariant(!transactions[number].recipients.isEmpty, "DATA without RCPT")
            invariant(setup.bodyType != .binaryMIME, "BINARYMIME content through DATA")
            if !pipeliningAllowed {
                invariant(acceptedRecipients(transactions[number], knownOnly: true) > 0, "DATA with no accepted recipient")
            }
            let index = append(.data, transaction: number)
            transactions[number].data = index
            mode = .awaitingGoAhead(command: index)
        case "BDAT":
            let parts = argument.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            invariant(parts.count == 1 || (parts.count == 2 && Array(parts[1]) == Array(ascii: "LAST")), "malformed BDAT: \(shown)")
            guard let first = parts.first, !first.isEmpty, first.count <= 10, first.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                invariantFailure("malformed BDAT size: \(shown)")
            }
            let size = first.reduce(0) { $0 * 10 + Int($1 - 48) }
            let last = parts.count == 2
            invariant(currentCapabilities.contains(.chunking), "BDAT without CHUNKING")
            guard let number = currentTransaction else { invariantFailure("BDAT outside a transaction") }
            invariant(transactions[number].data == nil, "BDAT after DATA")
            invariant(!transactions[number].recipients.isEmpty, "BDAT without RCPT")
            invariant(!transactions[number].chunks.contains { isNegative(knownReply($0)) }, "BDAT after a refused chunk")
            if !pipeliningAllowed {
                invariant(acceptedRecipients(transactions[number], knownOnly: true) > 0, "BDAT with no accepted recipient")
            }
            let index = append(.chunk(last: last), transaction: number)
            transactions[number].chunks.append(index)
            if last { transactions[number].ended = true }
            mode = .chunk(remaining: size, last: last, transaction: number)
            if size == 0 {
                mode = .command
                if last { invariant(transactions[number].payload == normalized, "BDAT content differs from the body") }
            }
        case "RSET":
            invariant(argument.isEmpty, "RSET with an argument")
            invariant(helloSucceeded, "RSET before a successful EHLO/HELO")
            if let number = transactions.indices.last { transactions[number].reset = true }
            _ = append(.reset)
        case "QUIT":
            invariant(argument.isEmpty, "QUIT with an argument")
            quitWritten = true
            _ = append(.quit)
        default:
            invariantFailure("unknown command: \(shown)")
        }
    }

    private mutating func mailCommand(_ argument: [UInt8], shown: String) {
        invariant(argument.starts(with: Array(ascii: "FROM:<")), "malformed MAIL: \(shown)")
        invariant(helloSucceeded, "MAIL before a 2xx to EHLO/HELO")
        invariant(tlsSettled, "MAIL before TLS")
        if setup.authMechanisms != nil {
            let authenticated = commands.indices.contains {
                [.auth, .authResponse].contains(commands[$0].kind) && knownReply($0)?.code.rawValue == 235
            }
            invariant(authenticated, "MAIL before a 235 to AUTH")
        }
        if let number = transactions.indices.last {
            let previous = transactions[number]
            invariant(previous.ended || previous.reset || isNegative(knownReply(previous.mail)),
                         "MAIL while the previous transaction is still open")
        }
        let sender = Array(argument.dropFirst(6).prefix { $0 != UInt8(ascii: ">") })
        invariant(sender == setup.sender, "MAIL with another sender: \(shown)")
        let capabilities = currentCapabilities
        var sawBody = false
        let params = Array(argument.dropFirst(6 + sender.count + 1))
        for param in params.split(separator: UInt8(ascii: " ")) {
            let name = String(decoding: param.prefix { $0 != UInt8(ascii: "=") }, as: UTF8.self)
            let value = Array(param.drop { $0 != UInt8(ascii: "=") }.dropFirst())
            switch name {
            case "SIZE":
                invariant(capabilities.contains(.size), "SIZE= not offered")
                let size = value.reduce(0) { $0 &* 10 &+ Int($1) &- 48 }
                invariant(size == setup.size, "SIZE= differs from the envelope")
                if let limit = capabilities.maxMessageSize { invariant(size <= limit, "SIZE=\(size) over the limit \(limit)") }
            case "BODY":
                sawBody = true
                if value == Array(ascii: "8BITMIME") {
                    invariant(capabilities.contains(.eightBitMIME) && setup.bodyType == .eightBitMIME, "BODY=8BITMIME")
                } else if value == Array(ascii: "BINARYMIME") {
                    invariant(capabilities.contains(.binaryMIME) && capabilities.contains(.chunking)
                                 && setup.bodyType == .binaryMIME, "BODY=BINARYMIME")
                } else {
                    invariantFailure("unknown BODY= value")
                }
            case "SMTPUTF8":
                invariantFailure("SMTPUTF8 for an ASCII envelope")
            case "RET", "ENVID":
                invariant(capabilities.contains(.dsn) && setup.requestsDSN, "\(name)= without DSN")
            default:
                invariantFailure("unknown MAIL parameter \(name)")
            }
        }
        invariant(sawBody == (setup.bodyType != .sevenBit), "BODY= missing or extra")
        if setup.requestsDSN { invariant(capabilities.contains(.dsn), "DSN envelope sent without DSN") }
        let index = append(.mail)
        transactions.append(Transaction(mail: index))
        commands[index].transaction = transactions.count - 1
    }

    private func isBase64(_ text: [UInt8]) -> Bool {
        guard text.count % 4 == 0 else { return false }
        for (offset, byte) in text.enumerated() {
            let alphabet = (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57)
                || byte == 43 || byte == 47
            if alphabet { continue }
            guard byte == 61, offset >= text.count - 2, text[(offset + 1)...].allSatisfy({ $0 == 61 }) else { return false }
        }
        return true
    }

    // MARK: - The end

    /// After the session closed: no command line is left half written.
    func finish() {
        if case .command = mode {
            invariant(line.isEmpty && !sawCR, "a command line was left unfinished: \(show(line))")
        }
    }
}
