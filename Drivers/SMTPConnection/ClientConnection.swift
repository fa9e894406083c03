import SMTPCore
import SMTPTLS

/// What an observer may want to know beside the event itself.
public struct ConnectionInfo: Sendable {
    /// "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up, with " (resumed)" after it when the
    /// handshake resumed a kept session.
    public var tls: String?
}

/// Sees every session event of a connection (on the driver's thread).
public typealias SessionObserver = (SMTPEvent, ConnectionInfo) -> Void

/// One SMTP connection without sockets: the engine, the TLS session it may ask for, the readers
/// of the messages in flight, and their completions. It moves bytes between the driver and the
/// engine (through TLS when it is on) and hands each message the outcome the engine decided.
/// It makes no protocol decision and does no network I/O.
///
/// # Driver contract
///
/// 1. `start(at:)` once the TCP connection is up, or `connectFailed(_:at:)` when it could not
///    be made (every queued message then completes with that failure).
/// 2. After every input, write what `takeNetworkOutput(into:)` gives (when `hasNetworkOutput`),
///    then call `outputDrained(at:)` once it is written.
/// 3. Feed what the socket gives: `received(_:at:)`, `connectionClosed(at:)` at end of stream,
///    `transportFailed(_:at:)` for a reset or an I/O error; call `timePassed(at:)` when
///    `deadline` passes.
/// 4. Close the socket once `isFinished` and the last output is written.
///
/// Every completion runs on the driver's thread, inside one of these calls, exactly once per
/// message given to the connection.
public final class ClientConnection {
    /// How the connection treats an empty message queue.
    public enum IdlePolicy: Sendable {
        /// QUIT as soon as no message is waiting (one-shot and batch sending).
        case quitWhenIdle
        /// Stay connected until `quit()` (the session API).
        case stayConnected
    }

    /// Receives a message's outcome, once, on the driver's thread.
    public typealias Completion = (MessageOutcome) -> Void
    /// Gives the next message and its completion when the engine can start one; nil when none waits.
    public typealias MessageSupplier = () -> (OutgoingMessage, Completion)?

    private var machine: SMTPMachine
    private let tlsContext: TLSClientContext?
    private let tlsHost: String
    private let tlsPort: UInt16
    private let idlePolicy: IdlePolicy
    private let outputHighWater: Int
    /// `quit()` was called: QUIT follows once the last queued message has started.
    private var quitWhenQueueEmpty = false
    private var queue: [Queued] = []
    private var nextTicket: UInt64 = 1
    private var supplier: MessageSupplier?
    /// `supply(from:limit:quitWhenDry:at:)`: QUIT once the supplier has no more or its limit is taken.
    private var quitWhenSupplierDry = false
    private var supplyLimit: Int?
    /// Messages taken from `supplier` so far.
    private var supplied = 0
    /// Session events (greeting, capabilities, TLS, transcript lines, failure), for observers.
    public var onEvent: SessionObserver?

    private var tls: TLSSession?
    private var tlsHandshaking = false
    private var plaintext: [UInt8] = []
    private var inbound: [UInt8] = []
    private var networkOut: [UInt8] = []
    /// Message content is read straight into this buffer and encoded from it.
    private let bodyBuffer: UnsafeMutableRawBufferPointer
    private var deferredBody: (TransactionID, Bool)?
    /// The driver took output and has not reported it written (`outputDrained`).
    private var driverHoldsOutput = false
    private var inFlight: [TransactionID: InFlight] = [:]
    private var closeRequested = false
    private var now: SMTPInstant = .zero

    private struct Queued {
        var message: OutgoingMessage
        var completion: Completion
        var ticket: MessageTicket
    }

    private struct InFlight {
        var message: OutgoingMessage
        var completion: Completion
        var ticket: MessageTicket
        /// This round's pass over the content.
        var reader: (any MessageReader)?
    }

    /// `tlsPort`: the port connected to (with `tlsHost`, the peer TLS sessions are resumed with).
    /// `chunkSize`: octets read from a message's content per chunk. Output waiting for the
    /// driver is bounded by the engine's `limits.outputHighWater`, the one backpressure limit.
    /// `supplyLimit`: the most messages taken from `supplier`; with `.quitWhenIdle`, QUIT follows
    /// the last of them at once, pipelined behind its final command where the server allows,
    /// rather than a round trip after its reply.
    public init(configuration: SMTPConfiguration, tlsContext: TLSClientContext?, tlsHost: String, tlsPort: UInt16 = 0,
                chunkSize: Int = 64 * 1024, idlePolicy: IdlePolicy, supplier: MessageSupplier? = nil,
                supplyLimit: Int? = nil) throws(SMTPError) {
        self.supplyLimit = supplyLimit.map { max(1, $0) }
        machine = try SMTPMachine(configuration: configuration)
        self.tlsContext = tlsContext
        self.tlsHost = tlsHost
        self.tlsPort = tlsPort
        self.idlePolicy = idlePolicy
        outputHighWater = configuration.limits.outputHighWater
        self.supplier = supplier
        bodyBuffer = .allocate(byteCount: max(1024, chunkSize), alignment: 16)
    }

    deinit {
        bodyBuffer.deallocate()
    }

    // MARK: State for the driver

    /// The session is over and its last bytes are out of the engine: write what
    /// `takeNetworkOutput` gives, then close the socket.
    public var isFinished: Bool { closeRequested }
    /// When to call `timePassed(at:)` if nothing arrives first; nil when nothing is timed.
    public var deadline: SMTPInstant? { peek { $0.nextDeadline } }
    /// Whether bytes wait for `takeNetworkOutput(into:)`.
    public var hasNetworkOutput: Bool { !networkOut.isEmpty }
    /// The error that ended the session, if one did.
    public var failure: SMTPError? { machine.failure }
    /// What the server offers, from its last EHLO reply (after TLS, when TLS is on).
    public var capabilities: Capabilities { machine.capabilities }
    /// Whether the session runs over TLS now.
    public var isTLSActive: Bool { machine.isTLSActive }
    /// Ready for another message now (the session API waits for this).
    public var isIdle: Bool { peek { $0.canStartTransaction } && queue.isEmpty && inFlight.isEmpty }
    /// The TLS protocol version and cipher ("TLSv1.3 TLS_AES_256_GCM_SHA384") once the handshake is done; nil before, or without TLS.
    public var tlsDescription: String? {
        guard let tls, tls.isHandshakeComplete else { return nil }
        return "\(tls.protocolVersion) \(tls.cipher)" + (tls.isResumed ? " (resumed)" : "")
    }

    /// Hands over the bytes to write to the socket (swapping buffers when `buffer` is empty).
    public func takeNetworkOutput(into buffer: inout [UInt8]) {
        if !networkOut.isEmpty { driverHoldsOutput = true }
        if buffer.isEmpty { swap(&buffer, &networkOut) } else {
            buffer.append(contentsOf: networkOut)
            networkOut.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Inputs

    /// The TCP connection is up.
    public func start(at now: SMTPInstant) {
        self.now = now
        machine.connectionEstablished(at: now)
        process()
    }

    /// The connection could not be made (resolution, every address refused or timed out).
    public func connectFailed(_ failure: TransportFailure, at now: SMTPInstant) {
        self.now = now
        machine.transportFailed(failure, at: now)
        process()
        // A supplier's messages were never taken: nothing to complete for them.
    }

    /// From now on, takes the next message from `supplier` whenever the engine can start one, as
    /// a supplier given to `init` is used (nil: take no more), at most `limit` of them. With
    /// `quitWhenDry`, the session QUITs once the supplier has none or `limit` are taken, pipelined
    /// behind the last message where the server allows. The socket session's batch sends so: a
    /// message is taken only when it can start, as in the event-loop drivers' sessions, never
    /// held by a session that dies before starting it. Messages queued with `enqueue` go first.
    public func supply(from supplier: MessageSupplier?, limit: Int? = nil, quitWhenDry: Bool = false, at now: SMTPInstant) {
        self.now = now
        self.supplier = supplier
        supplyLimit = limit.map { max(1, $0) }
        supplied = 0
        quitWhenSupplierDry = quitWhenDry && supplier != nil
        guard supplier != nil, !closeRequested else { return }
        startMessages()
        process()
    }

    /// Queues a message (the session API); it starts as soon as the engine allows. The ticket
    /// names it for `cancelMessage`.
    @discardableResult
    public func enqueue(_ message: OutgoingMessage, completion: @escaping Completion, at now: SMTPInstant) -> MessageTicket {
        self.now = now
        let ticket = makeTicket()
        guard !closeRequested else {
            completion(.notAttempted(message.envelope, because: .sessionEnded(machine.failure ?? .connectionClosed(.idle))))
            return ticket
        }
        queue.append(Queued(message: message, completion: completion, ticket: ticket))
        startMessages()
        process()
        return ticket
    }

    /// Withdraws one message: its caller's task was cancelled, its deadline passed, or its client
    /// shut down. Its completion runs before this returns, with failure `.cancelled(reason)`, and
    /// its content is not read again. Still queued, it completes `.notAttempted` (safe to send again) and
    /// the others move up; in flight, the engine decides what the wire needs
    /// (`SMTPMachine.cancelTransaction`): the session goes on after it, unless its DATA had
    /// gone out (then the connection is dropped, and the messages queued behind it end as they do
    /// when a connection is lost). A message already completed: a no-op.
    public func cancelMessage(_ ticket: MessageTicket, because reason: CancelReason, at now: SMTPInstant) {
        self.now = now
        if let position = queue.firstIndex(where: { $0.ticket == ticket }) {
            let withdrawn = queue.remove(at: position)
            withdrawn.completion(.notAttempted(withdrawn.message.envelope, because: .cancelled(reason)))
            if queue.isEmpty, quitWhenQueueEmpty { machine.quit(at: now) }
            process()
            return
        }
        guard let id = inFlight.first(where: { $0.value.ticket == ticket })?.key else { return }
        if let (deferred, _) = deferredBody, deferred == id { deferredBody = nil }
        inFlight[id]?.reader = nil
        machine.cancelTransaction(id, because: reason, at: now)
        process()
    }

    /// Resets the session before the next message, as a pool does with a connection that sat
    /// idle: RSET goes out when the session is ready with nothing in flight, and is ignored
    /// otherwise (`SMTPMachine.resetBeforeNextTransaction`). Call it before the `enqueue`.
    public func resetBeforeNextMessage(at now: SMTPInstant) {
        self.now = now
        machine.resetBeforeNextTransaction(at: now)
        process()
    }

    private func makeTicket() -> MessageTicket {
        defer { nextTicket += 1 }
        return MessageTicket(rawValue: nextTicket)
    }

    /// Ends the session with QUIT once the messages queued and in flight are done. QUIT is
    /// pipelined behind the last message's final command where the server allows, so calling
    /// this right after the last `enqueue` saves a round trip; every reply is still read.
    public func quit(at now: SMTPInstant) {
        self.now = now
        quitWhenQueueEmpty = true
        if queue.isEmpty { machine.quit(at: now) }
        process()
    }

    /// Abandons the session at once (no QUIT); messages in flight and queued end as cancelled.
    public func cancel(at now: SMTPInstant) {
        self.now = now
        machine.cancel(at: now)
        process()
    }

    /// Bytes from the socket.
    public func received(_ bytes: UnsafeRawBufferPointer, at now: SMTPInstant) {
        self.now = now
        guard !closeRequested else { return }
        if let tls {
            tls.feedNetwork(bytes)
            if tlsHandshaking { continueHandshake() } else { decrypt(tls) }
        } else {
            machine.received(bytes, at: now)
        }
        process()
    }

    /// End of stream.
    public func connectionClosed(at now: SMTPInstant) {
        transportFailed(.closedByPeer, at: now)
    }

    /// The socket failed (reset, a read or write error). A close during the TLS handshake is
    /// the engine's to judge like any other.
    public func transportFailed(_ failure: TransportFailure, at now: SMTPInstant) {
        self.now = now
        guard !closeRequested else { return }
        tlsHandshaking = false
        machine.transportFailed(failure, at: now)
        process()
    }

    /// Time passed (the deadline, or any wake-up).
    public func timePassed(at now: SMTPInstant) {
        self.now = now
        machine.deadlineReached(at: now)
        process()
    }

    /// The driver wrote out everything it took (libuv: a write completed). Content held back for
    /// backpressure goes on only after this call, so call it once each write is done.
    public func outputDrained(at now: SMTPInstant) {
        self.now = now
        driverHoldsOutput = false
        process()
    }

    // MARK: TLS

    private func beginTLS() {
        guard let tlsContext else {
            machine.tlsFailed(.handshake("TLS is not configured"), at: now)
            return
        }
        do {
            tls = try TLSSession(context: tlsContext, host: tlsHost, port: tlsPort)
        } catch {
            machine.tlsFailed(.handshake(error.message), at: now)
            return
        }
        tlsHandshaking = true
        continueHandshake()
    }

    private func continueHandshake() {
        guard let tls else { return }
        let status = tls.advanceHandshake()
        tls.drainNetwork(into: &networkOut)
        switch status {
        case .needsMoreInput:
            return
        case .failed(let failure):
            tlsHandshaking = false
            // Nothing more goes out on this connection, not even an alert we did not flush.
            networkOut.removeAll(keepingCapacity: true)
            machine.tlsFailed(failure, at: now)
        case .done:
            tlsHandshaking = false
            machine.tlsEstablished(at: now)
            // Application data that came with the last handshake flight reaches the engine
            // before its EHLO is written: the engine knows it cannot be the EHLO's reply.
            decrypt(tls)
        }
    }

    private func decrypt(_ tls: TLSSession) {
        inbound.removeAll(keepingCapacity: true)
        let status = tls.readPlaintext(into: &inbound)
        if !inbound.isEmpty {
            inbound.withUnsafeBytes { machine.received($0, at: now) }
        }
        switch status {
        case .ok: break
        case .closed: machine.connectionClosed(at: now)
        case .failed(let error): machine.transportFailed(.tls(code: error.code, reason: error.reason), at: now)
        }
    }

    // MARK: The action loop

    private func process() {
        while !closeRequested {
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &plaintext)
                if let tls, !tlsHandshaking {
                    var failure: TransportFailure?
                    plaintext.withUnsafeBytes { raw in
                        do throws(TLSRecordError) { try tls.writePlaintext(raw) } catch {
                            failure = .tls(code: error.code, reason: error.reason)
                        }
                    }
                    if let failure { machine.transportFailed(failure, at: now) }
                    tls.drainNetwork(into: &networkOut)
                } else {
                    networkOut.append(contentsOf: plaintext)
                }
                plaintext.removeAll(keepingCapacity: true)
            case .startTLS:
                beginTLS()
            case .readyForTransaction:
                startMessages()
                // Nothing more to send: QUIT now (pipelined behind the last message when allowed).
                if queue.isEmpty, quitWhenQueueEmpty || peek({ $0.canStartTransaction }) && idlePolicy == .quitWhenIdle {
                    machine.quit(at: now)
                }
            case .sendBody(let id, let fromStart):
                if networkOut.count >= outputHighWater {
                    deferredBody = (id, fromStart)
                    return
                }
                feedBody(id, fromStart: fromStart)
            case .event(let event):
                if case .transactionFinished(let id, let outcome) = event, let entry = inFlight.removeValue(forKey: id) {
                    entry.completion(outcome)
                }
                onEvent?(event, ConnectionInfo(tls: tlsDescription))
            case .close:
                closeRequested = true
                if let tls, !tlsHandshaking, machine.isTLSActive {
                    tls.shutdown()
                    tls.drainNetwork(into: &networkOut)
                }
                failQueued()
            case .wait:
                // Deferred content goes on once the driver has written what it took: not on a
                // tick of the clock while a write is stuck, which would count as activity and
                // push the data-block deadline on.
                if let (id, fromStart) = deferredBody, !driverHoldsOutput, networkOut.count < outputHighWater {
                    deferredBody = nil
                    feedBody(id, fromStart: fromStart)
                    continue
                }
                return
            }
        }
    }

    /// Starts queued (or supplied) messages while the engine takes them.
    /// Reads the engine through exclusive access. A plain `machine.x` on this class's stored
    /// struct copies the whole engine for the call (a retain and release of every buffer it
    /// holds), since the compiler cannot prove the call leaves the property alone.
    @inline(__always)
    private func peek<Value>(_ read: (inout SMTPMachine) -> Value) -> Value {
        read(&machine)
    }

    private func startMessages() {
        while peek({ $0.canStartTransaction }) {
            let next: Queued
            if !queue.isEmpty {
                next = queue.removeFirst()
            } else if supplyLimit.map({ supplied < $0 }) ?? true, let given = supplier?() {
                supplied += 1
                next = Queued(message: given.0, completion: given.1, ticket: makeTicket())
            } else {
                if quitWhenSupplierDry, !quitWhenQueueEmpty {
                    quitWhenQueueEmpty = true
                    machine.quit(at: now)
                }
                return
            }
            do {
                let id = try machine.startTransaction(next.message.envelope, at: now)
                inFlight[id] = InFlight(message: next.message, completion: next.completion, ticket: next.ticket)
            } catch {
                next.completion(.notAttempted(next.message.envelope, because: .local(error)))
            }
            if queue.isEmpty, idlePolicy == .quitWhenIdle || quitWhenSupplierDry, let supplyLimit, supplied >= supplyLimit {
                // The last message this connection takes: QUIT behind it (the engine writes it as
                // soon as the pipelining rules allow).
                quitWhenQueueEmpty = true
                machine.quit(at: now)
                return
            }
        }
    }

    /// One chunk of a message's content for the engine; a fresh reader for each pass.
    private func feedBody(_ id: TransactionID, fromStart: Bool) {
        guard inFlight[id] != nil else { return }
        do {
            if fromStart { inFlight[id]!.reader = try inFlight[id]!.message.content.makeReader() }
            guard let reader = inFlight[id]!.reader else {
                try machine.finishBody(for: id, at: now)
                return
            }
            let count = try reader.read(into: bodyBuffer)
            if count == 0 {
                try machine.finishBody(for: id, at: now)
            } else {
                try machine.sendBody(UnsafeRawBufferPointer(rebasing: bodyBuffer[0..<count]), for: id, last: reader.isAtEnd, at: now)
            }
        } catch let error as MessageSourceError {
            // The content failed: the engine aborts the message, and the outcome says why.
            inFlight[id]?.reader = nil
            machine.abortBody(for: id, because: error.message, at: now)
        } catch {
            inFlight[id]?.reader = nil
            machine.abortBody(for: id, because: "\(error)", at: now)
        }
    }

    /// Messages that never started when the session ended.
    private func failQueued() {
        let error = machine.failure ?? .connectionClosed(.idle)
        let waiting = queue
        queue.removeAll()
        for queued in waiting {
            queued.completion(.notAttempted(queued.message.envelope, because: .sessionEnded(error)))
        }
    }
}
