/// Readable forms of the engine's outputs, for logs and debugging. Server text is shown through
/// `SMTPReply.description`, which escapes control characters.

extension SMTPAction: CustomStringConvertible {
    /// The action in words ("write", "send body of #1 from the start").
    public var description: String {
        switch self {
        case .write: "write"
        case .startTLS: "start TLS"
        case .sendBody(let id, let fromStart): fromStart ? "send body of \(id) from the start" : "send more body of \(id)"
        case .readyForTransaction: "ready for a transaction"
        case .event(let event): "event: \(event)"
        case .close: "close"
        case .wait: "wait"
        }
    }
}

extension SMTPEvent: CustomStringConvertible {
    /// The event in words; server text escaped.
    public var description: String {
        switch self {
        case .greeting(let reply): "greeting \(reply)"
        case .capabilities(let capabilities): "capabilities \(capabilities)"
        case .negotiatingTLS: "negotiating TLS"
        case .continuingWithoutTLS: "continuing without TLS"
        case .tlsEstablished: "TLS established"
        case .authenticated(let mechanism): "authenticated with \(mechanism)"
        case .sessionReady: "session ready"
        case .recipient(let id, let index, let reply): "\(id) recipient \(index): \(reply)"
        case .messageAccepted(let id, let reply): "\(id) accepted: \(reply)"
        case .messageRejected(let id, let reply): "\(id) rejected: \(reply)"
        case .recipientDelivery(let id, let index, let reply): "\(id) delivery to recipient \(index): \(reply)"
        case .transactionFinished(let id, let outcome): "\(id) finished: \(outcome)"
        case .transcript(let entry): "\(entry)"
        case .sessionFailed(let error): "session failed: \(error)"
        case .sessionClosed: "session closed"
        }
    }
}

extension TranscriptEntry: CustomStringConvertible {
    /// The entry as a transcript line: "C: " for the client, "S: " for the server.
    public var description: String {
        switch self {
        case .command(let line): "C: \(SMTPReply.printable(line))"
        case .reply(let reply): "S: \(reply)"
        case .data(let count): "C: <message data: \(count) octets>"
        }
    }
}

extension Capabilities: CustomStringConvertible {
    /// "ESMTP PIPELINING SIZE=10240000 AUTH(PLAIN LOGIN) ...", or "basic (HELO)".
    public var description: String {
        guard isExtended else { return "basic (HELO)" }
        var words = ["ESMTP"]
        let named: [(Flags, String)] = [
            (.pipelining, "PIPELINING"), (.startTLS, "STARTTLS"), (.eightBitMIME, "8BITMIME"), (.smtpUTF8, "SMTPUTF8"),
            (.chunking, "CHUNKING"), (.binaryMIME, "BINARYMIME"), (.dsn, "DSN"), (.enhancedStatusCodes, "ENHANCEDSTATUSCODES"),
        ]
        for (flag, name) in named where contains(flag) { words.append(name) }
        if contains(.size) { words.append(maxMessageSize.map { "SIZE=\($0)" } ?? "SIZE") }
        if contains(.auth) { words.append("AUTH(\(authMechanisms.joined(separator: " ")))") }
        return words.joined(separator: " ")
    }
}
