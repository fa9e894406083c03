/// Server replies as real servers send them: Postfix, Exim, and Gmail-style multi-line EHLO,
/// single-line transaction replies, enhanced status codes.
enum ReplyCorpus {
    static let samples: [String] = [
        "220 mx.example.org ESMTP Postfix (Debian/GNU)\r\n",
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        "250-smtp.gmail.com at your service, [203.0.113.7]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
        "250-exim.example.net Hello client.example.org [198.51.100.4]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-AUTH PLAIN LOGIN\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n250 HELP\r\n",
        "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n",
        "354 End data with <CR><LF>.<CR><LF>\r\n",
        "250 2.0.0 Ok: queued as 4XyZ1k2Lm3N\r\n",
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table\r\n",
        "451 4.7.1 Greylisting in action, please come back later\r\n",
        "221 2.0.0 Bye\r\n",
        "250 OK id=1qYZab-0004Xy-2k\r\n",
        "235 2.7.0 Accepted\r\n",
        "334 VXNlcm5hbWU6\r\n",
        "250 2.0.0 OK  1700000000 a1-20020a170902ab0100b001c9d6c1e0e2si123456plk.123 - gsmtp\r\n",
    ]

    /// The samples repeated to about `size` bytes, and how many replies that is.
    static func build(size: Int) -> (bytes: [UInt8], replies: Int) {
        var bytes: [UInt8] = []
        var replies = 0
        while bytes.count < size {
            for sample in samples {
                bytes.append(contentsOf: sample.utf8)
                replies += 1
            }
        }
        return (bytes, replies)
    }
}
