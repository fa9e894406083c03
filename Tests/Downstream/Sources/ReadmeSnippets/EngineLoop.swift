import SMTPCore

/// What the engine needs from a connection: your socket (or event loop) and your clock.
protocol ByteStream: AnyObject {
    var now: SMTPInstant { get }
    func write(_ bytes: [UInt8]) throws
    /// The bytes that arrived before `deadline`: [] at the end of the stream, nil when the
    /// deadline passed first.
    func read(until deadline: SMTPInstant?) throws -> [UInt8]?
    func close()
}

/// One message over one session, the engine driven by hand. Returns the message's outcome.
func sendByHand(_ content: [UInt8], from sender: String, to recipients: [String],
                over stream: ByteStream, heloName: String) throws -> MessageOutcome? {
    var machine = try SMTPMachine(configuration: SMTPConfiguration(heloName: heloName, tls: .off))
    let envelope = Envelope(sender: sender, recipients: recipients.map { Recipient($0) })
    var outgoing: [UInt8] = []
    var outcome: MessageOutcome?
    var started = false
    var closed = false

    machine.connectionEstablished(at: stream.now)
    while true {
        switch machine.nextAction() {
        case .write:
            machine.takeOutput(into: &outgoing)                // swaps buffers: no copy
            do { try stream.write(outgoing) } catch { machine.transportFailed(.io("\(error)"), at: stream.now) }
            outgoing.removeAll(keepingCapacity: true)
        case .startTLS:
            machine.tlsFailed(.handshake("this loop has no TLS"), at: stream.now)
        case .readyForTransaction:
            if started { machine.quit(at: stream.now) } else {
                _ = try machine.startTransaction(envelope, at: stream.now)
                started = true
            }
        case .sendBody(let id, _):
            try machine.sendBody(content, for: id, last: true, at: stream.now)
        case .event(let event):
            print(event)                                       // greeting, capabilities, recipients, ...
            if case .transactionFinished(_, let result) = event { outcome = result }
        case .close:
            stream.close()
            closed = true
        case .wait:
            if closed { return outcome }                       // every action drained: the last event, then .close
            switch try stream.read(until: machine.nextDeadline) {
            case nil: machine.deadlineReached(at: stream.now)
            case let bytes? where bytes.isEmpty: machine.connectionClosed(at: stream.now)
            case let bytes?: machine.received(bytes, at: stream.now)
            }
        }
    }
}
