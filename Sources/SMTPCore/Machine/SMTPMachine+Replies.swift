/// The receiving side: every server reply, matched to the command that waits for it, and the
/// transition it causes. This file holds every reaction to a reply, in one switch.
extension SMTPMachine {
    /// Parses and handles at most one reply (or the end of the stream). Returns whether anything
    /// happened.
    mutating func processInput() -> Bool {
        switch state {
        case .idle, .closed, .tlsHandshake: return false
        default: break
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
        if peerClosed, !peerCloseHandled {
            peerCloseHandled = true
            handlePeerClosed()
            return true
        }
        return false
    }

    private mutating func handlePeerClosed() {
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
        fail(.connectionClosed(phase), quit: false)
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
        case .mail(let id): withTransaction(id) { $0.handleMailReply(reply, transaction: $1) }
        case .recipient(let id, let index): withTransaction(id) { $0.handleRecipientReply(reply, transaction: $1, index: index) }
        case .data(let id): withTransaction(id) { $0.handleDataReply(reply, transaction: $1) }
        case .chunk(let id, let last): withTransaction(id) { $0.handleChunkReply(reply, transaction: $1, last: last) }
        case .dataEnd(let id): withTransaction(id) { $0.handleFinalReply(reply, transaction: $1) }
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
            let id = transactions[index].id
            transactions[index].failRound(.dataRefused(reply.detached()))
            emit(.messageRejected(id, reply))
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
        writeCommand(.auth, redacted: initial == nil ? "AUTH \(name)" : "AUTH \(name) <redacted>") { out in
            out.appendASCII("AUTH ")
            out.appendUTF8(name)
            if let initial {
                out.append(UInt8(ascii: " "))
                if initial.isEmpty { out.append(UInt8(ascii: "=")) } else { Base64.encode(initial, into: &out) }
            }
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

    private mutating func withTransaction(_ id: TransactionID, _ body: (inout SMTPMachine, Int) -> Void) {
        guard let index = transactions.firstIndex(where: { $0.id == id }) else {
            assertionFailure("reply for unknown transaction \(id)")
            fail(.misuse("internal: reply for unknown transaction \(id)"), quit: false)
            return
        }
        body(&self, index)
    }

    /// 421 in answer to the end of the data still answers it: the message was not taken.
    private mutating func noteFinalReplyIfAny(_ expectation: Expectation, _ reply: SMTPReply) {
        switch expectation {
        case .dataEnd(let id), .chunk(let id, last: true):
            if let index = transactions.firstIndex(where: { $0.id == id }) {
                transactions[index].finalReplyReceived = true
                transactions[index].failRound(.messageRefused(reply.detached()))
            }
        default:
            break
        }
    }

    private mutating func handleMailReply(_ reply: SMTPReply, transaction index: Int) {
        transactions[index].outstanding -= 1
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand: transactions[index].mailAccepted = true
        case 4, 5: transactions[index].failRound(.senderRefused(reply.detached()))
        default: violation(reply, .mail)
        }
    }

    private mutating func handleRecipientReply(_ reply: SMTPReply, transaction index: Int, index recipient: Int) {
        transactions[index].outstanding -= 1
        let id = transactions[index].id
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand:
            guard transactions[index].mailAccepted else { return }
            transactions[index].acceptedInRound += 1
            if transactions[index].lmtp { transactions[index].acceptedIndices.append(recipient) }
            emit(.recipient(id, index: recipient, reply))
        case 4, 5:
            guard transactions[index].mailAccepted else { return }
            if Self.meansTooManyRecipients(reply) {
                // RFC 5321 §4.5.3.1.10: deliver to those accepted, then send the rest again.
                transactions[index].deferred.append(recipient)
                if transactions[index].deferralReply == nil { transactions[index].deferralReply = reply.detached() }
                if !usesPipelining {
                    let transaction = transactions[index]
                    for position in transaction.recipientsSent..<transaction.roundCount {
                        transactions[index].deferred.append(transaction.recipientIndex(atRoundPosition: position))
                    }
                    transactions[index].recipientsSent = transaction.roundCount
                }
            } else {
                emit(.recipient(id, index: recipient, reply))
            }
        default:
            violation(reply, .recipient)
        }
    }

    /// 452, or 552 with enhanced code x.5.3, which RFC 5321 says to treat alike.
    static func meansTooManyRecipients(_ reply: SMTPReply) -> Bool {
        if reply.code == .insufficientStorage { return true }
        if reply.code == .exceededStorage, let enhanced = reply.enhancedStatusCode {
            return enhanced.subject == 5 && enhanced.detail == 3
        }
        return false
    }

    private mutating func handleDataReply(_ reply: SMTPReply, transaction index: Int) {
        transactions[index].outstanding -= 1
        let transaction = transactions[index]
        switch reply.code.replyClass {
        case 3 where reply.code == .startMailInput:
            if transaction.roundFailure == nil, transaction.acceptedInRound > 0 {
                transactions[index].step = .body
                requestBody(transaction.id, fromStart: true)
            } else {
                // Nothing may be sent, yet the server waits for data: end it empty, then RSET.
                transactions[index].failRound(.noRecipientsAccepted)
                transactions[index].sentEmptyData = true
                transactions[index].step = .ended
                output.append(contentsOf: [UInt8(ascii: "."), 13, 10])
                if configuration.emitsTranscript { emit(.transcript(.data(byteCount: 3))) }
                expect(.dataEnd(transaction.id))
                transactions[index].outstanding += 1
            }
        case 4, 5:
            if transaction.roundFailure == nil {
                if transaction.acceptedInRound == 0 {
                    transactions[index].failRound(.noRecipientsAccepted)
                } else {
                    transactions[index].failRound(.dataRefused(reply.detached()))
                    emit(.messageRejected(transaction.id, reply))
                }
            }
        default:
            violation(reply, .dataInitiation)
        }
    }

    private mutating func handleChunkReply(_ reply: SMTPReply, transaction index: Int, last: Bool) {
        if last { return handleFinalReply(reply, transaction: index) }
        transactions[index].outstanding -= 1
        let transaction = transactions[index]
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand:
            if !usesPipelining, transaction.step == .body, transaction.roundFailure == nil {
                requestBody(transaction.id, fromStart: false)
            }
        case 4, 5:
            // RFC 3030: after a failed chunk, send no more; RSET once the pipeline drains.
            bodyRequested = false
            if transaction.roundFailure == nil {
                if transaction.acceptedInRound == 0 {
                    transactions[index].failRound(.noRecipientsAccepted)
                } else {
                    transactions[index].failRound(.dataRefused(reply.detached()))
                    if transaction.acceptedInRound > 0 { emit(.messageRejected(transaction.id, reply)) }
                }
            }
        default:
            violation(reply, .dataBlock)
        }
    }

    /// The reply to the final dot or BDAT LAST; with LMTP, one of several.
    private mutating func handleFinalReply(_ reply: SMTPReply, transaction index: Int) {
        transactions[index].outstanding -= 1
        let transaction = transactions[index]
        let positive: Bool
        switch reply.code.replyClass {
        case 2 where reply.code.completesCommand: positive = true
        case 4, 5: positive = false
        default: return violation(reply, .dataTermination)
        }
        if transaction.lmtp, transaction.acceptedInRound > 0, !transaction.sentEmptyData, transaction.roundFailure == nil {
            if transaction.usesChunking, transaction.lmtpRepliesLeft == 0 {
                // BDAT LAST was pipelined before the RCPT replies: now the count is known.
                let more = transaction.acceptedInRound - 1
                transactions[index].lmtpRepliesLeft = transaction.acceptedInRound
                for _ in 0..<more { expected.prepend(.dataEnd(transaction.id)) }
                transactions[index].outstanding += more
            }
            let position = transaction.acceptedInRound - transactions[index].lmtpRepliesLeft
            let recipient = transaction.acceptedIndices[position]
            transactions[index].lmtpRepliesLeft -= 1
            if transactions[index].lmtpRepliesLeft == 0 { transactions[index].finalReplyReceived = true }
            emit(.recipientDelivery(transaction.id, index: recipient, reply))
            if positive {
                transactions[index].delivered += 1
            } else {
                transactions[index].lastFailure = .messageRefused(reply.detached())
            }
            return
        }
        transactions[index].finalReplyReceived = positive || !transaction.usesChunking
        if transaction.sentEmptyData || transaction.roundFailure != nil {
            return
        }
        if transaction.acceptedInRound == 0 {
            transactions[index].failRound(.noRecipientsAccepted)
        } else if positive {
            transactions[index].delivered += transaction.acceptedInRound
            emit(.messageAccepted(transaction.id, reply))
        } else {
            transactions[index].failRound(.messageRefused(reply.detached()))
            emit(.messageRejected(transaction.id, reply))
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
