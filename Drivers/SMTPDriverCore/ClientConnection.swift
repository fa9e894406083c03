import SMTPCore
import SMTPTLS

/// One SMTP connection without sockets: the engine, the TLS session it may ask for, the message
/// sources it reads from, and the reports it builds. Drivers move bytes between a socket and
/// this object and tell it the time; it makes no protocol decision of its own (the engine does)
/// and does no network I/O (the driver does).
///
/// Driver contract, after every input: write `takeNetworkOutput` to the socket; wait for
/// readability (or writability while output is pending) until `deadline`; close when `isFinished`.
/// What an observer may want to know beside the event itself.
public struct ConnectionInfo: Sendable {
    /// "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up.
    public var tls: String?
}

/// Sees every session event of a connection (on the driver's thread).
public typealias SessionObserver = (SMTPEvent, ConnectionInfo) -> Void

public final class ClientConnection {
    /// How the connection treats an empty message queue.
    public enum IdlePolicy {
        /// QUIT as soon as no message is waiting (one-shot and batch sending).
        case quitWhenIdle
        /// Stay connected until `quit()` (the session API).
        case stayConnected
    }

    public typealias Completion = (DeliveryReport) -> Void
    public typealias MessageSupplier = () -> (OutgoingMessage, Completion)?

    private var machine: SMTPMachine
    private let tlsContext: TLSClientContext?
    private let tlsHost: String
    private let chunkSize: Int
    private let idlePolicy: IdlePolicy
    private var queue: [(OutgoingMessage, Completion)] = []
    private let supplier: MessageSupplier?
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
    private var inFlight: [TransactionID: InFlight] = [:]
    private var closeRequested = false
    private var now: SMTPInstant = .zero
    /// Pending output above which body chunks wait for the driver to drain (backpressure).
    public var outputHighWater = 256 * 1024

    private struct InFlight {
        var message: OutgoingMessage
        var completion: Completion
        var bodyOffset = 0
        var recipients: [RecipientReport]
        var finalReply: SMTPReply?
    }

    public init(configuration: SMTPConfiguration, tlsContext: TLSClientContext?, tlsHost: String, chunkSize: Int = 64 * 1024,
                idlePolicy: IdlePolicy, supplier: MessageSupplier? = nil) throws(SMTPError) {
        machine = try SMTPMachine(configuration: configuration)
        self.tlsContext = tlsContext
        self.tlsHost = tlsHost
        self.chunkSize = max(1024, chunkSize)
        self.idlePolicy = idlePolicy
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
    public var deadline: SMTPInstant? { machine.nextDeadline }
    public var hasNetworkOutput: Bool { !networkOut.isEmpty }
    public var failure: SMTPError? { machine.failure }
    public var capabilities: Capabilities { machine.capabilities }
    public var isTLSActive: Bool { machine.isTLSActive }
    /// Ready for another message now (the session API waits for this).
    public var isIdle: Bool { machine.canStartTransaction && queue.isEmpty && inFlight.isEmpty }
    public var tlsDescription: String? {
        guard let tls, tls.isHandshakeComplete else { return nil }
        return "\(tls.protocolVersion) \(tls.cipher)"
    }

    /// Hands over the bytes to write to the socket (swapping buffers when `buffer` is empty).
    public func takeNetworkOutput(into buffer: inout [UInt8]) {
        if buffer.isEmpty { swap(&buffer, &networkOut) } else {
            buffer.append(contentsOf: networkOut)
            networkOut.removeAll(keepingCapacity: true)
        }
    }

    // MARK: Inputs

    public func start(at now: SMTPInstant) {
        self.now = now
        machine.connectionEstablished(at: now)
        process()
    }

    /// Queues a message (the session API); it starts as soon as the engine allows.
    public func enqueue(_ message: OutgoingMessage, completion: @escaping Completion, at now: SMTPInstant) {
        self.now = now
        guard !closeRequested else {
            completion(.notSent(message.envelope, because: .sessionEnded(machine.failure ?? .connectionClosed(.idle))))
            return
        }
        queue.append((message, completion))
        startMessages()
        process()
    }

    /// Ends the session with QUIT once the messages in flight are done.
    public func quit(at now: SMTPInstant) {
        self.now = now
        machine.quit(at: now)
        process()
    }

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

    /// End of stream or reset.
    public func connectionClosed(at now: SMTPInstant) {
        self.now = now
        guard !closeRequested else { return }
        if tlsHandshaking {
            tlsHandshaking = false
            machine.tlsFailed(.handshake("the server closed the connection during the TLS handshake"), at: now)
        } else {
            machine.connectionClosed(at: now)
        }
        process()
    }

    /// Time passed (the deadline, or any wake-up).
    public func timePassed(at now: SMTPInstant) {
        self.now = now
        machine.deadlineReached(at: now)
        process()
    }

    /// The driver wrote out what it had (libuv: a write completed), so deferred body reads may go on.
    public func outputDrained(at now: SMTPInstant) {
        self.now = now
        process()
    }

    // MARK: TLS

    private func beginTLS() {
        guard let tlsContext else {
            machine.tlsFailed(.handshake("TLS is not configured"), at: now)
            return
        }
        do {
            tls = try TLSSession(context: tlsContext, host: tlsHost)
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
            decrypt(tls) // application data that arrived with the last handshake flight
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
        case .failed: machine.connectionClosed(at: now)
        }
    }

    // MARK: The action loop

    private func process() {
        while !closeRequested {
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &plaintext)
                if let tls, !tlsHandshaking {
                    let written = plaintext.withUnsafeBytes { raw in
                        do { try tls.writePlaintext(raw); return true } catch { return false }
                    }
                    if !written { machine.connectionClosed(at: now) }
                    tls.drainNetwork(into: &networkOut)
                } else {
                    networkOut.append(contentsOf: plaintext)
                }
                plaintext.removeAll(keepingCapacity: true)
            case .startTLS:
                beginTLS()
            case .readyForTransaction:
                startMessages()
                // Nothing more to send: QUIT now (pipelined behind the last dot when allowed).
                if queue.isEmpty, machine.canStartTransaction, idlePolicy == .quitWhenIdle {
                    machine.quit(at: now)
                }
            case .sendBody(let id, let fromStart):
                if networkOut.count >= outputHighWater {
                    deferredBody = (id, fromStart)
                    return
                }
                feedBody(id, fromStart: fromStart)
            case .event(let event):
                record(event)
                onEvent?(event, ConnectionInfo(tls: tlsDescription))
            case .close:
                closeRequested = true
                if let tls, !tlsHandshaking, machine.isTLSActive {
                    tls.shutdown()
                    tls.drainNetwork(into: &networkOut)
                }
                failQueued()
            case .wait:
                if let (id, fromStart) = deferredBody, networkOut.count < outputHighWater {
                    deferredBody = nil
                    feedBody(id, fromStart: fromStart)
                    continue
                }
                return
            }
        }
    }

    /// Starts queued (or supplied) messages while the engine takes them.
    private func startMessages() {
        while machine.canStartTransaction {
            let next: (OutgoingMessage, Completion)
            if !queue.isEmpty {
                next = queue.removeFirst()
            } else if let supplied = supplier?() {
                next = supplied
            } else {
                return
            }
            do {
                let id = try machine.startTransaction(next.0.envelope, at: now)
                inFlight[id] = InFlight(message: next.0, completion: next.1,
                                        recipients: next.0.envelope.recipients.map {
                                            RecipientReport(address: $0.address, delivered: false, reply: nil)
                                        })
            } catch {
                next.1(.notSent(next.0.envelope, because: .local(error)))
            }
        }
    }

    private func feedBody(_ id: TransactionID, fromStart: Bool) {
        guard var entry = inFlight[id] else { return }
        do {
            if fromStart, entry.bodyOffset > 0 {
                try entry.message.body.rewind()
                entry.bodyOffset = 0
            }
            let count = try entry.message.body.read(into: bodyBuffer)
            entry.bodyOffset += count
            inFlight[id] = entry
            if count == 0 {
                try machine.finishBody(for: id, at: now)
            } else {
                let last = entry.message.body.knownSize.map { entry.bodyOffset >= $0 } ?? false
                try machine.sendBody(UnsafeRawBufferPointer(rebasing: bodyBuffer[0..<count]), for: id, last: last, at: now)
            }
        } catch {
            // The source failed (or the engine refused the call): the engine aborts the message.
            machine.abortBody(for: id, at: now)
        }
    }

    // MARK: Reports

    private func record(_ event: SMTPEvent) {
        switch event {
        case .recipient(let id, let index, let reply):
            guard inFlight[id] != nil, index < inFlight[id]!.recipients.count else { return }
            if !reply.code.isPositiveCompletion {
                inFlight[id]!.recipients[index].reply = reply.detached()
            }
        case .recipientDelivery(let id, let index, let reply):
            guard inFlight[id] != nil, index < inFlight[id]!.recipients.count else { return }
            inFlight[id]!.recipients[index].reply = reply.detached()
            inFlight[id]!.recipients[index].delivered = reply.code.isPositiveCompletion
        case .messageAccepted(let id, let reply):
            guard var entry = inFlight[id] else { return }
            let detached = reply.detached()
            entry.finalReply = detached
            // Every recipient accepted at RCPT in this round and not yet settled is now delivered.
            for index in entry.recipients.indices where entry.recipients[index].reply == nil {
                entry.recipients[index].delivered = true
                entry.recipients[index].reply = detached
            }
            inFlight[id] = entry
        case .messageRejected(let id, let reply):
            inFlight[id]?.finalReply = reply.detached()
        case .transactionFinished(let id, let outcome):
            guard var entry = inFlight.removeValue(forKey: id) else { return }
            if case .sessionEnded = outcome.failure, outcome.status != .unknown {
                for index in entry.recipients.indices where !entry.recipients[index].delivered {
                    entry.recipients[index].reply = nil
                }
            }
            entry.completion(DeliveryReport(status: outcome.status, recipients: entry.recipients,
                                            finalReply: entry.finalReply, failure: outcome.failure))
        default:
            break
        }
    }

    /// Messages that never started when the session ended.
    private func failQueued() {
        let error = machine.failure ?? .connectionClosed(.idle)
        let waiting = queue
        queue.removeAll()
        for (message, completion) in waiting {
            completion(.notSent(message.envelope, because: .sessionEnded(error)))
        }
    }
}
