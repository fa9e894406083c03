import Logging
import SMTPConnection
import SMTPCore

/// A connection's events as log lines, on the connection's logger (its metadata carries
/// `smtp.connection`): the lifecycle (connected, TLS, AUTH, ready, failed, closed) at `debug`,
/// the transcript at `trace` in the words of `smtp-send -v` ("C: ...", "S: ...", AUTH payloads
/// already redacted by the engine). Every message is an autoclosure: with the level off, a call
/// builds nothing.
struct ConnectionLog {
    let logger: Logger

    /// The observer for the connection; `ready` runs when the session is ready for messages.
    func observer(ready: @escaping () -> Void) -> SessionObserver {
        let logger = self.logger
        return { event, info in
            switch event {
            case .greeting(let reply): logger.debug("SMTP connected", metadata: ["smtp.greeting": "\(reply)"])
            case .tlsEstablished: logger.debug("SMTP TLS established", metadata: ["smtp.tls": "\(info.tls ?? "?")"])
            case .authenticated(let mechanism): logger.debug("SMTP authenticated", metadata: ["smtp.auth": "\(mechanism)"])
            case .sessionReady:
                logger.debug("SMTP session ready")
                ready()
            case .sessionFailed(let error): logger.debug("SMTP session failed", metadata: ["smtp.error": "\(error)"])
            case .transcript(let entry): Self.trace(entry, logger)
            default: break
            }
        }
    }

    private static func trace(_ entry: TranscriptEntry, _ logger: Logger) {
        switch entry {
        case .command(let text): logger.trace("C: \(SMTPReply.printable(text))")
        case .reply(let reply):
            guard logger.logLevel <= .trace else { return }
            let lines = reply.lines
            for (index, text) in lines.enumerated() {
                let separator = index == lines.count - 1 ? " " : "-"
                logger.trace("S: \(reply.code)\(separator)\(SMTPReply.printable(text))")
            }
        case .data(let count): logger.trace("C: <message data: \(count) octets>")
        }
    }
}
