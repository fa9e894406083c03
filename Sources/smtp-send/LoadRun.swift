import Glibc
import SMTPCore
import SMTPConnection
import SMTPSocketDriver
import SMTPNIODriver
import SMTPUVDriver

/// --repeat N [--connections C]: like Postfix's smtp-source, reusing sessions and pipelining.
struct LoadRun {
    let plan: Plan
    let output: Output

    func run(count: Int) -> Int32 {
        let progress = Progress(total: count, output: output)
        let started = ContinuousClock.now
        var lastError: String?
        var delivered = 0
        var failed = 0
        let record: (MessageOutcome) -> Void = { report in
            if report.status == .delivered { delivered += 1 } else {
                failed += 1
                if let failure = report.failure { lastError = "\(failure)" }
            }
            progress.update(done: delivered + failed, failed: failed)
        }
        // A --data message is one value sent again and again (each send reads the checked
        // content afresh); the built-in message gets its own Message-ID and Date each time.
        let makeMessage: (Int) -> OutgoingMessage = { _ in plan.makeMessage() }

        let summary: BatchSummary
        do {
            switch plan.driver {
            case .uv:
                summary = try UVBatchSender(options: plan.options, connections: plan.connections, messagesPerSession: plan.sessionMessages,
                                            observer: output.observer(announce: true))
                    .run(count: count, makeMessage: makeMessage, completion: { _, outcome in record(outcome) })
            case .nio:
                summary = try NIOBatchSender(options: plan.options, connections: plan.connections, messagesPerSession: plan.sessionMessages,
                                             observer: output.observer(announce: true))
                    .run(count: count, makeMessage: makeMessage, completion: { _, outcome in record(outcome) })
            case .socket:
                summary = try BlockingBatchSender(options: plan.options, connections: plan.connections,
                                                  messagesPerSession: plan.sessionMessages, observer: output.observer(announce: true))
                    .run(count: count, makeMessage: makeMessage, completion: { _, outcome in record(outcome) })
            }
            if lastError == nil { lastError = summary.lastError }
            if output.verbose, summary.tlsFullHandshakes + summary.tlsResumedHandshakes > 0 {
                output.error("-- TLS handshakes: \(summary.tlsFullHandshakes) full, \(summary.tlsResumedHandshakes) resumed"
                             + " (\(summary.connectionsOpened) connections) --")
            }
        } catch {
            lastError = "\(error)"
            failed = count - delivered
        }
        progress.finish()
        let elapsed = (ContinuousClock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(delivered) / seconds : 0
        if failed > 0, let lastError { output.error("smtp-send: last failure: \(SMTPReply.printable(lastError))") }
        output.line("Sent \(delivered) messages in \(fixed(seconds, decimals: 3)) s (\(fixed(rate, decimals: 1)) msg/s), \(failed) failed")
        if failed == 0 { return 0 }
        return delivered == 0 ? 1 : 3
    }
}

/// "1234/10000 sent, 0 failed" on stderr, only when stderr is a terminal.
final class Progress: @unchecked Sendable {
    private let total: Int
    private let output: Output
    private let enabled = isatty(2) == 1
    private var lastPrint = ContinuousClock.now

    init(total: Int, output: Output) {
        self.total = total
        self.output = output
    }

    func update(done: Int, failed: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastPrint > .milliseconds(200) || done == total else { return }
        lastPrint = now
        writeAll(2, "\r\(done)/\(total) sent, \(failed) failed ")
    }

    func finish() {
        if enabled { writeAll(2, "\n") }
    }
}
