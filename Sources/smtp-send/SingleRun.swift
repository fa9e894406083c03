import SMTPConnection
import SMTPCore
import SMTPSocketDriver
import SMTPNIODriver
import SMTPUVDriver

/// One message, one session: the seed's behaviour.
struct SingleRun {
    let plan: Plan
    let output: Output

    func run() -> Int32 {
        let message = plan.makeMessage()
        let outcome: MessageOutcome
        do {
            switch plan.driver {
            case .socket:
                outcome = try SMTPClient.send(message, options: plan.options, observer: output.observer(announce: true))
            case .uv:
                // One message, one session, one attempt: the same report as the socket driver's.
                let sender = UVBatchSender(options: plan.options, connections: 1, maxAttempts: 1, observer: output.observer(announce: true))
                var result: MessageOutcome?
                _ = try sender.run(count: 1, makeMessage: { _ in message }, completion: { result = $1 })
                outcome = result!
            case .nio:
                // The same: one session on an event loop of its own.
                let sender = NIOBatchSender(options: plan.options, connections: 1, maxAttempts: 1, observer: output.observer(announce: true))
                var result: MessageOutcome?
                _ = try sender.run(count: 1, makeMessage: { _ in message }, completion: { result = $1 })
                outcome = result!
            }
        } catch {
            if plan.sendmail {
                output.error("sendmail: \(SMTPReply.printable("\(error)"))")
                return Int32(SendmailMode.config)
            }
            return notSent("\(error)")
        }
        if plan.sendmail {
            let (status, line) = SendmailMode.report(outcome)
            if let line { output.error("sendmail: \(line)") }
            return status
        }
        return describe(outcome)
    }

    /// Prints the outcome the seed's way and picks the exit status.
    func describe(_ outcome: MessageOutcome) -> Int32 {
        let total = outcome.recipientCount
        switch outcome.status {
        case .delivered:
            output.line("Message successfully sent to \(total) recipient(s)")
            return 0
        case .partiallyDelivered:
            output.line("Message sent to \(outcome.deliveredCount) of \(total) recipient(s)")
            for recipient in outcome.undelivered {
                output.line("  refused \(recipient.address): \(recipient.reply.map(\.description) ?? "no reply")")
            }
            return 3
        case .unknown:
            return notSent("no reply to the end of the message: it may or may not have been delivered (\(reason(outcome.failure)))")
        case .notDelivered:
            if case .sessionEnded(.ehloRefusedAfterTLS(let reply)) = outcome.failure {
                return notSent("Couldn't EHLO after STARTTLS: \(reply)", status: 5)
            }
            if case .noRecipientsAccepted = outcome.failure {
                let details = outcome.undelivered.map { "\($0.address): \($0.reply.map(\.description) ?? "no reply")" }
                return notSent("all recipients were refused (\(details.joined(separator: "; ")))")
            }
            return notSent(reason(outcome.failure))
        }
    }

    private func reason(_ failure: TransactionFailure?) -> String {
        guard let failure else { return "unknown error" }
        switch failure {
        case .sessionEnded(let error), .local(let error): return "\(error)"
        default: return "\(failure)"
        }
    }

    private func notSent(_ why: String, status: Int32 = 1) -> Int32 {
        output.line(" *** Your message may not have been sent!")
        output.line(SMTPReply.printable(why))
        return status
    }
}
