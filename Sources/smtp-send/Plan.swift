import SMTPCore
import SMTPConnection
import SMTPTLS

/// Everything checked and decided before the first byte goes out.
struct Plan: Sendable {
    let options: ClientOptions
    let sender: String
    let recipients: [String]
    let message: MessageSource
    /// The built-in message's domain (for its Message-ID), when no --data was given: it is made
    /// anew for every send, so each has its own Message-ID and Date (RFC 5322 §3.6.4).
    let builtInDomain: String?
    let driver: SMTPSend.DriverKind
    let repeatCount: Int?
    /// Load mode keeps a --data file up to this size in memory (see MessageSource.inMemory).
    static let loadMessageInMemoryLimit = 1 << 20
    let connections: Int
    /// --session-messages: a load-mode session quits after this many messages.
    let sessionMessages: Int?
    let verbose: Bool

    /// Sendmail mode: quiet on success, sysexits statuses.
    let sendmail: Bool
    let dryRun: Bool

    init(command: SMTPSend, sendmail: Bool = false) throws {
        self.sendmail = sendmail
        dryRun = command.dryRun
        var positionals = command.arguments
        let messageOptions = try command.messageOptions()
        let readHeader = command.recipientsFromHeader || sendmail
        if command.data != nil, !messageOptions.isEmpty {
            throw UsageError("--data cannot be combined with --subject, --header, --body, --html or --attach")
        }
        if command.recipientsFromHeader, !messageOptions.isEmpty {
            throw UsageError("-t reads the message from --data or stdin: it cannot be combined with --subject, --header, --body, --html or --attach")
        }
        if command.envelopeFrom != nil, !readHeader {
            throw UsageError("-f needs -t (without -t, FROM is an argument)")
        }

        // The account: --account, or the default one when SERVER is left out (sendmail mode,
        // -t without arguments, or a first argument that is an address).
        var account: Account?
        let firstIsAddress = positionals.first.map { $0.isEmpty || $0.contains("@") } ?? command.recipientsFromHeader
        if sendmail || command.account != nil || firstIsAddress {
            guard let path = command.config ?? AccountConfig.defaultPath() else {
                throw ConfigError("no SERVER given and no config file (HOME is not set; give --config)")
            }
            let config = try AccountConfig.load(path)
            guard let name = command.account ?? config.defaultAccount else {
                throw ConfigError("\(path): no SERVER given and no default account ([default] account = NAME)")
            }
            account = try config.account(name)
        }

        var unixSocket: String?
        let server: ServerAddress
        if let account, let host = account.host {
            var address = ServerAddress("localhost")!
            address.host = host
            address.port = account.port
            server = address
        } else {
            guard !positionals.isEmpty else { throw UsageError("missing SERVER, FROM and TO arguments") }
            let serverText = positionals.removeFirst()
            if serverText.hasPrefix("unix:") {
                guard command.lmtp else { throw UsageError("SERVER unix:PATH needs --lmtp") }
                let path = String(serverText.dropFirst(5))
                guard path.hasPrefix("/"), !path.contains("\0") else { throw UsageError("unix:PATH needs an absolute path") }
                unixSocket = path
            }
            guard let address = unixSocket != nil ? ServerAddress("localhost") : ServerAddress(serverText) else {
                throw UsageError("invalid SERVER \"\(SMTPReply.printable(serverText))\": expected host, host:port, [v6addr], [v6addr]:port or (with --lmtp) unix:/path")
            }
            server = address
        }

        // -t and sendmail mode read the message first: the envelope comes from its header.
        if let limit = command.maxSize, limit < 1 { throw UsageError("--max-size must be at least 1") }
        var headerMessage: MessageSource?
        if readHeader {
            do {
                headerMessage = try MessageSource.file(command.data ?? "-", spoolLimit: command.maxSize ?? MessageSource.defaultSpoolLimit,
                                                       readHeader: true)
            } catch {
                throw UsageError("cannot read the message: \(error)")
            }
        }
        let senderAddress: String
        var recipientList: [String]
        if let header = headerMessage?.header {
            let fromField = try header.values("From").flatMap { try HeaderParser.addresses($0) }.first
            guard let chosen = command.envelopeFrom ?? account?.from ?? fromField else {
                throw UsageError("no sender: give -f ADDR, from = in the account, or a From: field")
            }
            senderAddress = chosen
            recipientList = []
            if command.recipientsFromHeader {
                do {
                    for name in ["To", "Cc", "Bcc"] {
                        for value in header.values(name) { recipientList += try HeaderParser.addresses(value) }
                    }
                } catch {
                    throw UsageError("cannot read the recipients of the message: \(error)")
                }
            }
            var seen = Set<String>()
            recipientList = (recipientList + positionals).filter { seen.insert($0).inserted }
        } else {
            guard !positionals.isEmpty else { throw UsageError("missing FROM and TO arguments") }
            senderAddress = positionals.removeFirst()
            recipientList = positionals
        }

        if let problem = MailboxSyntax.problem(with: senderAddress, asRecipient: false) {
            throw UsageError("invalid FROM address \"\(SMTPReply.printable(senderAddress))\": \(problem)")
        }
        guard !recipientList.isEmpty else { throw UsageError("at least one TO address is needed") }
        for address in recipientList {
            if let problem = MailboxSyntax.problem(with: address, asRecipient: true) {
                throw UsageError("invalid TO address \"\(SMTPReply.printable(address))\": \(problem)")
            }
        }
        if let helo = command.helo, !MailboxSyntax.isValidHeloName(helo) {
            throw UsageError("invalid --helo name \"\(SMTPReply.printable(helo))\": expected a domain or an address literal like [192.0.2.1]")
        }
        if let count = command.repeat, count < 1 { throw UsageError("--repeat must be at least 1") }
        if let count = command.connections {
            guard count >= 1, count <= 10_000 else { throw UsageError("--connections must be between 1 and 10000") }
            guard command.repeat != nil else { throw UsageError("--connections needs --repeat") }
        }
        if let count = command.sessionMessages {
            guard count >= 1 else { throw UsageError("--session-messages must be at least 1") }
            guard command.repeat != nil else { throw UsageError("--session-messages needs --repeat") }
        }
        if let seconds = command.timeout, !(seconds > 0 && seconds <= 86_400) {
            throw UsageError("--timeout must be a number of seconds between 0 and 86400")
        }
        let user = command.user ?? account?.user
        if command.passwordFile != nil, user == nil { throw UsageError("--password-file needs --user") }
        if command.auth != nil, user == nil { throw UsageError("--auth needs --user") }
        let tlsName = command.tlsName ?? account?.tlsName
        let caFile = command.caFile ?? account?.caFile
        if let tlsName, tlsName.isEmpty || tlsName.contains(where: { $0.isWhitespace || $0 == "\0" }) {
            throw UsageError("invalid --tls-name")
        }

        let policy: TLSPolicy = switch command.tls ?? account?.tls ?? .opportunistic {
        case .opportunistic: .opportunistic
        case .required: .required
        case .implicit: .implicit
        case .off: .off
        }
        let port = server.port ?? (command.lmtp ? 24 : (policy == .implicit ? 465 : 25))
        var authentication: AuthenticationOptions?
        if let user {
            let fromAccount = command.user == nil && command.passwordFile == nil ? try account?.password() : nil
            let password = try fromAccount ?? Plan.password(file: command.passwordFile)
            if let mechanism = command.auth?.uppercased(), !["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER"].contains(mechanism) {
                throw UsageError("unsupported --auth mechanism \(mechanism) (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER)")
            }
            switch command.auth?.uppercased() {
            case "XOAUTH2":
                authentication = AuthenticationOptions(mechanisms: [XOAuth2Mechanism(username: user, token: password)],
                                                       allowWithoutTLS: command.allowPlaintextAuth)
            case "OAUTHBEARER":
                authentication = AuthenticationOptions(mechanisms: [OAuthBearerMechanism(username: user, token: password, host: server.host,
                                                                                         port: Int(port))],
                                                       allowWithoutTLS: command.allowPlaintextAuth)
            default:
                authentication = .passwordWithCrypto(username: user, password: password, forcing: command.auth,
                                                     allowWithoutTLS: command.allowPlaintextAuth)
            }
        }
        if let caFile, !isReadable(caFile) {
            throw UsageError("cannot read --ca-file \(caFile)")
        }

        var timeouts = Timeouts()
        var connectTimeout = Duration.seconds(30)
        if let seconds = command.timeout {
            let limit = Duration.milliseconds(Int64(seconds * 1000))
            timeouts = Timeouts(all: limit)
            connectTimeout = limit
        } else if command.repeat != nil {
            // Load mode: a session the server never greets (a full listen backlog) is replaced
            // after 30 s, not after RFC 5321's 5 minutes.
            timeouts.greeting = Plan.loadGreetingTimeout
        }
        var options = ClientOptions(host: server.host, port: port, tlsPolicy: policy,
                                    tls: TLSConfiguration(caFile: caFile, insecure: command.insecure, serverName: tlsName,
                                                            resumeSessions: !command.noTLSResume),
                                    heloName: command.helo, authentication: authentication, dialect: command.lmtp ? .lmtp : .smtp,
                                    timeouts: timeouts, connectTimeout: connectTimeout, transcript: command.verbose)
        options.unixSocketPath = unixSocket
        self.options = options
        sender = senderAddress
        recipients = recipientList
        driver = command.driver
        repeatCount = command.repeat
        connections = command.connections ?? 1
        sessionMessages = command.sessionMessages
        verbose = command.verbose

        if let headerMessage {
            message = headerMessage
            builtInDomain = nil
        } else if !messageOptions.isEmpty {
            message = try messageOptions.build(from: senderAddress, to: recipientList)
            builtInDomain = nil
        } else if let path = command.data {
            do {
                let source = try MessageSource.file(path, spoolLimit: command.maxSize ?? MessageSource.defaultSpoolLimit)
                message = command.repeat == nil ? source : try source.inMemory(upTo: Plan.loadMessageInMemoryLimit)
            } catch {
                throw UsageError("cannot read the message: \(error)")
            }
            builtInDomain = nil
        } else {
            let domain = command.helo.flatMap { $0.hasPrefix("[") ? nil : $0 } ?? "smtp-send.invalid"
            message = .builtIn(from: senderAddress, to: recipientList, heloDomain: domain)
            builtInDomain = domain
        }
        if command.insecure {
            writeAll(2, "smtp-send: warning: --insecure: the server certificate is not verified\n")
        }
    }

    /// The greeting timeout in load mode without --timeout.
    static let loadGreetingTimeout = Duration.seconds(30)

    /// SMTP_PASSWORD, or the first line of --password-file.
    static func password(file: String?) throws -> String {
        if let file {
            guard let bytes = SmallFile.contents(of: file, limit: 64 * 1024), let text = String(validating: bytes, as: UTF8.self) else {
                throw UsageError("cannot read --password-file \(file)")
            }
            let line = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).first.map(String.init) ?? ""
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        guard let password = environment("SMTP_PASSWORD") else {
            throw UsageError("--user needs a password: set SMTP_PASSWORD or give --password-file")
        }
        return password
    }

    /// The message, as often as it is sent: each send reads the checked content afresh.
    func makeMessage() -> OutgoingMessage {
        let source = builtInDomain.map { MessageSource.builtIn(from: sender, to: recipients, heloDomain: $0) } ?? message
        let envelope = Envelope(sender: sender, recipients: recipients.map { Recipient($0) },
                                bodyType: source.isEightBit ? .eightBitMIME : .sevenBit)
        return OutgoingMessage(envelope: envelope, content: source.content)
    }

    func run() -> Int32 {
        if dryRun {
            writeAll(1, "MAIL FROM:<\(sender)>\n" + recipients.map { "RCPT TO:<\($0)>\n" }.joined())
            return 0
        }
        let output = Output(verbose: verbose, quiet: sendmail)
        if let count = repeatCount {
            return LoadRun(plan: self, output: output).run(count: count)
        }
        return SingleRun(plan: self, output: output).run()
    }
}
