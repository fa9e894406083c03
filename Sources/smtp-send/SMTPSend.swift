import ArgumentParser
import Glibc
import SMTPCore
import SMTPConnection

/// smtp-send: the classic tls.py, done right. The interface is fixed by docs (cli-spec.md):
/// options, output lines and exit statuses are relied upon by scripts.
@main
struct SMTPSend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smtp-send",
        abstract: "Send a message over SMTP, with STARTTLS when the server offers it.",
        usage: """
            smtp-send [OPTIONS] SERVER FROM TO [TO ...]
              smtp-send [OPTIONS] --account NAME FROM TO [TO ...]
              smtp-send -t [OPTIONS] SERVER [TO ...]      (or -t --account NAME)
              sendmail [-t] [-i] [-oi] [-f FROM] [--config FILE] [--account NAME] [TO ...]
            """,
        discussion: """
            DESCRIPTION
              Connects to SERVER and greets it with EHLO (HELO when EHLO is
              refused and TLS is not required). Upgrades to TLS with STARTTLS
              when the server offers it, authenticates when --user is given,
              and sends one message from FROM to every TO, reporting how each
              recipient fared. The certificate is verified against the system
              trust store (or --ca-file) and the server's name. A server that
              offered STARTTLS and then fails it is never used in plaintext.

            SERVER
              host, host:port, [v6addr] or [v6addr]:port. The port defaults to
              25, or 465 with --tls implicit. FROM and TO are bare addresses,
              without angle brackets; FROM may be "" for a null sender.

            THE MESSAGE
              Without --data or a message option, a built-in test message is
              sent. --subject, --header, --body, --html and --attach build a
              MIME message instead (From = FROM, To = the TO addresses, Date
              now, a Message-ID under the FROM domain); it is built before
              connecting, so non-ASCII text is sent quoted-printable (7-bit),
              never as 8bit, whether or not the server offers 8BITMIME.
              --data with a message option is a usage error.

            -t (RECIPIENTS FROM THE MESSAGE)
              The recipients are the addresses of the message's To, Cc and Bcc
              fields (display names, quoted strings, comments and groups are
              understood), plus any TO given. The Bcc fields are removed from
              the copy sent (the header is rewritten on a spooled copy; the
              body is untouched). The sender is -f ADDR, else the account's
              from, else the From field. The message is --data, or stdin.

            ACCOUNTS (--config FILE, default $XDG_CONFIG_HOME/smtp-send/config
            or ~/.config/smtp-send/config)
              [default]
              account = work
              [account work]
              host = smtp.example.org        port = 587
              tls = required                 (opportunistic|required|implicit|off)
              user = alice@example.org
              password-file = ~/.smtp-pass   (or password-command = pass show smtp;
                                             run with /bin/sh -c, first line used)
              from = alice@example.org       (envelope sender for -t and sendmail)
              ca-file = /path/ca.pem         tls-name = smtp.example.org
              One key = value a line; # starts a comment. With --account NAME
              SERVER is omitted; it may be omitted for the default account too
              when the first argument is an address. Options given on the
              command line win over the account's. A password file that group
              or others may read (mode & 077) is refused. A bad key or value is
              exit 2 (78 in sendmail mode) with FILE:LINE.

            SENDMAIL MODE
              Run through a link named sendmail (ln -s smtp-send sendmail), it
              takes sendmail's arguments: the message on stdin (always read to
              its end, so -i and -oi change nothing), the recipients as
              arguments or -t, -f FROM; -oX, -odX, -bm, -v and -F NAME are
              accepted and ignored. The server is the default account (or
              --account). Nothing is printed on success; an error is one line on
              stderr, and the exit status is a sysexits code: 64 usage, 65 bad
              message, 67 recipient refused, 68 host not found, 69 cannot
              connect or refused (5xx), 75 temporary failure (4xx, timeout),
              76 protocol violation, 78 configuration error.

            OUTPUT (stdout)
              Negotiating TLS....             just before STARTTLS is sent
              Using TLS connection.           once TLS is up
              Server does not support TLS; using normal connection.
              Message successfully sent to N recipient(s)
              Message sent to K of N recipient(s)
                refused ADDR: CODE TEXT       one line per refused recipient
               *** Your message may not have been sent!
              <one line saying why>
              Sent N messages in T s (R msg/s), F failed    (load mode)

            EXIT STATUS
              0  sent to every recipient
              1  not sent (any failure, TLS failures included)
              2  usage error, or bad input caught before connecting
              3  sent to some recipients only
              5  the server refused EHLO after STARTTLS

            ENVIRONMENT
              SMTP_PASSWORD    password for --user (unless --password-file, or the
                               account's password-file or password-command)
              XDG_CONFIG_HOME, HOME   where the accounts file is looked for

            EXAMPLES
              Relay through a mail server, TLS when offered:
                smtp-send mx.example.org alice@example.org bob@example.net

              Submission on 587 with AUTH, TLS required:
                SMTP_PASSWORD=secret smtp-send --tls required \\
                  --user alice@example.org smtp.example.org:587 \\
                  alice@example.org bob@example.net

              Implicit TLS on 465, message from a file:
                smtp-send --tls implicit --user alice \\
                  --password-file ~/.smtp-pass --data message.eml \\
                  smtp.example.org alice@example.org bob@example.net

              A message with a subject, a body and a file, through an account:
                smtp-send --account work --subject 'Grüße' --body @note.txt \\
                  --attach report.pdf alice@example.org bob@example.net

              Forward a message, recipients from its header, Bcc removed:
                smtp-send -t --account work --data message.eml

              git send-email through the sendmail link:
                git send-email --sendmail-cmd=~/bin/sendmail --to=... PATCH

              Load test: 10,000 messages over 50 sessions on one libuv loop:
                smtp-send --tls off --driver uv --repeat 10000 \\
                  --connections 50 127.0.0.1:2525 load@example.org \\
                  sink@example.net
            """
    )

    @Option(name: .long, help: ArgumentHelp("TLS mode: opportunistic (the default), required, implicit or off.", valueName: "MODE"))
    var tls: TLSMode?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("PEM file of trusted CAs, instead of the system store.", valueName: "PATH"))
    var caFile: String?

    @Flag(name: .long, help: "Do not verify the server certificate (a warning goes to stderr).")
    var insecure = false

    @Option(name: .customLong("tls-name"), help: ArgumentHelp("Name the certificate must match, also sent as SNI (default: the SERVER host).", valueName: "NAME"))
    var tlsName: String?

    @Option(name: .long, help: ArgumentHelp("Name for EHLO/HELO (default: this machine's FQDN, or an address literal).", valueName: "NAME"))
    var helo: String?

    @Option(name: .long, help: ArgumentHelp("Authenticate as NAME; password from SMTP_PASSWORD or --password-file.", valueName: "NAME"))
    var user: String?

    @Option(name: .customLong("password-file"), help: ArgumentHelp("File holding the password (first line).", valueName: "PATH"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("Force a SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, ...).", valueName: "MECH"))
    var auth: String?

    @Flag(name: .customLong("allow-plaintext-auth"), help: "Allow AUTH on a connection without TLS (refused by default).")
    var allowPlaintextAuth = false

    @Option(name: .long, help: ArgumentHelp("Message to send (RFC 5322 text); '-' reads stdin (default: a built-in test message).", valueName: "PATH"))
    var data: String?

    @Option(name: .customLong("max-size"), help: ArgumentHelp("Largest --data read from a stream (stdin, a pipe, a FIFO), in octets (default 104857600). A server's SIZE limit is checked as well.", valueName: "OCTETS"))
    var maxSize: Int?
    @Flag(name: .long, help: "Speak LMTP (RFC 2033): LHLO, and one reply per recipient after the data. SERVER may then be unix:/path for a Unix socket. Exit 3 when some recipients were refused, at RCPT or after the data.")
    var lmtp = false
    @Option(name: .long, help: ArgumentHelp("Driver that runs the engine: socket or uv.", valueName: "socket|uv"))
    var driver: DriverKind = .socket

    @Option(name: .long, help: ArgumentHelp("One limit, in seconds, for every wait (default: RFC 5321 per-phase values).", valueName: "SECONDS"))
    var timeout: Double?

    @Flag(name: .shortAndLong, help: "Transcript on stderr: one \"C: \" / \"S: \" line per line, AUTH payloads redacted.")
    var verbose = false

    @Option(name: .long, help: ArgumentHelp("Send the message N times (load mode), reusing sessions. A message the server did not take (4xx to MAIL, or a 421 or close before it) goes again on a new session; the greeting timeout is 30 s unless --timeout is given.", valueName: "N"))
    var `repeat`: Int?

    @Option(name: .long, help: ArgumentHelp("Spread --repeat over C concurrent sessions.", valueName: "C"))
    var connections: Int?

    @Option(name: .customLong("session-messages"), help: ArgumentHelp("With --repeat: end each session after M messages and open a new one (like smtp-source without -d when M is 1).", valueName: "M"))
    var sessionMessages: Int?

    @Flag(name: .customLong("no-tls-resume"), help: "Do not resume TLS sessions: every connection of a --repeat run does a full handshake (by default a session a server gave is offered again to that same server, name, host and port).")
    var noTLSResume = false

    @Option(name: .long, help: ArgumentHelp("Subject of a message built from the message options (UTF-8; encoded as RFC 2047 needs).", valueName: "TEXT"))
    var subject: String?

    @Option(name: .long, help: ArgumentHelp("Add a header field to the built message (repeatable).", valueName: "'Name: value'"))
    var header: [String] = []

    @Option(name: .long, help: ArgumentHelp("Text body of the built message; @FILE reads it from FILE.", valueName: "TEXT|@FILE"))
    var body: String?

    @Option(name: .long, help: ArgumentHelp("HTML body of the built message, read from FILE (with --body: multipart/alternative).", valueName: "FILE"))
    var html: String?

    @Option(name: .long, help: ArgumentHelp("Attach a file to the built message (repeatable), streamed from disk.", valueName: "PATH"))
    var attach: [String] = []

    @Option(name: .customLong("attach-type"), help: ArgumentHelp("Content type of the --attach just before (default: guessed from the file name).", valueName: "TYPE"))
    var attachType: [String] = []

    @Flag(name: .customShort("t"), help: "Recipients from the message's To, Cc and Bcc fields (plus any TO given); Bcc is removed from the copy sent. The message comes from --data, else stdin.")
    var recipientsFromHeader = false

    @Option(name: .customShort("f"), help: ArgumentHelp("With -t: the envelope sender (default: the account's from, else the From field).", valueName: "ADDR"))
    var envelopeFrom: String?

    @Option(name: .long, help: ArgumentHelp("Accounts file (default: $XDG_CONFIG_HOME/smtp-send/config, or ~/.config/smtp-send/config).", valueName: "FILE"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Send through the account NAME of the config file: SERVER is then omitted.", valueName: "NAME"))
    var account: String?

    @Flag(name: .customLong("dry-run"), help: "Print the envelope (\"MAIL FROM:<a>\" and one \"RCPT TO:<b>\" line each) and exit without connecting.")
    var dryRun = false

    @Argument(help: ArgumentHelp("SERVER (unless --account or a default account), FROM (unless -t), then the TO addresses.", valueName: "SERVER FROM TO"))
    var arguments: [String] = []

    /// The argument vector parsed (for the order of --attach and --attach-type).
    nonisolated(unsafe) static var parsedArguments: [String] = Array(CommandLine.arguments.dropFirst())

    enum TLSMode: String, ExpressibleByArgument, CaseIterable {
        case opportunistic, required, implicit, off
    }

    enum DriverKind: String, ExpressibleByArgument, CaseIterable {
        case socket, uv
    }

    static func main() {
        // A peer that resets mid-write must be an error, not a signal that kills the process.
        signal(SIGPIPE, SIG_IGN)
        let status: Int32
        if SendmailMode.isInvoked(as: CommandLine.arguments.first ?? "") {
            exitNow(sendmailMain())
        }
        do {
            var command = try parseAsRoot()
            if let send = command as? SMTPSend {
                status = send.execute()
            } else {
                // The built-in help command: its run() throws the clean exit that prints help.
                try command.run()
                status = 0
            }
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                status = 0
            } else {
                writeAll(2, "smtp-send: \(message(for: error))\n\(usageString)\n")
                status = 2
            }
        }
        exitNow(status)
    }

    static let usageString = "usage: smtp-send [OPTIONS] SERVER FROM TO [TO ...]   (smtp-send --help for details)"

    static func exitNow(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// Sendmail mode: sendmail's arguments, sysexits statuses, one line on stderr for errors.
    static func sendmailMain() -> Int32 {
        do {
            let arguments = try SendmailMode.translate(Array(CommandLine.arguments.dropFirst()))
            parsedArguments = arguments
            let command = try SMTPSend.parse(arguments)
            return command.execute(sendmail: true)
        } catch let error as UsageError {
            writeAll(2, "sendmail: \(error.message)\n")
        } catch {
            writeAll(2, "sendmail: \(message(for: error).split(separator: "\n").first ?? "")\n")
        }
        return Int32(SendmailMode.usage)
    }

    /// Refuses bad input (exit 2) or runs the send.
    func execute(sendmail: Bool = false) -> Int32 {
        do {
            let plan = try Plan(command: self, sendmail: sendmail)
            return plan.run()
        } catch let error as UsageError {
            if sendmail {
                writeAll(2, "sendmail: \(error.message)\n")
                return Int32(SendmailMode.usage)
            }
            writeAll(2, "smtp-send: \(error.message)\n\(Self.usageString)\n")
            return 2
        } catch let error as ConfigError {
            writeAll(2, "\(sendmail ? "sendmail" : "smtp-send"): \(error.message)\n")
            return sendmail ? Int32(SendmailMode.config) : 2
        } catch {
            writeAll(2, "smtp-send: \(error)\n")
            return 2
        }
    }
}

extension SMTPSend {
    /// The message options, each --attach-type paired with the --attach before it.
    func messageOptions() throws -> MessageOptions {
        var options = MessageOptions(subject: subject, headers: header, body: body, html: html)
        var types: [String?] = Array(repeating: nil, count: attach.count)
        var attachesSeen = 0
        var typesSeen = 0
        var index = 0
        let words = Self.parsedArguments
        while index < words.count, words[index] != "--" {
            let word = words[index]
            if word == "--attach" || word.hasPrefix("--attach=") {
                attachesSeen += 1
            } else if word == "--attach-type" || word.hasPrefix("--attach-type=") {
                guard attachesSeen > 0, attachesSeen <= types.count, types[attachesSeen - 1] == nil,
                      typesSeen < attachType.count else {
                    throw UsageError("--attach-type gives the type of the --attach just before it")
                }
                types[attachesSeen - 1] = attachType[typesSeen]
                typesSeen += 1
            }
            index += (word == "--attach" || word == "--attach-type") ? 2 : 1
        }
        guard typesSeen == attachType.count else { throw UsageError("--attach-type gives the type of the --attach just before it") }
        options.attachments = zip(attach, types).map { (path: $0, type: $1) }
        return options
    }
}

/// Input refused before connecting (exit 2).
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
