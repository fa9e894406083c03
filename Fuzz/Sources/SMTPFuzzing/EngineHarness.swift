import SMTPCore

/// The whole-engine target: a correct driver, a fuzzer-controlled server and clock, and a strict
/// observer of the client's bytes. See `FuzzHarness.engine` for the invariant.
///
/// Input layout:
/// - byte 0: bits 0-1 TLS policy (opportunistic, required, implicit, off); bit 2 pipelining;
///   bit 3 chunking; bit 4 LMTP; bit 5 two messages instead of one; bit 6 the driver marks the
///   last chunk (`last: true`); bit 7 the input ends with EOF instead of silence.
/// - byte 1: bits 0-1 envelope (plain; with SIZE; 8BITMIME with DSN; BINARYMIME); bits 2-3 body
///   (awkward text; 8-bit text; text with a NUL; empty); bits 4-5 AUTH (none; PLAIN/LOGIN over
///   TLS only; PLAIN/LOGIN allowed without TLS; LOGIN/XOAUTH2 allowed without TLS); bit 6 small
///   reply limits; bit 7 short timeouts (10 s for everything).
/// - byte 2: `n`, then `n % 8` chunk-plan bytes, used in turn whenever the engine asks for body:
///   0xFF aborts the body, bit 7 defers the answer to a later operation, the low 6 bits are the
///   chunk length (0: an empty chunk). At the end of the body the driver calls `finishBody`, or
///   passes an empty last chunk when it marks the last chunk.
/// - then operations, one byte each plus arguments, until the input ends:
///   0-5 raw server bytes (length byte, then that many bytes); 6-9 a canned server reply (index
///   byte); 10 EOF (ends the operations); 11 time passes (byte × 3 s) then `deadlineReached`;
///   12 the clock jumps to `nextDeadline`; 13 to just before it; 14 the TLS handshake succeeds;
///   15 it fails; 16 the certificate is refused; 17 a deferred body request is answered;
///   18 the application calls `quit`; 19 it calls `cancel`.
enum EngineHarness {
    /// Prints the session (operations, writes, actions, events) while it runs: for reading a
    /// finding with the plain replay tool (`engine -v FILE`).
    nonisolated(unsafe) static var tracing = false

    static func trace(_ text: @autoclosure () -> String) {
        if tracing { print(text()) }
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let configuration = (input.byte(), input.byte())
        var driver = Driver(configurationBytes: configuration, input: &input)
        driver.start()
        while !input.isAtEnd, !driver.peerClosed {
            driver.operation(&input)
        }
        driver.end()
    }

    static let heloName = "client.example"
    static let sender = "a@example.org"
    static let recipients = ["b@example.net", "c@example.net"]

    static let bodies: [[UInt8]] = [
        Array("From: a@example.org\r\nSubject: fuzz\r\n\r\n.hidden\n..\r\n.\r\nlone\rcr\nlf\r\n\r\n.\r\n\r.\r\n.\nend".utf8),
        Array("Subject: caf\u{E9}\r\n\r\n\u{E9}t\u{E9}\n.\r\n".utf8),
        Array("before\r\nnul\u{0}here\r\n".utf8),
        [],
    ]

    /// Replies a server commonly sends, so the fuzzer reaches deep states quickly.
    static let cannedReplies: [[UInt8]] = [
        "220 mx.example ESMTP ready\r\n",
        "250 ok\r\n",
        "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN XOAUTH2\r\n250 STARTTLS\r\n",
        "250-mx.example\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n",
        "250-mx.example\r\n250 STARTTLS\r\n",
        "250-mx.example\r\n250-CHUNKING\r\n250 SIZE 10\r\n",
        "354 go ahead\r\n",
        "220 2.0.0 ready to start TLS\r\n",
        "221 2.0.0 bye\r\n",
        "235 2.7.0 authenticated\r\n",
        "334 \r\n",
        "334 VXNlcm5hbWU6\r\n",
        "334 UGFzc3dvcmQ6\r\n",
        "421 4.3.2 shutting down\r\n",
        "452 4.5.3 too many recipients\r\n",
        "550 5.1.1 no such user\r\n",
        "552 5.5.3 too many recipients\r\n",
        "554 5.7.1 rejected\r\n",
        "535 5.7.8 bad credentials\r\n",
        "503 5.5.1 bad sequence\r\n",
        "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n",
        "250 2.0.0 queued\r\n221 bye\r\n",
        "502 5.5.2 no EHLO\r\n",
        "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n",
        "251 2.1.5 will forward\r\n",
        "451 4.3.0 try later\r\n",
        "250-mx.example\r\n250-PIPELINING\r\n250-DSN\r\n250-8BITMIME\r\n250 SIZE\r\n",
        "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n",
        "250 2.0.0 ok\r\n250 2.0.0 ok\r\n",
        "220 mx.example LMTP\r\n",
        "250-mx\r\n250 AUTH=LOGIN\r\n",
        "354 \r\n",
    ].map { Array($0.utf8) }

    struct Driver {
        var machine: SMTPMachine
        var observer: WireObserver
        let lmtp: Bool
        let marksLast: Bool
        let endsWithEOF: Bool
        let envelope: Envelope
        let body: [UInt8]
        let plan: [UInt8]
        var planIndex = 0
        var now = SMTPInstant(nanoseconds: 1_000_000_000)
        var messagesLeft: Int
        var buffer: [UInt8] = []

        var started: Set<TransactionID> = []
        var finished: Set<TransactionID> = []
        var cursor: [TransactionID: Int] = [:]
        var deferredBody: (id: TransactionID, fromStart: Bool)?
        var lastReadWasEmpty = false
        var tlsPending = false
        var peerClosed = false
        var closeSeen = false
        var quitWrites = 0
        var sessionFailedEvents = 0
        var sessionClosedEvents = 0
        var deliveryClaims = 0

        init(configurationBytes: (UInt8, UInt8), input: inout FuzzInput) {
            let (first, second) = configurationBytes
            let policies: [TLSPolicy] = [.opportunistic, .required, .implicit, .off]
            var timeouts = Timeouts()
            if second & 0x80 != 0 { timeouts = Timeouts(all: .seconds(10)) }
            var limits = Limits()
            if second & 0x40 != 0 {
                limits.reply = ReplyParser.Limits(maxLineLength: 80, maxLinesPerReply: 6, maxReplySize: 300)
                limits.maxAuthRounds = 2
            }
            let authentication: AuthenticationOptions?
            var authNames: [String]?
            switch (second >> 4) & 3 {
            case 1:
                authentication = .password(username: "user", password: "secret")
                authNames = ["PLAIN", "LOGIN"]
            case 2:
                authentication = .password(username: "user", password: "secret", allowWithoutTLS: true)
                authNames = ["PLAIN", "LOGIN"]
            case 3:
                authentication = AuthenticationOptions(mechanisms: [LoginMechanism(username: "user", password: "secret"),
                                                                    XOAuth2Mechanism(username: "user", token: "tok")],
                                                       allowWithoutTLS: true)
                authNames = ["LOGIN", "XOAUTH2"]
            default:
                authentication = nil
            }
            lmtp = first & 0x10 != 0
            let configuration = SMTPConfiguration(
                heloName: EngineHarness.heloName, tls: policies[Int(first & 3)], authentication: authentication,
                dialect: lmtp ? .lmtp : .smtp, usePipelining: first & 0x04 != 0, useChunking: first & 0x08 != 0,
                timeouts: timeouts, limits: limits, emitsTranscript: true)
            do { machine = try SMTPMachine(configuration: configuration) } catch { invariantFailure("\(error)") }

            body = EngineHarness.bodies[Int((second >> 2) & 3)]
            let recipients = EngineHarness.recipients
            switch second & 3 {
            case 0:
                envelope = Envelope(sender: EngineHarness.sender, recipients: recipients.map { Recipient($0) })
            case 1:
                envelope = Envelope(sender: EngineHarness.sender, recipients: recipients.map { Recipient($0) }, size: body.count)
            case 2:
                envelope = Envelope(sender: EngineHarness.sender,
                                    recipients: [Recipient(recipients[0], notify: .on(success: true, failure: true, delay: false),
                                                           originalRecipient: "b+x=y@example.net"),
                                                 Recipient(recipients[1], notify: .never)],
                                    bodyType: .eightBitMIME, size: body.count, dsnReturn: .headers, dsnEnvelopeID: "ID 1")
            default:
                envelope = Envelope(sender: EngineHarness.sender, recipients: recipients.map { Recipient($0) }, bodyType: .binaryMIME)
            }
            messagesLeft = first & 0x20 != 0 ? 2 : 1
            marksLast = first & 0x40 != 0
            endsWithEOF = first & 0x80 != 0
            plan = Array(input.bytes(Int(input.byte() % 8)))

            observer = WireObserver(setup: WireObserver.Setup(
                heloName: Array(EngineHarness.heloName.utf8), tls: configuration.tls, lmtp: lmtp,
                usePipelining: configuration.usePipelining, useChunking: configuration.useChunking,
                authMechanisms: authNames, authWithoutTLS: authentication?.allowWithoutTLS ?? false,
                maxAuthRounds: limits.maxAuthRounds, sender: Array(envelope.sender.utf8),
                recipients: envelope.recipients.map { Array($0.address.utf8) }, bodyType: envelope.bodyType,
                size: envelope.size, requestsDSN: second & 3 == 2, body: body, limits: limits.reply))
        }

        // MARK: Inputs

        mutating func start() {
            machine.connectionEstablished(at: now)
            drain()
        }

        mutating func operation(_ input: inout FuzzInput) {
            let code = input.byte() % 20
            EngineHarness.trace("op \(code) at \(now.nanoseconds / 1_000_000) ms")
            switch code {
            case 0...5:
                let bytes = input.bytes(Int(input.byte()))
                feed(bytes)
            case 6...9:
                let reply = EngineHarness.cannedReplies[Int(input.byte()) % EngineHarness.cannedReplies.count]
                feed(reply[...])
            case 10:
                endOfStream()
            case 11:
                advance(to: now + .seconds(3 * Int64(input.byte())))
            case 12:
                if let due = machine.nextDeadline { advance(to: due) }
            case 13:
                if let due = machine.nextDeadline, due.nanoseconds > now.nanoseconds {
                    advance(to: SMTPInstant(nanoseconds: due.nanoseconds - 1))
                }
            case 14, 15, 16:
                guard tlsPending, !machine.isClosed else { return }
                tlsPending = false
                now = now + .milliseconds(5)
                if code == 14 {
                    observer.handshakeFinished(success: true)
                    machine.tlsEstablished(at: now)
                } else {
                    observer.handshakeFinished(success: false)
                    machine.tlsFailed(code == 15 ? .handshake("no shared cipher") : .certificate("expired"), at: now)
                }
                drain()
                if code != 14 { invariant(machine.isClosed, "a failed handshake left the session open") }
            case 17:
                if let request = deferredBody {
                    deferredBody = nil
                    answerBody(request.id, fromStart: request.fromStart)
                    drain()
                }
            case 18:
                machine.quit(at: now)
                drain()
            default:
                machine.cancel(at: now)
                drain()
                invariant(machine.isClosed, "cancel left the session open")
            }
        }

        mutating func feed(_ bytes: ArraySlice<UInt8>) {
            guard !bytes.isEmpty else { return }
            now = now + .milliseconds(1)
            let wasClosed = machine.isClosed
            let duringHandshake = tlsPending
            EngineHarness.trace("S: \(show(bytes, limit: 400))")
            observer.serverSent(bytes)
            bytes.withUnsafeBytes { machine.received($0, at: now) }
            drain()
            if duringHandshake, !wasClosed {
                invariant(machine.isClosed, "bytes during the TLS handshake did not end the session")
            }
        }

        mutating func endOfStream() {
            peerClosed = true
            now = now + .milliseconds(1)
            machine.connectionClosed(at: now)
            drain()
            invariant(machine.isClosed, "EOF left the session open")
        }

        /// The clock moves to `instant` and the driver reports it, as it does when a wait ends.
        mutating func advance(to instant: SMTPInstant) {
            if instant > now { now = instant }
            let due = machine.nextDeadline.map { $0 <= now } ?? false
            let failure = machine.failure
            let closed = machine.isClosed
            let pending = machine.pendingOutputCount
            machine.deadlineReached(at: now)
            if due {
                invariant(machine.isClosed, "a due deadline left the session open")
            } else {
                invariant(machine.failure == failure && machine.isClosed == closed && machine.pendingOutputCount == pending,
                             "deadlineReached before the deadline changed something")
            }
            drain()
        }

        // MARK: Outputs

        mutating func drain() {
            var steps = 0
            while true {
                steps += 1
                invariant(steps < 100_000, "drain does not end")
                let action = machine.nextAction()
                switch action {
                case .write, .event(.transcript): break
                default: EngineHarness.trace("  action \(action)")
                }
                if closeSeen {
                    switch action {
                    case .event, .wait: break
                    default: invariantFailure("action \(action) after .close")
                    }
                }
                switch action {
                case .write:
                    machine.takeOutput(into: &buffer)
                    invariant(!buffer.isEmpty, ".write with nothing to write")
                    if machine.failure != nil {
                        invariant(buffer == Array(ascii: "QUIT\r\n"), "after a failure, wrote \(show(buffer))")
                        quitWrites += 1
                        invariant(quitWrites == 1, "QUIT written twice after a failure")
                    }
                    EngineHarness.trace("C: \(show(buffer, limit: 400))")
                    observer.clientWrote(buffer)
                    buffer.removeAll(keepingCapacity: true)
                case .startTLS:
                    invariant(!tlsPending, "TLS requested twice")
                    observer.handshakeRequested()
                    tlsPending = true
                    if peerClosed {
                        // The connection is gone: the handshake cannot succeed.
                        tlsPending = false
                        observer.handshakeFinished(success: false)
                        machine.tlsFailed(.handshake("connection closed"), at: now)
                    }
                case .readyForTransaction:
                    ready()
                case .sendBody(let id, let fromStart):
                    invariant(started.contains(id) && !finished.contains(id), "body requested for \(id), not in flight")
                    let entry = nextPlanEntry()
                    if entry != 0xFF, entry & 0x80 != 0 {
                        deferredBody = (id, fromStart)
                    } else {
                        answerBody(id, fromStart: fromStart, entry: entry)
                    }
                case .event(let event):
                    handle(event)
                case .close:
                    invariant(!closeSeen, ".close twice")
                    invariant(machine.isClosed, ".close while the engine is open")
                    closeSeen = true
                case .wait:
                    atWait()
                    return
                }
            }
        }

        private mutating func nextPlanEntry() -> UInt8 {
            guard !plan.isEmpty else { return 63 }
            defer { planIndex += 1 }
            return plan[planIndex % plan.count]
        }

        mutating func ready() {
            if messagesLeft > 0 {
                messagesLeft -= 1
                do {
                    let id = try machine.startTransaction(envelope, at: now)
                    invariant(!started.contains(id), "transaction id reused")
                    started.insert(id)
                    cursor[id] = 0
                    return
                } catch {
                    if case .misuse = error { invariantFailure("startTransaction after .readyForTransaction: \(error)") }
                    // A valid refusal (the server lacks an extension, SIZE too small): give up.
                    messagesLeft = 0
                }
            }
            machine.quit(at: now)
        }

        mutating func answerBody(_ id: TransactionID, fromStart: Bool, entry given: UInt8? = nil) {
            let entry = given ?? nextPlanEntry()
            if fromStart { cursor[id] = 0 }
            do {
                if entry == 0xFF {
                    machine.abortBody(for: id, because: "fuzz source failed", at: now)
                    return
                }
                // The source ends only when it is exhausted: then `finishBody`, or an empty last
                // chunk. A zero-length entry is an empty read.
                let position = cursor[id] ?? 0
                if position >= body.count {
                    if marksLast {
                        try machine.sendBody([UInt8](), for: id, last: true, at: now)
                    } else {
                        try machine.finishBody(for: id, at: now)
                    }
                    return
                }
                // Never two empty reads in a row: the source makes progress.
                var length = Int(entry & 0x3F)
                if length == 0, lastReadWasEmpty { length = 1 }
                lastReadWasEmpty = length == 0
                let end = min(body.count, position + length)
                cursor[id] = end
                try machine.sendBody(body[position..<end], for: id, last: marksLast && end == body.count, at: now)
            } catch {
                invariantFailure("a requested body chunk was refused: \(error)")
            }
        }

        mutating func handle(_ event: SMTPEvent) {
            switch event {
            case .transcript(let entry):
                observer.transcript(entry)
            case .recipient(let id, let index, _), .recipientDelivery(let id, let index, _):
                invariant(started.contains(id) && !finished.contains(id), "recipient event for \(id), not in flight")
                invariant(index >= 0 && index < envelope.recipients.count, "recipient index \(index)")
                if case .recipientDelivery(_, _, let reply) = event, reply.code.isPositiveCompletion { claimDelivery() }
            case .messageAccepted(let id, let reply):
                invariant(started.contains(id) && !finished.contains(id), "accepted event for \(id), not in flight")
                invariant(reply.code.isPositiveCompletion, "message accepted with \(reply.code)")
                claimDelivery()
            case .messageRejected(let id, let reply):
                invariant(started.contains(id) && !finished.contains(id), "rejected event for \(id), not in flight")
                invariant(reply.code.isNegative, "message rejected with \(reply.code)")
            case .transactionFinished(let id, let outcome):
                invariant(started.contains(id), "finished \(id), never started")
                invariant(!finished.contains(id), "finished \(id) twice")
                finished.insert(id)
                invariant(outcome.recipientCount == envelope.recipients.count, "outcome recipient count")
                invariant(outcome.deliveredCount >= 0 && outcome.deliveredCount <= outcome.recipientCount, "outcome delivered count")
                switch outcome.status {
                case .delivered:
                    invariant(outcome.deliveredCount == outcome.recipientCount && outcome.failure == nil, "delivered outcome")
                case .partiallyDelivered:
                    invariant(outcome.deliveredCount > 0 && outcome.deliveredCount < outcome.recipientCount, "partial outcome")
                case .notDelivered, .unknown:
                    invariant(outcome.failure != nil, "undelivered outcome without a reason")
                }
            case .sessionFailed(let error):
                sessionFailedEvents += 1
                invariant(sessionFailedEvents == 1, "sessionFailed twice")
                invariant(sessionClosedEvents == 0, "sessionFailed after sessionClosed")
                invariant(machine.failure == error, "sessionFailed(\(error)) but failure is \(String(describing: machine.failure))")
                observer.sessionFailed()
            case .sessionClosed:
                sessionClosedEvents += 1
                invariant(sessionClosedEvents == 1 && sessionFailedEvents == 0, "sessionClosed twice or after a failure")
                invariant(machine.failure == nil, "sessionClosed with a failure")
            case .greeting, .capabilities, .negotiatingTLS, .continuingWithoutTLS, .tlsEstablished, .authenticated,
                 .sessionReady:
                break
            }
        }

        /// Checked once the drain is over (`checkDeliveryClaims`): the engine may take a reply
        /// from its buffer before the driver has written the command it answers.
        private mutating func claimDelivery() {
            deliveryClaims += 1
        }

        /// Every delivery the engine reported has, on the wire, an end of data the server
        /// answered positively.
        func checkDeliveryClaims() {
            invariant(deliveryClaims <= observer.positiveFinalReplies,
                         "\(deliveryClaims) deliveries claimed, \(observer.positiveFinalReplies) positive replies to an end of data on the wire")
        }

        /// The engine waits for an input: check that it is entitled to.
        mutating func atWait() {
            checkDeliveryClaims()
            if machine.isClosed {
                invariant(machine.nextDeadline == nil, "a closed session with a deadline")
                return
            }
            invariant(machine.nextDeadline != nil, "the engine waits, open, with no deadline")
            invariant(observer.unassignedCount == 0, "a complete reply is unprocessed while the session is open")
            invariant(!observer.parserFailed, "malformed server bytes did not end the session")
            invariant(observer.unwrittenCommandCount == 0, "a command in the transcript never reached the wire")
            if observer.unansweredCount == 0 {
                // Nothing owed by the server: the engine may wait for the application's body, a
                // handshake, or for unsolicited bytes to complete (then it fails), nothing else.
                let phase = machine.nextDeadlinePhase
                invariant(phase == .dataBlock || phase == .tlsHandshake || (phase == .unsolicitedReply && observer.partialReplyBytes > 0),
                             "every command is answered, yet the engine waits for \(String(describing: phase))")
            }
        }

        /// The input is over: the server goes away (EOF) or falls silent, and the session must end.
        mutating func end() {
            if !peerClosed {
                if endsWithEOF {
                    endOfStream()
                } else {
                    var rounds = 0
                    while !machine.isClosed {
                        rounds += 1
                        invariant(rounds < 8, "the session does not end in silence")
                        guard let due = machine.nextDeadline else { invariantFailure("open session with no deadline") }
                        advance(to: due)
                    }
                }
            }
            invariant(machine.isClosed && closeSeen, "the session did not close")
            invariant(machine.nextDeadline == nil, "a closed session with a deadline")
            invariant(finished == started, "transactions never finished: \(started.subtracting(finished))")
            invariant((sessionFailedEvents == 1) == (machine.failure != nil), "sessionFailed and failure disagree")
            invariant(sessionFailedEvents + sessionClosedEvents == 1, "the session ended without sessionClosed or sessionFailed")
            observer.finish()

            // A closed engine ignores everything.
            machine.received(Array(ascii: "250 late\r\n"), at: now)
            machine.deadlineReached(at: now + .seconds(3600))
            machine.tlsEstablished(at: now)
            machine.connectionClosed(at: now)
            machine.quit(at: now)
            var steps = 0
            while true {
                steps += 1
                invariant(steps < 100, "a closed engine keeps acting")
                let action = machine.nextAction()
                if case .wait = action { break }
                guard case .event = action else { invariantFailure("a closed engine asked for \(action)") }
            }
        }
    }
}
