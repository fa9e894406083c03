import SMTPCore
import SMTPConnection

/// Everything smtp-send prints: the seed's lines on stdout, the transcript on stderr.
final class Output: @unchecked Sendable {
    let verbose: Bool
    /// Sendmail mode: the seed's lines are not printed.
    let quiet: Bool
    private let lock = Lock()

    init(verbose: Bool, quiet: Bool = false) {
        self.verbose = verbose
        self.quiet = quiet
    }

    func line(_ text: String) {
        guard !quiet else { return }
        lock.withLock { writeAll(1, text + "\n") }
    }

    func error(_ text: String) {
        lock.withLock { writeAll(2, text + "\n") }
    }

    /// The observer given to the drivers. The seed's TLS lines print once per observer: the libuv
    /// driver shares one among all its sessions (on its one thread); the socket driver's load
    /// mode gives each session thread its own, with `announce` false for all but the first.
    func observer(announce: Bool) -> SessionObserver {
        var tlsUp = false
        var announcedNegotiation = false
        var announcedFallback = false
        var announcedUse = false
        return { [self] event, info in
            switch event {
            case .negotiatingTLS:
                if announce, !announcedNegotiation {
                    announcedNegotiation = true
                    line("Negotiating TLS....")
                }
            case .continuingWithoutTLS:
                if announce, !announcedFallback {
                    announcedFallback = true
                    line("Server does not support TLS; using normal connection.")
                }
            case .tlsEstablished:
                tlsUp = true
                if verbose { error("-- TLS established: \(info.tls ?? "?") --") }
            case .capabilities:
                // After the handshake, the EHLO that succeeds means the TLS session is in use.
                if tlsUp, !announcedUse {
                    announcedUse = true
                    if announce { line("Using TLS connection.") }
                }
            case .transcript(let entry):
                guard verbose else { return }
                switch entry {
                case .command(let text): error("C: \(SMTPReply.printable(text))")
                case .reply(let reply):
                    let lines = reply.lines
                    for (index, text) in lines.enumerated() {
                        let separator = index == lines.count - 1 ? " " : "-"
                        error("S: \(reply.code)\(separator)\(SMTPReply.printable(text))")
                    }
                case .data(let count): error("C: <message data: \(count) octets>")
                }
            case .sessionFailed(let failure):
                // The transcript says why it stops (a certificate refused, a timeout, a violation).
                if verbose { error("-- session failed: \(SMTPReply.printable("\(failure)")) --") }
            default:
                break
            }
        }
    }
}
