/// smtp-send's options: names, value names, the manual's help, and where each value goes.
/// The order is the manual's.
extension SMTPSend {
    static let optionTable = OptionTable<SMTPSend>(options: [
        .choice("tls", value: "MODE", help: "TLS mode: opportunistic (the default), required, implicit or off.") {
            $0.tls = $1
        },
        .string("ca-file", value: "PATH", help: "PEM file of trusted CAs, instead of the system store.") {
            $0.caFile = $1
        },
        .flag("insecure", help: "Do not verify the server certificate (a warning goes to stderr).") {
            $0.insecure = true
        },
        .string("tls-name", value: "NAME",
                help: "Name the certificate must match, also sent as SNI (default: the SERVER host).") {
            $0.tlsName = $1
        },
        .string("helo", value: "NAME",
                help: "Name for EHLO/HELO (default: this machine's FQDN, or an address literal).") {
            $0.helo = $1
        },
        .string("user", value: "NAME",
                help: "Authenticate as NAME; password from SMTP_PASSWORD or --password-file.") {
            $0.user = $1
        },
        .string("password-file", value: "PATH", help: "File holding the password (first line).") {
            $0.passwordFile = $1
        },
        .string("auth", value: "MECH",
                help: "Force a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, ...).") {
            $0.auth = $1
        },
        .flag("allow-plaintext-auth", help: "Allow AUTH on a connection without TLS (refused by default).") {
            $0.allowPlaintextAuth = true
        },
        .string("data", value: "PATH",
                help: "Message to send (RFC 5322 text); '-' reads stdin (default: a built-in test message).") {
            $0.data = $1
        },
        .integer("max-size", value: "OCTETS",
                 help: "Largest --data read from a stream (stdin, a pipe, a FIFO), in octets (default 104857600). A server's SIZE limit is checked as well.") {
            $0.maxSize = $1
        },
        .flag("lmtp", help: "Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the data. SERVER may then be unix:/path for a Unix socket. Exit 3 when some recipients were refused, at RCPT or after the data.") {
            $0.lmtp = true
        },
        .choice("driver", value: "socket|uv|nio", help: "Driver that runs the engine: socket, uv (libuv) or nio (SwiftNIO).",
                default: DriverKind.socket) {
            $0.driver = $1
        },
        .number("timeout", value: "SECONDS",
                help: "One limit, in seconds, for every wait (default: RFC 5321 per-phase values).") {
            $0.timeout = $1
        },
        .flag("verbose", short: "v",
              help: "Transcript on stderr: one \"C: \" / \"S: \" line per line, AUTH payloads redacted.") {
            $0.verbose = true
        },
        .integer("repeat", value: "N", help: "Send the message N times (load mode), reusing sessions. A message the server did not take (4xx to MAIL, or a 421 or close before it) goes again on a new session; the greeting timeout is 30 s unless --timeout is given. A --data file of up to 1 MiB is read once and every copy sent from memory.") {
            $0.repeat = $1
        },
        .integer("connections", value: "C", help: "Spread --repeat over C concurrent sessions.") {
            $0.connections = $1
        },
        .integer("session-messages", value: "M", help: "With --repeat: end each session after M messages and open a new one (like smtp-source without -d when M is 1).") {
            $0.sessionMessages = $1
        },
        .flag("no-tls-resume", help: "Do not resume TLS sessions: every connection of a --repeat run does a full handshake (by default a session a server gave is offered again to that same server, name, host and port).") {
            $0.noTLSResume = true
        },
        .string("subject", value: "TEXT",
                help: "Subject of a message built from the message options (UTF-8; encoded as RFC 2047 needs).") {
            $0.subject = $1
        },
        .string("header", value: "'Name: value'", help: "Add a header field to the built message (repeatable).") {
            $0.header.append($1)
        },
        .string("body", value: "TEXT|@FILE", help: "Text body of the built message; @FILE reads it from FILE.") {
            $0.body = $1
        },
        .string("html", value: "FILE",
                help: "HTML body of the built message, read from FILE (with --body: multipart/alternative).") {
            $0.html = $1
        },
        .string("attach", value: "PATH",
                help: "Attach a file to the built message (repeatable), streamed from disk.") {
            $0.attach.append($1)
        },
        .string("attach-type", value: "TYPE",
                help: "Content type of the --attach just before (default: guessed from the file name).") {
            $0.attachType.append((type: $1, after: $0.attach.count))
        },
        .flag(nil, short: "t", help: "Recipients from the message's To, Cc and Bcc fields (plus any TO given); Bcc is removed from the copy sent. The message comes from --data, else stdin.") {
            $0.recipientsFromHeader = true
        },
        .string(nil, short: "f", value: "ADDR",
                help: "With -t: the envelope sender (default: the account's from, else the From field).") {
            $0.envelopeFrom = $1
        },
        .string("config", value: "FILE",
                help: "Accounts file (default: $XDG_CONFIG_HOME/smtp-send/config, or ~/.config/smtp-send/config).") {
            $0.config = $1
        },
        .string("account", value: "NAME",
                help: "Send through the account NAME of the config file: SERVER is then omitted.") {
            $0.account = $1
        },
        .flag("dry-run", help: "Print the envelope (\"MAIL FROM:<a>\" and one \"RCPT TO:<b>\" line each) and exit without connecting.") {
            $0.dryRun = true
        },
        .flag("help", short: "h", help: "Show help information.") { _ in },
    ], positional: { $0.arguments.append($1) })
}
