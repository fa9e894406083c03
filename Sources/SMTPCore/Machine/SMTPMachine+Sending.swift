/// The sending side: what goes on the wire next, given what is known. `pump()` runs after every
/// change; it finishes transactions whose replies are all in, writes what the newest transaction
/// may write under the pipelining rules, and offers the next transaction or sends QUIT.
extension SMTPMachine {
    var usesPipelining: Bool {
        configuration.usePipelining && capabilities.contains(.pipelining)
    }

    /// A new command group (a transaction's MAIL, or QUIT) may go out now: nothing else is in
    /// flight, or only the final dot of a DATA transaction and the server pipelines.
    var canSendNewGroup: Bool {
        mayWriteGroup(.transaction)
    }

    /// QUIT may go out now: as a new group, or pipelined behind the last transaction's final
    /// command when nothing more can be written for it (the replies are still read).
    var canSendQuit: Bool {
        mayWriteGroup(.quit)
    }

    private enum Group { case transaction, quit }

    // The transaction is read in place (`transactions[0].x`): a copy of it costs a retain and
    // a release of each of its arrays, on every pump.
    private func mayWriteGroup(_ group: Group) -> Bool {
        guard case .ready = state, failure == nil else { return false }
        // Server bytes waiting while nothing is in flight are unsolicited: they are read (and
        // fail the session) before any new command could be taken as their cause.
        if expected.isEmpty, parser.bufferedByteCount > 0 { return false }
        if transactions.isEmpty { return usesPipelining || expected.isEmpty }
        guard usesPipelining, transactions.count == 1 else { return false }
        switch group {
        case .transaction: return transactions[0].allowsOverlap
        case .quit: return transactions[0].allowsQuitBehind
        }
    }

    mutating func pump() {
        guard failure == nil else { return }
        switch state {
        case .ready, .quitting: break
        case .idle, .tlsHandshake, .greeting, .hello, .startTLS, .authenticating, .closed: return
        }
        while finishResolvedTransaction() || advanceNewestTransaction() {}
        if dropCancelledMessageAwaitingGoAhead() { return }
        if quitRequested {
            if canSendQuit { beginQuit() }
            return
        }
        guard canSendNewGroup else { return }
        if !readyAnnounced {
            readyAnnounced = true
            actions.append(.readyForTransaction)
        }
    }

    /// Ends the oldest transaction if all its replies are in: RSET when the server may still hold
    /// its state, a further round for deferred recipients, or the final event.
    private mutating func finishResolvedTransaction() -> Bool {
        guard !transactions.isEmpty, isRoundResolved(at: 0) else { return false }
        var transaction = transactions.removeFirst()
        if transaction.needsReset, case .ready = state {
            writeCommand(.reset) { $0.appendASCII("RSET") }
        }
        if transaction.startRetryRoundIfUseful() {
            transactions.insert(transaction, at: 0)
            return true
        }
        let refused = transaction.refuseDeferred()
        // A cancelled message's outcome went out when it was cancelled.
        guard transaction.cancelled == nil else { return true }
        for refused in refused {
            emit(.recipient(transaction.id, index: refused.index, refused.reply!))
        }
        emit(.transactionFinished(transaction.id, transaction.outcome()))
        return true
    }

    /// All replies for the transaction's round are in and nothing more will be sent for it.
    func isRoundResolved(at index: Int) -> Bool {
        guard transactions[index].step == .ended || transactions[index].roundFailure != nil else { return false }
        let id = transactions[index].id
        return !expected.contains(where: { $0.transaction == id })
    }

    /// Writes the next commands of the newest transaction that the pipelining rules allow.
    private mutating func advanceNewestTransaction() -> Bool {
        guard case .ready = state, let index = transactions.indices.last else { return false }
        guard transactions[index].roundFailure == nil else { return false }
        let pipelining = usesPipelining
        var progressed = false
        while true {
            let mayWrite = pipelining || expected.isEmpty
            switch transactions[index].step {
            case .mail:
                guard mayWrite else { return progressed }
                writeMail(transaction: index)
                transactions[index].step = .recipients
            case .recipients:
                let sent = transactions[index].recipientsSent
                if sent == transactions[index].roundCount {
                    transactions[index].step = .dataCommand
                    continue
                }
                guard mayWrite, transactions[index].roundFailure == nil else { return progressed }
                writeRecipient(transaction: index, position: sent)
                transactions[index].recipientsSent += 1
            case .dataCommand:
                guard mayWrite, transactions[index].roundFailure == nil else { return progressed }
                if !pipelining, transactions[index].accepted.isEmpty {
                    transactions[index].failRound(.noRecipientsAccepted)
                    return true
                }
                if transactions[index].usesChunking {
                    transactions[index].step = .body
                    transactions[index].contentSent = true
                    requestBody(transactions[index].id, fromStart: true)
                } else {
                    let id = transactions[index].id
                    writeCommand(.data(id)) { $0.appendASCII("DATA") }
                    transactions[index].step = .awaitingGoAhead
                }
                return true
            case .awaitingGoAhead, .body, .ended:
                return progressed
            }
            progressed = true
        }
    }

    // MARK: Commands

    private mutating func writeMail(transaction index: Int) {
        let envelope = transactions[index].envelope
        let smtpUTF8 = transactions[index].needsSMTPUTF8
        // SIZE= only where the server takes it.
        let size = capabilities.contains(.size) ? envelope.size : nil
        if transactions[index].retryRound == nil {
            transactions[index].firstWrite = (output.count, outputHandovers)
        }
        writeCommand(.mail(transactions[index].id)) {
            CommandWriters.mail(envelope, size: size, smtpUTF8: smtpUTF8, into: &$0)
        }
    }

    private mutating func writeRecipient(transaction index: Int, position: Int) {
        let recipientIndex = transactions[index].recipientIndex(atRoundPosition: position)
        let recipient = transactions[index].envelope.recipients[recipientIndex]
        writeCommand(.recipient(transactions[index].id, index: recipientIndex)) { CommandWriters.recipient(recipient, into: &$0) }
    }

    /// Appends one command line and records the reply it waits for. `redacted` replaces the
    /// line in transcripts (AUTH payloads).
    mutating func writeCommand(_ expectation: Expectation, redacted: String? = nil,
                               _ build: (inout [UInt8]) -> Void) {
        let start = output.count
        build(&output)
        if configuration.emitsTranscript {
            let line = redacted ?? String(decoding: output[start...], as: UTF8.self)
            emit(.transcript(.command(line)))
        }
        output.appendCRLF()
        expect(expectation)
    }

    mutating func expect(_ expectation: Expectation) {
        if expected.isEmpty {
            headSince = now
            // Nothing was in flight, so nothing received so far, nor anything received before
            // the driver takes this command, can answer it.
            answeredAheadBefore = parser.receivedByteCount
            // (The greeting answers no command: nothing is written for it.)
            commandAwaitingHandover = expectation != .greeting
        }
        expected.append(expectation)
    }

    mutating func emit(_ event: SMTPEvent) {
        actions.append(.event(event))
    }

    /// Queues a request that must see all earlier output written first.
    mutating func request(_ action: SMTPAction) {
        if !output.isEmpty { actions.append(.write) }
        actions.append(action)
    }

    mutating func requestBody(_ id: TransactionID, fromStart: Bool) {
        bodyRequested = true
        lastBodyActivity = now
        if output.count >= configuration.limits.outputHighWater { actions.append(.write) }
        actions.append(.sendBody(id, fromStart: fromStart))
    }

    // MARK: Message content

    /// The transaction that may take body bytes now, if `id` is it.
    func bodyTransactionIndex(_ id: TransactionID) -> Int? {
        guard failure == nil, let index = transactions.firstIndex(where: { $0.id == id }),
              transactions[index].step == .body, transactions[index].roundFailure == nil else { return nil }
        return index
    }

    /// Encodes one chunk (and, when `last`, the end of the content) into the output: dot-stuffed
    /// after DATA, or as one BDAT chunk.
    mutating func encodeBody(_ bytes: UnsafeBufferPointer<UInt8>, transaction index: Int, last: Bool) {
        let id = transactions[index].id
        if transactions[index].usesChunking {
            scratch.removeAll(keepingCapacity: true)
            do {
                try transactions[index].encoder.encode(bytes, into: &scratch)
                if last { transactions[index].encoder.finish(into: &scratch) }
                try checkDeclaredSize(transaction: index)
            } catch {
                bodyFailed(error, transaction: index)
                return
            }
            if last {
                writeChunk(transaction: index, last: true)
                pump()
                return
            }
            if scratch.isEmpty {
                requestBody(id, fromStart: false)
                return
            }
            writeChunk(transaction: index, last: false)
            // Without PIPELINING each chunk waits for its 250 before the next is requested.
            if usesPipelining { requestBody(id, fromStart: false) }
            return
        }
        let before = output.count
        do {
            try transactions[index].encoder.encode(bytes, into: &output)
            if last { transactions[index].encoder.finish(into: &output) }
            try checkDeclaredSize(transaction: index)
        } catch {
            // DATA cannot be aborted: the session ends, and what this chunk added never goes out.
            bodyFailed(error, transaction: index)
            return
        }
        transactions[index].wireBytes += output.count - before
        guard last else {
            requestBody(id, fromStart: false)
            return
        }
        if configuration.emitsTranscript { emit(.transcript(.data(byteCount: transactions[index].wireBytes))) }
        transactions[index].step = .ended
        transactions[index].endHandover = outputHandovers
        // LMTP: one reply per accepted recipient (RFC 2033 §4.2).
        let replies = transactions[index].lmtp ? max(1, transactions[index].accepted.count) : 1
        for _ in 0..<replies { expect(.dataEnd(id)) }
        pump()
    }

    /// SIZE= is a promise to the server: content that outgrows it is not sent on.
    private func checkDeclaredSize(transaction index: Int) throws(BodyProblem) {
        guard let declared = transactions[index].envelope.size, capabilities.contains(.size),
              transactions[index].encoder.contentOctets > declared else { return }
        throw .largerThanDeclared(size: declared)
    }

    /// "BDAT <size>[ LAST]" and the chunk's exact bytes, from `scratch`.
    private mutating func writeChunk(transaction index: Int, last: Bool) {
        let id = transactions[index].id
        let size = scratch.count
        writeCommand(.chunk(id, last: last)) { CommandWriters.bdat(size: size, last: last, into: &$0) }
        output.append(contentsOf: scratch)
        transactions[index].wireBytes += size
        if last {
            transactions[index].step = .ended
            transactions[index].endHandover = outputHandovers
            if configuration.emitsTranscript { emit(.transcript(.data(byteCount: transactions[index].wireBytes))) }
        }
    }

    /// Content the engine refuses (or the caller abandoned). BDAT can be reset; DATA cannot be
    /// aborted, so the connection goes and the server discards the partial message.
    mutating func bodyFailed(_ problem: BodyProblem, transaction index: Int) {
        let error = SMTPError.invalidBody(problem)
        transactions[index].failRound(.local(error))
        bodyRequested = false
        if transactions[index].usesChunking {
            pump()
        } else {
            fail(error, quit: false)
        }
    }

    // MARK: Validation

    /// Refuses, before MAIL, an envelope that is malformed or needs what the server lacks.
    /// Returns whether SMTPUTF8 is needed.
    func validate(_ envelope: Envelope) throws(SMTPError) -> Bool {
        guard !envelope.recipients.isEmpty else { throw .noRecipients }
        var needsUTF8 = envelope.requiresSMTPUTF8
        if !envelope.sender.isEmpty {
            switch AddressSyntax.checkMailbox(envelope.sender) {
            case .failure(let problem): throw .invalidAddress(envelope.sender, problem)
            case .success(let checked): needsUTF8 = needsUTF8 || checked.isUTF8
            }
        }
        for recipient in envelope.recipients {
            switch AddressSyntax.checkMailbox(recipient.address, allowPostmaster: true) {
            case .failure(let problem): throw .invalidAddress(recipient.address, problem)
            case .success(let checked): needsUTF8 = needsUTF8 || checked.isUTF8
            }
            if let original = recipient.originalRecipient {
                guard !original.isEmpty, original.utf8.count <= 500, !Self.hasControlCharacter(original) else {
                    throw .invalidParameter("ORCPT must be 1 to 500 octets without control characters")
                }
            }
        }
        if let envid = envelope.dsnEnvelopeID {
            guard !envid.isEmpty, envid.utf8.count <= 100, !Self.hasControlCharacter(envid) else {
                throw .invalidParameter("ENVID must be 1 to 100 octets without control characters")
            }
        }
        if needsUTF8, !capabilities.contains(.smtpUTF8) { throw .extensionRequired(.smtpUTF8) }
        switch envelope.bodyType {
        case .sevenBit:
            break
        case .eightBitMIME:
            guard capabilities.contains(.eightBitMIME) else { throw .extensionRequired(.eightBitMIME) }
        case .binaryMIME:
            guard capabilities.contains(.chunking) else { throw .extensionRequired(.chunking) }
            guard capabilities.contains(.binaryMIME) else { throw .extensionRequired(.binaryMIME) }
        }
        if envelope.requestsDSN, !capabilities.contains(.dsn) { throw .extensionRequired(.dsn) }
        if let size = envelope.size {
            guard size >= 0 else { throw .invalidParameter("negative SIZE") }
            if capabilities.contains(.size), let limit = capabilities.maxMessageSize, size > limit {
                throw .messageTooLarge(size: size, limit: limit)
            }
        }
        return needsUTF8
    }

    /// CR, LF, NUL or any other C0 control or DEL: never allowed into a command line, even
    /// where xtext would encode it.
    static func hasControlCharacter(_ text: String) -> Bool {
        text.utf8.contains { $0 < 0x20 || $0 == 0x7F }
    }

    // MARK: Time

    var deadline: (at: SMTPInstant, phase: SMTPPhase)? {
        let timeouts = configuration.timeouts
        switch state {
        case .idle, .closed:
            return nil
        case .tlsHandshake(_, let since):
            return (since + timeouts.tlsHandshake, .tlsHandshake)
        case .greeting, .hello, .startTLS, .authenticating, .ready, .quitting:
            break
        }
        var best: (at: SMTPInstant, phase: SMTPPhase)?
        if let head = expected.first {
            let (limit, phase) = Self.timeout(for: head, in: timeouts)
            best = (headSince + limit, phase)
        }
        if case .ready = state, expected.isEmpty, transactions.isEmpty, parser.bufferedByteCount > 0 {
            // Part of a reply nobody asked for, between transactions: it gets the usual time to
            // complete (and then fails as unsolicited), never an endless wait.
            best = (unparsedSince + timeouts.command, .unsolicitedReply)
        }
        if failure == nil, transactions.contains(where: { $0.step == .body && $0.cancelled == nil }) {
            let bodyDue = lastBodyActivity + timeouts.dataBlock
            if best == nil || bodyDue < best!.at { best = (bodyDue, .dataBlock) }
        }
        return best
    }

    static func timeout(for expectation: Expectation, in timeouts: Timeouts) -> (Duration, SMTPPhase) {
        switch expectation {
        case .greeting: (timeouts.greeting, .greeting)
        case .hello: (timeouts.command, .hello)
        case .startTLS: (timeouts.command, .startTLS)
        case .auth: (timeouts.command, .authentication)
        case .mail: (timeouts.mail, .mail)
        case .recipient: (timeouts.recipient, .recipient)
        case .data: (timeouts.dataInitiation, .dataInitiation)
        case .chunk(_, last: false): (timeouts.dataBlock, .dataBlock)
        case .chunk(_, last: true), .dataEnd: (timeouts.dataTermination, .dataTermination)
        case .reset: (timeouts.reset, .reset)
        case .quit: (timeouts.quit, .quit)
        }
    }

}
