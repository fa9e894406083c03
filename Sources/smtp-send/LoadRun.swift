import Glibc
import SMTPCore
import SMTPConnection
import SMTPSocketDriver
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
        // One message value, sent again and again: each send reads the checked content afresh.
        let message = plan.makeMessage()
        let makeMessage: (Int) -> OutgoingMessage = { _ in message }

        switch plan.driver {
        case .uv:
            let sender = UVBatchSender(options: plan.options, connections: plan.connections, observer: output.observer(announce: true))
            do {
                let summary = try sender.run(count: count, makeMessage: makeMessage, completion: { _, report in record(report) })
                if lastError == nil { lastError = summary.lastError }
            } catch {
                lastError = "\(error)"
                failed = count - delivered
            }
        case .socket:
            runSocketSessions(count: count, makeMessage: makeMessage, record: record, lastError: &lastError)
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

    /// C blocking sessions on C threads.
    private func runSocketSessions(count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                                   record: @escaping (MessageOutcome) -> Void, lastError: inout String?) {
        let shared = SharedLoad(makeMessage: makeMessage, record: record)
        let sessions = min(plan.connections, count)
        runOnThreads(sessions) { [plan, output] session in
            // Each session gets an equal share up front, so each can pipeline its own.
            let share = count / sessions + (session < count % sessions ? 1 : 0)
            do {
                let blocking = try BlockingSession(options: plan.options, observer: output.observer(announce: session == 0))
                blocking.send(count: share, makeMessage: { _ in shared.nextMessage() },
                              completion: { _, report in shared.record(report) })
                blocking.close()
            } catch {
                shared.failAll(share, because: "\(error)")
            }
        }
        if let first = shared.firstError { lastError = first }
    }
}

/// What the socket sessions of a load run share, behind one lock.
private final class SharedLoad: @unchecked Sendable {
    private let lock = Lock()
    private let makeMessage: (Int) -> OutgoingMessage
    private let recordReport: (MessageOutcome) -> Void
    private var next = 0
    private(set) var firstError: String?

    init(makeMessage: @escaping (Int) -> OutgoingMessage, record: @escaping (MessageOutcome) -> Void) {
        self.makeMessage = makeMessage
        self.recordReport = record
    }

    func nextMessage() -> OutgoingMessage {
        lock.withLock {
            next += 1
            return makeMessage(next)
        }
    }

    func record(_ report: MessageOutcome) {
        lock.withLock { recordReport(report) }
    }

    func failAll(_ count: Int, because error: String) {
        lock.withLock {
            if firstError == nil { firstError = error }
            for _ in 0..<count {
                recordReport(.notAttempted(makeMessage(0).envelope, because: .local(.invalidParameter(error))))
            }
        }
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
