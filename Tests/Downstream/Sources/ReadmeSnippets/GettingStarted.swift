import SMTPConnection
import SMTPCore
import SMTPSocketDriver
import SMTPTLS

/// Submission (RFC 6409, port 587): STARTTLS required and the certificate verified (against the
/// system store unless `trust` names a CA file), then AUTH with the best mechanism both sides have.
func submissionOptions(host: String, port: UInt16 = 587, username: String, password: String,
                       trust: TLSConfiguration = TLSConfiguration()) -> ClientOptions {
    ClientOptions(host: host, port: port, tlsPolicy: .required, tls: trust,
                  authentication: .passwordWithCrypto(username: username, password: password))
}

/// One message, one call: connect, send, quit. Only a caller's mistake throws (an EHLO name
/// that is not a domain, a CA file that cannot be read); everything else is in the outcome.
func sendOneMessage(options: ClientOptions) throws -> MessageOutcome {
    let message = OutgoingMessage(from: "alice@example.org", to: ["bob@example.net"],
                                  content: Array("Subject: hello\r\n\r\nHello, Bob.\r\n".utf8))
    let outcome = try SMTPClient.send(message, options: options)
    switch outcome.status {
    case .delivered:
        print("sent:", outcome.dataReply?.description ?? "")      // the server's queue id is in this text
    case .partiallyDelivered, .notDelivered, .unknown:
        for recipient in outcome.undelivered {
            print("not sent to \(recipient.address): \(recipient.status)", recipient.reply?.description ?? "")
        }
        print("why:", outcome.failure?.description ?? "")
    }
    return outcome
}
