import SMTPCore

/// A whole session through the engine against an in-memory server that answers each client
/// write with canned replies: no sockets, no parsing on the server side beyond what it takes to
/// know how many replies a write asks for.
struct SessionRunner {
    let pipelining: Bool
    let chunking: Bool
    let messages: Int
    let envelope: Envelope
    let body: [UInt8]

    private let ehloReply: [UInt8]
    private static let ok = Array("250 2.1.0 Ok\r\n".utf8)
    private static let goAhead = Array("354 End data with <CR><LF>.<CR><LF>\r\n".utf8)
    private static let queued = Array("250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n".utf8)
    private static let bye = Array("221 2.0.0 Bye\r\n".utf8)

    init(pipelining: Bool, chunking: Bool, messages: Int, bodySize: Int) {
        self.pipelining = pipelining
        self.chunking = chunking
        self.messages = messages
        var text: [UInt8] = Array("From: sender@example.org\r\nTo: rcpt@example.net\r\nSubject: benchmark\r\n\r\n".utf8)
        let line = Array("The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\r\n".utf8)
        while text.count + line.count <= bodySize { text += line }
        while text.count < bodySize { text.append(UInt8(ascii: "x")) }
        body = text
        // SIZE= is the size on the wire (the engine refuses to send more than it announced).
        envelope = Envelope(sender: "sender@example.org", recipients: ["rcpt@example.net"], size: BodyEncoder.messageSize(of: text))
        var ehlo = "250-mx.example.org\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
        if pipelining { ehlo += "250-PIPELINING\r\n" }
        if chunking { ehlo += "250-CHUNKING\r\n" }
        ehlo += "250 SMTPUTF8\r\n"
        ehloReply = Array(ehlo.utf8)
    }

    /// Counts the command lines at the start of `bytes[from...]` that each want one reply.
    private static func commandReplies(_ bytes: UnsafeRawBufferPointer, from start: Int, into replies: inout [UInt8], bye quitting: inout Bool) {
        var index = start
        while index + 4 <= bytes.count {
            let c0 = bytes[index], c1 = bytes[index + 1]
            if c0 == UInt8(ascii: "M") { replies += ok }                            // MAIL
            else if c0 == UInt8(ascii: "R") && c1 == UInt8(ascii: "C") { replies += ok }  // RCPT
            else if c0 == UInt8(ascii: "R") { replies += ok }                        // RSET
            else if c0 == UInt8(ascii: "D") { replies += goAhead }                   // DATA
            else if c0 == UInt8(ascii: "Q") { replies += bye; quitting = true }     // QUIT
            else if c0 == UInt8(ascii: "E") { return }                               // EHLO: answered by the caller
            else if c0 == UInt8(ascii: "B") {                                        // BDAT n [LAST] + payload
                var size = 0
                var cursor = index + 5
                while bytes[cursor] >= 48 && bytes[cursor] <= 57 { size = size * 10 + Int(bytes[cursor] - 48); cursor += 1 }
                let last = bytes[cursor] == UInt8(ascii: " ")
                while bytes[cursor] != 10 { cursor += 1 }
                replies += last ? queued : ok
                index = cursor + 1 + size
                continue
            }
            while index < bytes.count && bytes[index] != 10 { index += 1 }
            index += 1
        }
    }

    /// Runs the session; returns the number of messages delivered.
    func run() -> Int {
        var machine = try! SMTPMachine(configuration: SMTPConfiguration(heloName: "client.example.org", tls: .off,
                                                                        usePipelining: pipelining, useChunking: chunking))
        var output: [UInt8] = []
        var replies: [UInt8] = []
        replies.reserveCapacity(4096)
        var started = 0
        var delivered = 0
        var inData = false
        var quitting = false
        machine.connectionEstablished(at: .zero)
        machine.received(Array("220 mx.example.org ESMTP\r\n".utf8), at: .zero)
        while !machine.isClosed {
            switch machine.nextAction() {
            case .write:
                machine.takeOutput(into: &output)
                replies.removeAll(keepingCapacity: true)
                output.withUnsafeBytes { bytes in
                    var start = 0
                    if bytes.count >= 4, bytes[0] == UInt8(ascii: "E") {
                        replies += ehloReply
                        return
                    }
                    if inData {
                        // Body: answer the end of data, then whatever commands follow it.
                        guard bytes.count >= 5, let end = Self.endOfData(bytes) else { return }
                        inData = false
                        replies += Self.queued
                        start = end
                    }
                    Self.commandReplies(bytes, from: start, into: &replies, bye: &quitting)
                }
                if replies.suffix(Self.goAhead.count).elementsEqual(Self.goAhead) { inData = true }
                output.removeAll(keepingCapacity: true)
                if !replies.isEmpty { replies.withUnsafeBytes { machine.received($0, at: .zero) } }
            case .readyForTransaction:
                if started < messages {
                    started += 1
                    _ = try! machine.startTransaction(envelope, at: .zero)
                } else {
                    machine.quit(at: .zero)
                }
            case .sendBody(let id, _):
                body.withUnsafeBytes { try! machine.sendBody($0, for: id, last: true, at: .zero) }
            case .event(let event):
                if case .transactionFinished(_, let outcome) = event, outcome.status == .delivered { delivered += 1 }
            case .startTLS, .close, .wait:
                if case .wait = machine.nextAction() { return delivered }
            }
        }
        return delivered
    }

    /// One past the final dot's CRLF, when the write holds the end of data.
    private static func endOfData(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        while index + 4 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 46, bytes[index + 3] == 13, bytes[index + 4] == 10 {
                return index + 5
            }
            index += 1
        }
        return nil
    }
}

private func += (lhs: inout [UInt8], rhs: [UInt8]) { lhs.append(contentsOf: rhs) }
