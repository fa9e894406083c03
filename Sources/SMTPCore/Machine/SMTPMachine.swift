/// The SMTP client protocol engine: a pure state machine with no I/O, no clock and no threads.
///
/// # Theory of operation
///
/// The engine consumes what happened (bytes from the server, a finished TLS handshake, time
/// passing, the connection closing, commands from the application) and produces what to do
/// (bytes to write, "start TLS now", "close", "give me the next chunk of the body") and what it
/// learned (events). A driver owns the socket, the TLS library and the clock, and runs this loop:
///
/// 1. Create the machine, open the connection, call `connectionEstablished(at:)`.
/// 2. Drain: call `nextAction()` repeatedly and act on each result until it returns `.wait`:
///    - `.write`: call `takeOutput(into:)` and write every byte it gives, in order, before acting
///      on any later action.
///    - `.startTLS`: run the TLS handshake on this connection; report `tlsEstablished(at:)` or
///      `tlsFailed(_:at:)`. No plaintext byte is left unread: the engine checked.
///    - `.readyForTransaction`: call `startTransaction(_:at:)` with the next message, or `quit(at:)`
///      when there is none. The caller may also do this later, whenever `canStartTransaction` is true.
///    - `.sendBody(id, fromStart:)`: call `sendBody(_:for:at:)` with the next chunk of that
///      message's content, or `finishBody(for:at:)` at its end (rewind first when `fromStart`).
///      One chunk per request: this is the backpressure. The engine asks again only after its
///      output reached the driver, so a 1 GiB body never sits in memory.
///    - `.event`: inform the application.
///    - `.close`: close the connection; the session is over.
/// 3. Wait for the next input: bytes (`received(_:at:)`), end of stream or reset
///    (`connectionClosed(at:)`), or the deadline `nextDeadline` passing (`deadlineReached(at:)`).
///    After every input, drain again (step 2).
///
/// Every input takes the current instant; the engine keeps no clock of its own. Inputs after
/// `.close` are ignored.
///
/// # Guarantees
///
/// - Replies are matched to commands in order; PIPELINING groups MAIL, every RCPT and DATA into
///   one write when offered; a reply nobody asked for, or a reply code that makes no sense for its
///   command, ends the session with a typed `SMTPProtocolViolation`.
/// - Server bytes are parsed within configured limits; nothing grows without bound.
/// - After a fatal error only QUIT may still be sent, and only while the protocol is in step.
/// - Message content is normalized and dot-stuffed (or BDAT-framed) so that it cannot end the
///   data early, and credentials never go out without TLS unless the caller allowed it.
///
/// A 550 is not an error: per-recipient and per-message results are events. Errors are for the
/// session: they are sticky, and `failure` keeps the first one.
public struct SMTPMachine: Sendable {
    enum State: Sendable {
        case idle
        case tlsHandshake(implicit: Bool, since: SMTPInstant)
        case greeting
        case hello(HelloCommand)
        case startTLS
        case authenticating(AuthExchange)
        case ready
        case quitting
        case closed
    }

    enum HelloCommand: Sendable {
        case ehlo, lhlo, helo
    }

    struct AuthExchange: Sendable {
        var mechanism: any SASLMechanism
        var rounds = 0
        var cancelled: AuthAbortReason?
    }

    /// What each command in flight waits for, oldest first.
    enum Expectation: Sendable, Equatable {
        case greeting, hello, startTLS, auth
        case mail(TransactionID)
        case recipient(TransactionID, index: Int)
        case data(TransactionID)
        case chunk(TransactionID, last: Bool)
        case dataEnd(TransactionID)
        case reset, quit

        /// The transaction whose command waits for this reply.
        var transaction: TransactionID? {
            switch self {
            case .mail(let id), .recipient(let id, _), .data(let id), .chunk(let id, _), .dataEnd(let id): id
            case .greeting, .hello, .startTLS, .auth, .reset, .quit: nil
            }
        }
    }

    /// The configuration the engine was created with.
    public let configuration: SMTPConfiguration

    var state: State = .idle
    var parser: ReplyParser
    /// What the server offers, as of the latest EHLO (reset by STARTTLS).
    public internal(set) var capabilities: Capabilities = .basic
    /// Whether TLS is up on the connection (after `tlsEstablished(at:)`).
    public internal(set) var isTLSActive = false
    /// Whether AUTH succeeded in this session.
    public internal(set) var isAuthenticated = false
    /// The error that ended the session, if one did.
    public internal(set) var failure: SMTPError?

    var now: SMTPInstant = .zero
    var expected = FIFO<Expectation>()
    /// When the oldest expectation became the oldest (its timeout runs from here).
    var headSince: SMTPInstant = .zero
    var actions = FIFO<SMTPAction>()
    var output: [UInt8] = []
    /// How many times the driver took the output (`takeOutput`): bytes written while it holds
    /// its value have not reached the driver yet.
    var outputHandovers: UInt64 = 0
    /// BDAT chunk assembly, reused.
    var scratch: [UInt8] = []
    /// Transactions in flight, oldest first: at most one finishing and one being sent.
    var transactions: [Transaction] = []
    var nextTransactionNumber: UInt64 = 1
    var readyAnnounced = false
    var quitRequested = false
    var bodyRequested = false
    var lastBodyActivity: SMTPInstant = .zero
    /// The transport ended (processed once the replies received before it are handled).
    var peerClosure: TransportFailure?
    var peerCloseHandled = false
    /// When the oldest server bytes not yet parsed arrived: a reply begun between transactions
    /// times out from here, however slowly the rest trickles in.
    var unparsedSince: SMTPInstant = .zero
    /// A command was queued with nothing else in flight and the driver has not taken it yet:
    /// whatever arrives meanwhile was sent before the server could have seen it.
    var commandAwaitingHandover = false
    /// Stream offset before which any reply was sent ahead of the command it would answer:
    /// what the server had sent when a command went out with nothing else in flight.
    var answeredAheadBefore = 0

    /// Checks the configuration (the EHLO name above all) and creates an idle engine.
    public init(configuration: SMTPConfiguration) throws(SMTPError) {
        guard AddressSyntax.isValidHeloName(configuration.heloName) else {
            throw .invalidHeloName(configuration.heloName)
        }
        self.configuration = configuration
        self.parser = ReplyParser(limits: configuration.limits.reply)
        transactions.reserveCapacity(2)
    }

    // MARK: - Inputs from the driver

    /// The TCP connection is up. In implicit-TLS mode the engine asks for a handshake first.
    public mutating func connectionEstablished(at now: SMTPInstant) {
        self.now = now
        beginSession()
    }

    /// Bytes from the server (already decrypted when TLS is on), in any chunking.
    public mutating func received(_ bytes: UnsafeRawBufferPointer, at now: SMTPInstant) {
        self.now = now
        guard acceptsServerBytes() else { return }
        if parser.bufferedByteCount == 0 { unparsedSince = now }
        parser.append(bytes)
        if commandAwaitingHandover { answeredAheadBefore = parser.receivedByteCount }
    }

    /// Bytes from the server, from any collection (convenient in tests).
    public mutating func received(_ bytes: some Sequence<UInt8>, at now: SMTPInstant) {
        self.now = now
        guard acceptsServerBytes() else { return }
        if parser.bufferedByteCount == 0 { unparsedSince = now }
        parser.append(contentsOf: bytes)
        if commandAwaitingHandover { answeredAheadBefore = parser.receivedByteCount }
    }

    private mutating func acceptsServerBytes() -> Bool {
        switch state {
        case .closed:
            return false
        case .idle:
            fail(.misuse("bytes received before connectionEstablished"), quit: false)
            return false
        case .tlsHandshake(let implicit, _):
            // Plaintext after the 220 to STARTTLS, in a later read than the 220 itself.
            fail(.protocolViolation(implicit ? .bytesDuringTLSHandshake : .bytesAfterSTARTTLS), quit: false)
            return false
        case .greeting, .hello, .startTLS, .authenticating, .ready, .quitting:
            return true
        }
    }

    /// The TLS handshake the engine asked for succeeded (certificate verified, as configured).
    public mutating func tlsEstablished(at now: SMTPInstant) {
        self.now = now
        handshakeSucceeded()
    }

    /// The TLS handshake failed, or its certificate was not accepted. Never a plaintext fallback.
    public mutating func tlsFailed(_ tlsFailure: TLSFailure, at now: SMTPInstant) {
        self.now = now
        switch tlsFailure {
        case .handshake(let why): fail(.tlsHandshakeFailed(why), quit: false)
        case .certificate(let why): fail(.certificateRejected(why), quit: false)
        }
    }

    /// The server closed the connection (end of stream). Replies already received are still
    /// processed first.
    public mutating func connectionClosed(at now: SMTPInstant) {
        transportFailed(.closedByPeer, at: now)
    }

    /// The connection could not be made, or failed (reset, a read or write error, a TLS record
    /// error). Before `connectionEstablished` it is a connect failure. Replies already received
    /// are still processed first.
    public mutating func transportFailed(_ transportFailure: TransportFailure, at now: SMTPInstant) {
        self.now = now
        switch state {
        case .closed:
            return
        case .idle:
            fail(transportFailure == .closedByPeer ? .connectionClosed(.connect) : .transportFailed(transportFailure, .connect),
                 quit: false)
        case .tlsHandshake:
            fail(transportFailure == .closedByPeer ? .connectionClosed(.tlsHandshake)
                 : .transportFailed(transportFailure, .tlsHandshake), quit: false)
        case .greeting, .hello, .startTLS, .authenticating, .ready, .quitting:
            if peerClosure == nil { peerClosure = transportFailure }
        }
    }

    /// Time has passed. A no-op unless `nextDeadline` is due.
    public mutating func deadlineReached(at now: SMTPInstant) {
        self.now = now
        guard let due = deadline, now >= due.at else { return }
        if case .quitting = state, expected.first == .quit {
            finishQuit()
        } else {
            fail(.timeout(due.phase), quit: false)
        }
    }

    // MARK: - Commands from the application

    /// True when a new transaction may start now.
    public var canStartTransaction: Bool { !quitRequested && canSendNewGroup }

    /// Starts a transaction: validates the envelope against the syntax rules and the server's
    /// extensions, then queues MAIL and RCPT (and DATA). Throws, having sent nothing, when the
    /// envelope is invalid or needs an extension the server lacks; the session stays usable.
    public mutating func startTransaction(_ envelope: Envelope, at now: SMTPInstant) throws(SMTPError) -> TransactionID {
        self.now = now
        guard canStartTransaction else {
            throw .misuse("startTransaction when no transaction can start")
        }
        let needsSMTPUTF8 = try validate(envelope)
        let id = TransactionID(rawValue: nextTransactionNumber)
        nextTransactionNumber += 1
        let chunking = envelope.bodyType == .binaryMIME
            || (configuration.useChunking && capabilities.contains(.chunking))
        transactions.append(Transaction(id: id, envelope: envelope, usesChunking: chunking,
                                        needsSMTPUTF8: needsSMTPUTF8, lmtp: configuration.dialect == .lmtp))
        readyAnnounced = false
        pump()
        return id
    }

    /// The next chunk of message content, answering `.sendBody`. Pass `last: true` with the final
    /// chunk when it is known to be final (a file's last read): with BDAT it then travels as one
    /// `BDAT n LAST` instead of a chunk and an empty `BDAT 0 LAST`. Chunks for a transaction that
    /// has already ended (refused meanwhile) are dropped.
    public mutating func sendBody(_ chunk: UnsafeRawBufferPointer, for id: TransactionID, last: Bool = false,
                                  at now: SMTPInstant) throws(SMTPError) {
        self.now = now
        guard let index = bodyTransactionIndex(id) else { return }
        guard bodyRequested else { throw .misuse("sendBody without a .sendBody request") }
        bodyRequested = false
        lastBodyActivity = now
        encodeBody(chunk.bindMemory(to: UInt8.self), transaction: index, last: last)
    }

    /// Convenience for tests and small bodies.
    public mutating func sendBody(_ chunk: some Collection<UInt8>, for id: TransactionID, last: Bool = false,
                                  at now: SMTPInstant) throws(SMTPError) {
        let bytes = Array(chunk)
        var thrown: SMTPError?
        bytes.withUnsafeBytes { raw in
            do throws(SMTPError) { try sendBody(raw, for: id, last: last, at: now) } catch { thrown = error }
        }
        if let thrown { throw thrown }
    }

    /// The end of the message content, answering `.sendBody`.
    public mutating func finishBody(for id: TransactionID, at now: SMTPInstant) throws(SMTPError) {
        self.now = now
        guard let index = bodyTransactionIndex(id) else { return }
        guard bodyRequested else { throw .misuse("finishBody without a .sendBody request") }
        bodyRequested = false
        lastBodyActivity = now
        encodeBody(UnsafeBufferPointer(start: nil, count: 0), transaction: index, last: true)
    }

    /// The caller cannot produce the rest of the content (its source failed). With BDAT the
    /// transaction is reset; with DATA, which cannot be aborted, the connection is dropped so the
    /// server discards the partial message.
    public mutating func abortBody(for id: TransactionID, because reason: String, at now: SMTPInstant) {
        self.now = now
        guard let index = bodyTransactionIndex(id) else { return }
        bodyFailed(.sourceFailed(reason), transaction: index)
    }

    /// Ends the session with QUIT once the transactions in flight are done (pipelined behind the
    /// last one when the server allows). Called before the session is ready, it takes effect then.
    public mutating func quit(at now: SMTPInstant) {
        self.now = now
        quitRequested = true
        pump()
    }

    /// Abandons the session at once: no QUIT, `.close` follows.
    public mutating func cancel(at now: SMTPInstant) {
        self.now = now
        if failure != nil, !isClosed {
            // Already failed and waiting for the reply to its QUIT: stop waiting (the first
            // error stays the failure).
            closeConnection()
            return
        }
        fail(.cancelled, quit: false)
    }

    // MARK: - Outputs

    /// The next thing to do; `.wait` when the engine needs an input. Server replies are parsed
    /// lazily here, one at a time, so one read holding many pipelined replies is handled in order,
    /// and never while output is pending.
    public mutating func nextAction() -> SMTPAction {
        while true {
            if let action = actions.popFirst() {
                if case .write = action, output.isEmpty { continue }
                return action
            }
            // Pending output goes out before the next reply is read, so a reply is only ever
            // matched to a command the server was sent: a server answering ahead cannot make
            // the engine act on (and report) exchanges a later failure keeps off the wire.
            if !output.isEmpty, !isClosed { return .write }
            if processInput() { continue }
            return .wait
        }
    }

    /// Hands the pending output to the driver. Passing an empty buffer swaps storage instead of
    /// copying, so a driver that clears its buffer after each write never makes the engine allocate.
    public mutating func takeOutput(into buffer: inout [UInt8]) {
        commandAwaitingHandover = false
        outputHandovers &+= 1
        if buffer.isEmpty {
            swap(&buffer, &output)
        } else {
            buffer.append(contentsOf: output)
            output.removeAll(keepingCapacity: true)
        }
    }

    /// Bytes waiting in the engine's output buffer.
    public var pendingOutputCount: Int { output.count }

    /// When the engine next needs `deadlineReached(at:)`; nil when nothing is timed.
    public var nextDeadline: SMTPInstant? { deadline?.at }

    /// The phase whose timeout `nextDeadline` belongs to.
    public var nextDeadlinePhase: SMTPPhase? { deadline?.phase }

    /// True once `.close` was issued.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }
}
