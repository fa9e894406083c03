import Glibc
import SMTPCore
import SMTPConnection

import Glibc
import SMTPCore
import SMTPConnection

/// smtp-send: the classic tls.py, done right. The interface is fixed by docs (cli-spec.md):
/// options, output lines and exit statuses are relied upon by scripts. The options are read by
/// a table (SMTPSend+Options.swift, OptionTable.swift); the manual is SMTPSend+Manual.swift.
@main
struct SMTPSend {
    var tls: TLSMode?
    var caFile: String?
    var insecure = false
    var tlsName: String?
    var helo: String?
    var user: String?
    var passwordFile: String?
    var auth: String?
    var allowPlaintextAuth = false
    var data: String?
    var maxSize: Int?
    var lmtp = false
    var driver: DriverKind = .socket
    var timeout: Double?
    var verbose = false
    var `repeat`: Int?
    var connections: Int?
    var sessionMessages: Int?
    var noTLSResume = false
    var subject: String?
    var header: [String] = []
    var body: String?
    var html: String?
    var attach: [String] = []
    /// Each --attach-type, with how many --attach came before it (the one it types is the last).
    var attachType: [(type: String, after: Int)] = []
    var recipientsFromHeader = false
    var envelopeFrom: String?
    var config: String?
    var account: String?
    var dryRun = false
    /// SERVER (unless --account or a default account), FROM (unless -t), then the TO addresses.
    var arguments: [String] = []

    enum TLSMode: String, CaseIterable {
        case opportunistic, required, implicit, off
    }

    enum DriverKind: String, CaseIterable {
        case socket, uv, nio
    }

    /// The command line's options and arguments (after the program name), or the manual.
    static func parse(_ arguments: [String], help: Bool = true) throws -> ParsedCommandLine<SMTPSend> {
        try optionTable.parse(arguments, into: SMTPSend(), help: help)
    }

    static func main() {
        // A peer that resets mid-write must be an error, not a signal that kills the process.
        signal(SIGPIPE, SIG_IGN)
        if SendmailMode.isInvoked(as: CommandLine.arguments.first ?? "") {
            exitNow(sendmailMain())
        }
        do {
            switch try parse(Array(CommandLine.arguments.dropFirst())) {
            case .help:
                writeAll(1, manual)
                exitNow(0)
            case .command(let send):
                exitNow(send.execute())
            }
        } catch let error as UsageError {
            writeAll(2, "smtp-send: \(error.message)\n\(usageString)\n")
        } catch {
            writeAll(2, "smtp-send: \(error)\n\(usageString)\n")
        }
        exitNow(2)
    }

    static let usageString = "usage: smtp-send [OPTIONS] SERVER FROM TO [TO ...]   (smtp-send --help for details)"

    static func exitNow(_ status: Int32) -> Never {
        Glibc.exit(status)
    }

    /// Sendmail mode: sendmail's arguments, sysexits statuses, one line on stderr for errors.
    static func sendmailMain() -> Int32 {
        do {
            let arguments = try SendmailMode.translate(Array(CommandLine.arguments.dropFirst()))
            // -h after --account or --config is their missing value, not a request for the manual.
            guard case .command(let command) = try SMTPSend.parse(arguments, help: false) else {
                throw UsageError("sendmail has no manual option")
            }
            return command.execute(sendmail: true)
        } catch let error as UsageError {
            writeAll(2, "sendmail: \(error.message)\n")
        } catch {
            writeAll(2, "sendmail: \(error)\n")
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
        for (type, after) in attachType {
            guard after > 0, types[after - 1] == nil else {
                throw UsageError("--attach-type gives the type of the --attach just before it")
            }
            types[after - 1] = type
        }
        options.attachments = zip(attach, types).map { (path: $0, type: $1) }
        return options
    }
}

/// Input refused before connecting (exit 2).
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
