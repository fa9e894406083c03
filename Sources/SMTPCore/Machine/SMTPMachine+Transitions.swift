/// Every transition of the session state lives in this file: the start of the session, the TLS
/// handshake's end, every server reply (matched to the command that waits for it, one switch),
/// QUIT, failure and the close. Nothing else assigns `state`. The transaction machine
/// (`Transaction`) decides what each transaction reply means; the sending side (`pump`) only
/// writes what the current state allows.
extension SMTPMachine {
    // MARK: Start, TLS, QUIT and the end

    /// After `connectionEstablished`: the greeting, or in implicit-TLS mode the handshake first.
    mutating func beginSession() {
        guard case .idle = state else { return }
        if configuration.tls == .implicit {
            state = .tlsHandshake(implicit: true, since: now)
            request(.startTLS)
        } else {
            state = .greeting
            expect(.greeting)
        }
    }

    /// After `tlsEstablished`: the greeting (implicit TLS), or EHLO again with everything learned
    /// before TLS forgotten (RFC 3207 §4.2).
    mutating func handshakeSucceeded() {
        guard case .tlsHandshake(let implicit, _) = state else {
            if !isClosed { fail(.misuse("tlsEstablished without a .startTLS request"), quit: false) }
            return
        }
        isTLSActive = true
        emit(.tlsEstablished)
        if implicit {
            state = .greeting
            expect(.greeting)
        } else {
            capabilities = .basic
            parser.parsesEnhancedStatusCodes = false
            sendHello(configuration.dialect == .lmtp ? .lhlo : .ehlo)
        }
    }

    /// QUIT, once nothing else is in flight (or pipelined behind the last final dot).
    mutating func beginQuit() {
        state = .quitting
        writeCommand(.quit) { $0.appendASCII("QUIT") }
    }

    mutating func sendHello(_ command: HelloCommand) {
        state = .hello(command)
        let name = configuration.heloName
        writeCommand(.hello) { CommandWriters.hello(command, name: name, into: &$0) }
    }

    /// Ends the session with `error`. Everything not yet written is dropped; only QUIT may still
    /// go out, and only when `quit` says the protocol is in step and no other reply is owed.
    mutating func fail(_ error: SMTPError, quit: Bool) {
        guard failure == nil, !isClosed else { return }
        failure = error
        actions.filter { if case .event = $0 { true } else { false } }
        output.removeAll(keepingCapacity: true)
        bodyRequested = false
        // A cancelled message's outcome went out when it was cancelled.
        for transaction in transactions where transaction.cancelled == nil {
            emit(.transactionFinished(transaction.id, transaction.outcome(sessionError: error)))
        }
        transactions.removeAll(keepingCapacity: true)
        emit(.sessionFailed(error))
        // In step means the server owes no other reply: QUIT is neither a second QUIT nor
        // pipelined behind commands still unanswered (behind DATA it could become content).
        var inStep = quit && expected.isEmpty
        expected.removeAll()
        switch state {
        case .idle, .tlsHandshake, .closed: inStep = false
        case .greeting, .hello, .startTLS, .authenticating, .ready, .quitting: break
        }
        if inStep {
            beginQuit()
        } else {
            closeConnection()
        }
    }

    /// The reply to QUIT (or its absence): a clean end unless the session had failed.
    mutating func finishQuit() {
        if failure == nil, !transactions.isEmpty {
            // Closed with a transaction's replies still owed (QUIT went pipelined behind it):
            // the phase is that of the first reply missing.
            let phase = expected.first.map { Self.timeout(for: $0, in: configuration.timeouts).1 } ?? .dataTermination
            fail(.connectionClosed(phase), quit: false)
            return
        }
        if failure == nil { emit(.sessionClosed) }
        closeConnection()
    }

    /// A withdrawn message took the QUIT written behind it along (neither reached the driver):
    /// the session is ready again, and QUIT follows anew.
    mutating func unwindUnsentQuit() {
        guard case .quitting = state else { return }
        state = .ready
    }

    mutating func closeConnection() {
        state = .closed
        bodyRequested = false
        expected.removeAll()
        request(.close)
    }

    // MARK: Replies

    /// Parses and handles at most one reply (or the end of the stream). Returns whether anything
    /// happened.
    mutating func processInput() -> Bool {
        switch state {
        case .idle, .closed, .tlsHandshake: return false
        case .greeting, .hello, .startTLS, .authenticating, .ready, .quitting: break
        }
        do {
            let start = parser.consumedByteCount
            if let reply = try parser.next() {
                if start < answeredAheadBefore {
                    // It began arriving before the command it would answer was written: a
                    // server answering ahead (or a response-injection attempt) is never trusted.
                    handleUnsolicited(reply)
                } else {
                    handle(reply)
                }
                return true
            }
        } catch {
            if failure == nil {
                fail(.protocolViolation(error), quit: false)
            } else {
                // Garbage while a failed session waits for its QUIT reply: stop reading.
                closeConnection()
            }
            return true
        }
        if let closure = peerClosure, !peerCloseHandled {
            peerCloseHandled = true
            handlePeerClosed(closure)
            return true
        }
        return false
    }

    private mutating func handlePeerClosed(_ closure: TransportFailure) {
        if case .quitting = state {
            if failure != nil { closeConnection() } else { finishQuit() }
            return
        }
        let phase: SMTPPhase
        if let head = expected.first {
            phase = Self.timeout(for: head, in: configuration.timeouts).1
        } else if transactions.contains(where: { $0.step == .body }) {
            phase = .dataBlock
        } else {
            phase = .idle
        }
        fail(closure == .closedByPeer ? .connectionClosed(phase) : .transportFailed(closure, phase), quit: false)
    }

    mutating func handle(_ reply: SMTPReply) {
        if configuration.emitsTranscript { emit(.transcript(.reply(reply))) }
        guard let expectation = expected.popFirst() else {
            handleUnsolicited(reply)
            return
        }
        headSince = now
        // 421 may answer any command: the server is closing the channel.
        if reply.code == .serviceNotAvailable, expectation != .quit {
            noteFinalReplyIfAny(expectation, reply)
            fail(.serviceNotAvailable(reply.detached()), quit: false)
            return
        }
        switch expectation {
        case .greeting: handleGreeting(reply)
        case .hello: handleHello(reply)
        case .startTLS: handleStartTLS(reply)
        case .auth: handleAuth(reply)
        case .mail(let id):
            withTransaction(id, phase: .mail, reply) { machine, index throws(Transaction.Misfit) in
                try machine.transactions[index].mailReplied(reply)
            }
        case .recipient(let id, let index):
            withTransaction(id, phase: .recipient, reply) { machine, position throws(Transaction.Misfit) in
                try machine.handleRecipientReply(reply, transaction: position, index: index)
            }
        case .data(let id):
            withTransaction(id, phase: .dataInitiation, reply) { machine, index throws(Transaction.Misfit) in
                try machine.handleDataReply(reply, transaction: index)
            }
        case .chunk(let id, let last):
            withTransaction(id, phase: last ? .dataTermination : .dataBlock, reply) { machine, index throws(Transaction.Misfit) in
                try machine.handleChunkReply(reply, transaction: index, last: last)
            }
        case .dataEnd(let id):
            withTransaction(id, phase: .dataTermination, reply) { machine, index throws(Transaction.Misfit) in
                try machine.handleFinalReply(reply, transaction: index)
            }
        case .reset: handleReset(reply)
        case .quit: finishQuit()
        }
        pump()
    }

    private mutating func handleUnsolicited(_ reply: SMTPReply) {
        if case .quitting = state {
            // Only a reply sent ahead of QUIT gets here (QUIT's own reply is expected): a
            // violation like any other, so the session still ends with an event and every
            // transaction in flight is finished. An earlier failure stays the failure.
            if failure == nil {
                fail(.protocolViolation(.unsolicitedReply(reply.code)), quit: false)
            } else {
                closeConnection()
            }
            return
        }
        if reply.code == .serviceNotAvailable {
            fail(.serviceNotAvailable(reply.detached()), quit: false)
            return
        }
        // A negative reply while DATA content streams: the server gave up on the message early.
        if reply.code.isNegative, let index = transactions.firstIndex(where: { $0.step == .body && !$0.usesChunking }) {
            if transactions[index].refuseData(reply) == .rejected { emit(.messageRejected(transactions[index].id, reply)) }
        }
        fail(.protocolViolation(.unsolicitedReply(reply.code)), quit: false)
    }

    private mutating func violation(_ reply: SMTPReply, _ phase: SMTPPhase) {
        fail(.protocolViolation(.unexpectedReply(reply.code, phase: phase)), quit: false)
    }

    // MARK: Session set-up

    private mutating func handleGreeting(_ reply: SMTPReply) {
        switch reply.code.replyClass {
        case 2 where reply.code == .serviceReady:
            emit(.greeting(reply))
            sendHello(configuration.dialect == .lmtp ? .lhlo : .ehlo)
        case 4, 5:
            fail(.greetingRefused(reply.detached()), quit: true)
        default:
            violation(reply, .greeting)
        }
    }

    private mutating func handleHello(_ reply: SMTPReply) {
        guard case .hello(let command) = state else { return violation(reply, .hello) }
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand:
            if command == .helo {
                capabilities = .basic
            } else {
                capabilities = Capabilities(ehloReply: reply)
                parser.parsesEnhancedStatusCodes = capabilities.contains(.enhancedStatusCodes)
            }
            emit(.capabilities(capabilities))
            helloCompleted()
        case 4, 5:
            if isTLSActive, configuration.tls != .implicit {
                fail(.ehloRefusedAfterTLS(reply.detached()), quit: true)
            } else if command == .helo {
                fail(.heloRefused(reply.detached()), quit: true)
            } else if command == .lhlo || configuration.tls == .required {
                // LMTP has no HELO; and HELO cannot offer STARTTLS, so required TLS stops here.
                fail(.ehloRefused(reply.detached()), quit: true)
            } else {
                sendHello(.helo)
            }
        default:
            violation(reply, .hello)
        }
    }

    /// After a successful EHLO/HELO: STARTTLS, then AUTH, then ready.
    private mutating func helloCompleted() {
        if !isTLSActive {
            switch configuration.tls {
            case .opportunistic, .required:
                if capabilities.contains(.startTLS) {
                    emit(.negotiatingTLS)
                    state = .startTLS
                    writeCommand(.startTLS) { $0.appendASCII("STARTTLS") }
                    return
                }
                if configuration.tls == .required {
                    fail(.tlsNotOffered, quit: true)
                    return
                }
                emit(.continuingWithoutTLS)
            case .implicit, .off:
                break
            }
        }
        if let authentication = configuration.authentication {
            beginAuthentication(authentication)
        } else {
            becomeReady()
        }
    }

    private mutating func handleStartTLS(_ reply: SMTPReply) {
        switch reply.code.replyClass {
        case 2 where reply.code == .serviceReady:
            // Anything already received after the 220 was sent before TLS and would be read as
            // if it came through it: response injection (CVE-2021-22947 and its kin).
            if parser.bufferedByteCount > 0 {
                fail(.protocolViolation(.bytesAfterSTARTTLS), quit: false)
                return
            }
            state = .tlsHandshake(implicit: false, since: now)
            request(.startTLS)
        case 4, 5:
            fail(.startTLSRefused(reply.detached()), quit: true)
        default:
            violation(reply, .startTLS)
        }
    }

    private mutating func becomeReady() {
        state = .ready
        emit(.sessionReady)
    }

    // MARK: AUTH

    private mutating func beginAuthentication(_ options: AuthenticationOptions) {
        guard isTLSActive || options.allowWithoutTLS else {
            fail(.authenticationRequiresTLS, quit: true)
            return
        }
        guard capabilities.contains(.auth) else {
            fail(.authenticationNotOffered, quit: true)
            return
        }
        guard var mechanism = options.preferenceOrder(tlsActive: isTLSActive)
                .first(where: { capabilities.offersAuthMechanism($0.name) }) else {
            fail(.noCommonAuthenticationMechanism(offered: capabilities.authMechanisms), quit: true)
            return
        }
        let initial: [UInt8]?
        do {
            initial = try mechanism.initialResponse()
        } catch {
            fail(.authenticationAborted(.mechanismFailed(error.reason)), quit: true)
            return
        }
        let name = mechanism.name
        state = .authenticating(AuthExchange(mechanism: mechanism))
        writeCommand(.auth, redacted: initial == nil ? "AUTH \(name)" : "AUTH \(name) <redacted>") {
            CommandWriters.auth(mechanism: name, initialResponse: initial, into: &$0)
        }
    }

    private mutating func handleAuth(_ reply: SMTPReply) {
        guard case .authenticating(var exchange) = state else { return violation(reply, .authentication) }
        switch reply.code.replyClass {
        case 2 where reply.code == .authenticationSucceeded:
            if let reason = exchange.cancelled {
                fail(.authenticationAborted(reason), quit: true)
                return
            }
            do {
                try exchange.mechanism.verifyCompletion()
            } catch {
                fail(.authenticationAborted(.mechanismFailed(error.reason)), quit: true)
                return
            }
            isAuthenticated = true
            emit(.authenticated(mechanism: exchange.mechanism.name))
            becomeReady()
        case 3 where reply.code == .authenticationChallenge:
            if exchange.cancelled != nil { return violation(reply, .authentication) }
            exchange.rounds += 1
            if exchange.rounds > configuration.limits.maxAuthRounds {
                return cancelAuthentication(&exchange, .tooManyChallenges(limit: configuration.limits.maxAuthRounds))
            }
            var text: [UInt8] = []
            reply.forEachLine { line in if text.isEmpty { text = Array(line) } }
            guard reply.lineCount == 1, let challenge = Base64.decode(text) else {
                return cancelAuthentication(&exchange, .invalidChallenge)
            }
            let response: [UInt8]
            do {
                response = try exchange.mechanism.response(to: challenge)
            } catch {
                return cancelAuthentication(&exchange, .mechanismFailed(error.reason))
            }
            state = .authenticating(exchange)
            writeCommand(.auth, redacted: "<redacted>") { Base64.encode(response, into: &$0) }
        case 4, 5:
            if let reason = exchange.cancelled {
                fail(.authenticationAborted(reason), quit: true)
            } else {
                fail(.authenticationFailed(reply.detached()), quit: true)
            }
        default:
            violation(reply, .authentication)
        }
    }

    private mutating func cancelAuthentication(_ exchange: inout AuthExchange, _ reason: AuthAbortReason) {
        exchange.cancelled = reason
        state = .authenticating(exchange)
        writeCommand(.auth) { $0.append(UInt8(ascii: "*")) }
    }

    // MARK: Transactions

    /// Runs one reply through the transaction it answers. The transaction machine decides what
    /// the reply means for the message; this side acts on the wire (body requests, the empty
    /// terminator, LMTP replies still to come) and reports.
    private mutating func withTransaction(_ id: TransactionID, phase: SMTPPhase, _ reply: SMTPReply,
                                          _ body: (inout SMTPMachine, Int) throws(Transaction.Misfit) -> Void) {
        guard let index = transactions.firstIndex(where: { $0.id == id }) else {
            assertionFailure("reply for unknown transaction \(id)")
            fail(.misuse("internal: reply for unknown transaction \(id)"), quit: false)
            return
        }
        do throws(Transaction.Misfit) {
            try body(&self, index)
        } catch {
            violation(reply, phase)
        }
    }

    /// A 421 still answers its command: to MAIL it refuses the sender (so the message was never
    /// taken and may go again elsewhere), to the end of the data it refuses the message.
    private mutating func noteFinalReplyIfAny(_ expectation: Expectation, _ reply: SMTPReply) {
        switch expectation {
        case .mail(let id):
            if let index = transactions.firstIndex(where: { $0.id == id }) {
                transactions[index].failRound(.senderRefused(reply.detached()))
            }
        case .dataEnd(let id), .chunk(let id, last: true):
            if let index = transactions.firstIndex(where: { $0.id == id }) {
                transactions[index].finalReplyReceived = true
                transactions[index].failRound(.messageRefused(reply.detached()))
            }
        case .greeting, .hello, .startTLS, .auth, .recipient, .data, .chunk(_, last: false), .reset, .quit:
            break
        }
    }

    private mutating func handleRecipientReply(_ reply: SMTPReply, transaction index: Int, index recipient: Int)
        throws(Transaction.Misfit) {
        let verdict = try transactions[index].recipientReplied(reply, recipient: recipient, pipelining: usesPipelining)
        if verdict == .report, transactions[index].cancelled == nil {
            emit(.recipient(transactions[index].id, index: recipient, reply))
        }
    }

    private mutating func handleDataReply(_ reply: SMTPReply, transaction index: Int) throws(Transaction.Misfit) {
        let id = transactions[index].id
        if let reason = transactions[index].cancelled, reply.code == .startMailInput, !transactions[index].accepted.isEmpty {
            // Cancelled with DATA in flight behind a message that is not done (pump drops the
            // connection once nothing is ahead), and the server now waits for the content of a
            // message with recipients: no byte may follow, and DATA cannot be aborted.
            fail(.messageCancelled(reason), quit: false)
            return
        }
        switch try transactions[index].dataReplied(reply) {
        case .sendBody:
            requestBody(id, fromStart: true)
        case .sendEmptyData:
            output.append(contentsOf: [UInt8(ascii: "."), 13, 10])
            if configuration.emitsTranscript { emit(.transcript(.data(byteCount: 3))) }
            expect(.dataEnd(id))
        case .rejected:
            emit(.messageRejected(id, reply))
        case .quiet:
            break
        }
    }

    private mutating func handleChunkReply(_ reply: SMTPReply, transaction index: Int, last: Bool) throws(Transaction.Misfit) {
        if last { return try handleFinalReply(reply, transaction: index) }
        let id = transactions[index].id
        let verdict = try transactions[index].chunkReplied(reply)
        // RFC 3030: after a failed chunk, no more are asked for.
        if reply.code.isNegative { bodyRequested = false }
        switch verdict {
        case .sendBody:
            // With PIPELINING the next chunk was asked for already; lock-step asks now.
            if !usesPipelining { requestBody(id, fromStart: false) }
        case .rejected:
            emit(.messageRejected(id, reply))
        case .quiet, .sendEmptyData:
            break
        }
    }

    /// The reply to the final dot or BDAT LAST; with LMTP, one of several.
    private mutating func handleFinalReply(_ reply: SMTPReply, transaction index: Int) throws(Transaction.Misfit) {
        let id = transactions[index].id
        switch try transactions[index].finalReplied(reply) {
        case .accepted:
            emit(.messageAccepted(id, reply))
        case .rejected:
            emit(.messageRejected(id, reply))
        case .delivery(let recipient, let more):
            // BDAT LAST was pipelined before the RCPT replies: now the number of replies is known.
            for _ in 0..<more { expected.prepend(.dataEnd(id)) }
            emit(.recipientDelivery(id, index: recipient, reply))
        case .quiet:
            break
        }
    }

    private mutating func handleReset(_ reply: SMTPReply) {
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand: break
        case 4, 5: fail(.resetRefused(reply.detached()), quit: true)
        default: violation(reply, .reset)
        }
    }
}
