import SMTPConnection
import SMTPCore
import SMTPSocketDriver
import SMTPUVDriver

/// A load run: `count` messages over `connections` sessions that each take the next message
/// when they can, on one libuv loop and one thread, or with one thread per session.
func loadTest(_ options: ClientOptions, count: Int, connections: Int, onLibuv: Bool) throws -> BatchSummary {
    let makeMessage: (Int) -> OutgoingMessage = { index in       // made lazily, as sessions take them
        OutgoingMessage(from: "load@example.org", to: ["sink@example.net"],
                        content: Array("Message-ID: <\(index).load@example.org>\r\nSubject: load \(index)\r\n\r\nHello.\r\n".utf8))
    }
    var undelivered: [Int: MessageOutcome] = [:]                 // completion runs once per message, one at a time
    let record: (Int, MessageOutcome) -> Void = { index, outcome in
        if outcome.status != .delivered { undelivered[index] = outcome }
    }
    let started = ContinuousClock.now
    let summary = onLibuv
        ? try UVBatchSender(options: options, connections: connections)
            .run(count: count, makeMessage: makeMessage, completion: record)
        : try BlockingBatchSender(options: options, connections: connections)
            .run(count: count, makeMessage: makeMessage, completion: record)
    let elapsed = ContinuousClock.now - started
    print("\(summary.delivered) of \(count) delivered in \(elapsed) over \(summary.connectionsOpened) connections;",
          "\(summary.retried) sent again, \(summary.failed) failed", summary.lastError ?? "")
    for (index, outcome) in undelivered.sorted(by: { $0.key < $1.key }).prefix(5) {
        print("  message \(index): \(outcome)")
    }
    return summary
}
