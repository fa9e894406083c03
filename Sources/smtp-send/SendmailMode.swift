import SMTPCore

/// smtp-send invoked as `sendmail` (argv[0]'s base name): sendmail's interface, sysexits
/// statuses, nothing printed on success, one line on stderr otherwise.
enum SendmailMode {
    static let usage = 64, dataError = 65, noUser = 67, noHost = 68, unavailable = 69, software = 70
    static let tempFail = 75, protocolError = 76, config = 78

    static func isInvoked(as argv0: String) -> Bool {
        (argv0.split(separator: "/").last.map(String.init) ?? argv0) == "sendmail"
    }

    /// `sendmail [-t] [-i] [-oi] [-f FROM] [--config FILE] [--account NAME] [RECIPIENT...]` as
    /// smtp-send's own arguments (the message is standard input). Accepted and ignored, as
    /// callers pass them: -i, -oX... (-oi, -oem, ...), -odi, -bm, -F NAME, -v.
    static func translate(_ argv: [String]) throws -> [String] {
        var result = ["--data", "-"]
        var recipients: [String] = []
        var index = 0
        func value(_ option: String) throws -> String {
            index += 1
            guard index < argv.count else { throw UsageError("\(option) needs a value") }
            return argv[index]
        }
        var onlyRecipients = false
        while index < argv.count {
            let word = argv[index]
            if onlyRecipients || !word.hasPrefix("-") || word == "-" {
                recipients.append(word)
            } else if word == "--" {
                onlyRecipients = true
            } else if word == "-t" {
                result.append("-t")
            } else if word == "-i" || word.hasPrefix("-o") || word.hasPrefix("-od") || word == "-bm" || word == "-v" {
                // -i/-oi: a line with a lone dot does not end the message; stdin is always read
                // to its end, so this is how smtp-send behaves anyway.
            } else if word == "-f" || word == "-r" {
                result += ["-f", try value(word)]
            } else if word.hasPrefix("-f") || word.hasPrefix("-r") {
                result += ["-f", String(word.dropFirst(2))]
            } else if word == "-F" {
                _ = try value(word)
            } else if word.hasPrefix("-F") {
            } else if word == "--config" || word == "--account" {
                result += [word, try value(word)]
            } else if word.hasPrefix("--config=") || word.hasPrefix("--account=") {
                result.append(word)
            } else {
                throw UsageError("unsupported option \(word) (sendmail [-t] [-i] [-oi] [-f FROM] [--config FILE] [--account NAME] [RECIPIENT...])")
            }
            index += 1
        }
        if !recipients.isEmpty { result.append("--") }
        return result + recipients
    }

    /// The status and the one line for an outcome; nil line on success.
    static func report(_ outcome: MessageOutcome) -> (Int32, String?) {
        switch outcome.status {
        case .delivered:
            return (0, nil)
        case .unknown:
            return (Int32(tempFail), "no reply to the end of the message: it may or may not have been delivered")
        case .partiallyDelivered, .notDelivered:
            if outcome.status == .partiallyDelivered || outcome.failure == .noRecipientsAccepted {
                let refused = outcome.undelivered
                let text = refused.map { "\($0.address): \($0.reply.map(\.description) ?? "no reply")" }.joined(separator: "; ")
                let transient = refused.contains { $0.reply?.code.isTransientNegative ?? true }
                return (Int32(transient ? tempFail : noUser), "recipient refused: \(SMTPReply.printable(text))")
            }
            guard let failure = outcome.failure else { return (Int32(software), "not sent") }
            return (Int32(status(of: failure)), SMTPReply.printable("\(failure)"))
        }
    }

    static func status(of failure: TransactionFailure) -> Int {
        switch failure {
        case .senderRefused(let reply), .dataRefused(let reply), .messageRefused(let reply):
            return reply.code.isTransientNegative ? tempFail : unavailable
        case .noRecipientsAccepted, .recipientsRefused:
            return noUser
        case .cancelled:
            return tempFail
        case .local(let error):
            return status(of: error, local: true)
        case .sessionEnded(let error):
            return status(of: error, local: false)
        }
    }

    static func status(of error: SMTPError, local: Bool) -> Int {
        switch error {
        case .invalidAddress, .invalidHeloName, .invalidParameter, .noRecipients: return usage
        case .invalidBody, .messageTooLarge, .extensionRequired: return dataError
        case .misuse: return software
        case .protocolViolation: return protocolError
        case .greetingRefused(let reply), .serviceNotAvailable(let reply), .ehloRefused(let reply),
             .heloRefused(let reply), .ehloRefusedAfterTLS(let reply), .resetRefused(let reply),
             .startTLSRefused(let reply), .authenticationFailed(let reply):
            return reply.code.isTransientNegative ? tempFail : unavailable
        case .tlsNotOffered, .tlsHandshakeFailed, .certificateRejected, .authenticationRequiresTLS,
             .authenticationNotOffered, .noCommonAuthenticationMechanism, .authenticationAborted:
            return unavailable
        case .transportFailed(.resolution, _): return noHost
        case .transportFailed(.connect, _): return unavailable
        case .timeout, .connectionClosed, .transportFailed: return tempFail
        case .cancelled, .messageCancelled: return tempFail
        }
    }
}
