import SMTPCore
import SMTPTLS

/// The same loop with STARTTLS. When the engine asks, a `TLSSession` (OpenSSL over memory
/// buffers, no I/O of its own) goes between the stream and the engine.
func sendByHandWithTLS(_ content: [UInt8], from sender: String, to recipients: [String], over stream: ByteStream,
                       heloName: String, host: String, trust: TLSConfiguration) throws -> MessageOutcome? {
    let context = try TLSClientContext(configuration: trust)     // once per application
    var machine = try SMTPMachine(configuration: SMTPConfiguration(heloName: heloName, tls: .required))
    let envelope = Envelope(sender: sender, recipients: recipients.map { Recipient($0) })
    var tls: TLSSession?
    var handshaking = false
    var outgoing: [UInt8] = [], wire: [UInt8] = [], plaintext: [UInt8] = []
    var outcome: MessageOutcome?
    var started = false
    var closed = false

    func flush() throws {                                        // TLS records for the socket
        tls?.drainNetwork(into: &wire)
        if !wire.isEmpty { try stream.write(wire) }
        wire.removeAll(keepingCapacity: true)
    }
    func handshake(_ session: TLSSession) throws {
        switch session.advanceHandshake() {
        case .needsMoreInput: try flush()
        case .failed(let failure): handshaking = false; machine.tlsFailed(failure, at: stream.now)
        case .done: handshaking = false; try flush(); machine.tlsEstablished(at: stream.now)
        }
    }

    machine.connectionEstablished(at: stream.now)
    while true {
        switch machine.nextAction() {
        case .write:
            machine.takeOutput(into: &outgoing)
            if let session = tls {
                var failure: TLSRecordError?
                outgoing.withUnsafeBytes { raw in
                    do throws(TLSRecordError) { try session.writePlaintext(raw) } catch { failure = error }
                }
                if let failure { machine.transportFailed(.tls(code: failure.code, reason: failure.reason), at: stream.now) }
                try flush()
            } else {
                try stream.write(outgoing)
            }
            outgoing.removeAll(keepingCapacity: true)
        case .startTLS:                                          // nothing unread is left: the engine checked
            do { tls = try TLSSession(context: context, host: host) } catch {
                machine.tlsFailed(.handshake(error.message), at: stream.now)
                continue
            }
            handshaking = true
            try handshake(tls!)
        case .readyForTransaction:
            if started { machine.quit(at: stream.now) } else {
                _ = try machine.startTransaction(envelope, at: stream.now)
                started = true
            }
        case .sendBody(let id, _):
            try machine.sendBody(content, for: id, last: true, at: stream.now)
        case .event(let event):
            if case .transactionFinished(_, let result) = event { outcome = result }
        case .close:
            tls?.shutdown()
            try? flush()
            stream.close()
            closed = true
        case .wait:
            if closed { return outcome }
            guard let bytes = try stream.read(until: machine.nextDeadline) else {
                machine.deadlineReached(at: stream.now)
                continue
            }
            guard !bytes.isEmpty else {
                machine.connectionClosed(at: stream.now)
                continue
            }
            guard let session = tls else {
                machine.received(bytes, at: stream.now)
                continue
            }
            bytes.withUnsafeBytes { session.feedNetwork($0) }
            if handshaking { try handshake(session) }
            if !handshaking, machine.isTLSActive {
                let status = session.readPlaintext(into: &plaintext)
                if !plaintext.isEmpty { machine.received(plaintext, at: stream.now) }
                plaintext.removeAll(keepingCapacity: true)
                switch status {
                case .ok: break
                case .closed: machine.connectionClosed(at: stream.now)
                case .failed(let error): machine.transportFailed(.tls(code: error.code, reason: error.reason), at: stream.now)
                }
            }
        }
    }
}
