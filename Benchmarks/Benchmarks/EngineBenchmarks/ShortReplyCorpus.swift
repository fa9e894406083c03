/// The server side of a long pipelined session, repeated: mostly the short transaction replies a
/// client reads once per message, with a greeting and a Postfix-like EHLO reply per session.
///
/// One session: the greeting, an 11-line EHLO reply, then four pipelined messages of six replies
/// each (MAIL, three RCPTs, DATA's 354, the end of data's "queued as"), then QUIT's 221.
/// 27 replies, 37 lines, 24 of the replies short single lines.
enum ShortReplyCorpus {
    static let greeting = "220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n"
    static let ehlo = "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
        + "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
    static let message = [
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n",
        "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n",
    ]
    static let quit = "221 2.0.0 Bye\r\n"

    static var session: [String] {
        [greeting, ehlo] + Array(repeating: message, count: 4).flatMap { $0 } + [quit]
    }

    /// Whole sessions repeated to at least `size` bytes; the reply and line counts.
    static func build(size: Int) -> (bytes: [UInt8], replies: Int, lines: Int) {
        let session = session
        var bytes: [UInt8] = []
        var replies = 0
        while bytes.count < size {
            for reply in session {
                bytes.append(contentsOf: reply.utf8)
                replies += 1
            }
        }
        return (bytes, replies, bytes.lazy.filter { $0 == 10 }.count)
    }
}

/// 50-line replies, each line "250-" and 40 bytes of text, the last "250 " and its text.
enum LongReplyCorpus {
    static let reply: String = (1...50).map { index in
        let text = "EXTENSION-\(index) " + String(repeating: "x", count: 40 - "EXTENSION-\(index) ".count)
        return "250" + (index == 50 ? " " : "-") + text + "\r\n"
    }.joined()

    static func build(size: Int) -> (bytes: [UInt8], replies: Int) {
        let one = Array(reply.utf8)
        var bytes: [UInt8] = []
        var replies = 0
        while bytes.count < size {
            bytes.append(contentsOf: one)
            replies += 1
        }
        return (bytes, replies)
    }
}
