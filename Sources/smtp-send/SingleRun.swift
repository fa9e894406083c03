import SMTPCore
import SMTPDriverCore
import SMTPSocketDriver
import SMTPUVDriver

/// One message, one session: the seed's behaviour.
struct SingleRun {
    let plan: Plan
    let output: Output

    func run() -> Int32 {
        let message: OutgoingMessage
        do {
            message = try plan.makeMessage()
        } catch {
            return notSent("cannot read the message: \(error)")
        }
        let report: DeliveryReport
        switch plan.driver {
        case .socket:
            do {
                report = try SMTPClient.send(message, options: plan.options, observer: output.observer(announce: true))
            } catch {
                return failed(error)
            }
        case .uv:
            let sender = UVBatchSender(options: plan.options, connections: 1, observer: output.observer(announce: true))
            var result: DeliveryReport?
            do {
                let summary = try sender.run(count: 1, makeMessage: { _ in message }, completion: { result = $1 })
                if let connectError = summary.connectError, case .sessionEnded(.connectionClosed(.connect))? = result?.failure {
                    return notSent("cannot connect to \(plan.displayServer): \(connectError)")
                }
            } catch {
                return failed(error)
            }
            report = result!
        }
        return describe(report)
    }

    /// Prints the outcome the seed's way and picks the exit status.
    func describe(_ report: DeliveryReport) -> Int32 {
        let total = report.recipients.count
        switch report.status {
        case .delivered:
            output.line("Message successfully sent to \(total) recipient(s)")
            return 0
        case .partiallyDelivered:
            output.line("Message sent to \(report.deliveredCount) of \(total) recipient(s)")
            for recipient in report.refused {
                output.line("  refused \(recipient.address): \(recipient.reply.map(\.description) ?? "no reply")")
            }
            return 3
        case .unknown:
            return notSent("no reply to the end of the message: it may or may not have been delivered (\(reason(report.failure)))")
        case .notDelivered:
            if case .sessionEnded(.ehloRefusedAfterTLS(let reply)) = report.failure {
                return notSent("Couldn't EHLO after STARTTLS: \(reply)", status: 5)
            }
            if case .noRecipientsAccepted = report.failure {
                let details = report.refused.map { "\($0.address): \($0.reply.map(\.description) ?? "no reply")" }
                return notSent("all recipients were refused (\(details.joined(separator: "; ")))")
            }
            return notSent(reason(report.failure))
        }
    }

    private func reason(_ failure: TransactionFailure?) -> String {
        guard let failure else { return "unknown error" }
        switch failure {
        case .sessionEnded(let error), .local(let error): return "\(error)"
        default: return "\(failure)"
        }
    }

    private func failed(_ error: SMTPClientError) -> Int32 {
        switch error {
        case .session(.ehloRefusedAfterTLS(let reply)):
            return notSent("Couldn't EHLO after STARTTLS: \(reply)", status: 5)
        case .connect(let why):
            return notSent("cannot connect to \(plan.displayServer): \(why)")
        default:
            return notSent("\(error)")
        }
    }

    private func notSent(_ why: String, status: Int32 = 1) -> Int32 {
        output.line(" *** Your message may not have been sent!")
        output.line(SMTPReply.printable(why))
        return status
    }
}
