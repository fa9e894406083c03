import Foundation
import SMTPCore
import SMTPConnection
import SMTPNIODriver
import Testing

@Suite("SwiftNIO: many sessions on one event loop", .serialized)
struct NIOLoadTests {
    @Test(.enabled(if: Rig.isAvailable))
    func aThousandSessionsOnOneEventLoopAgainstTheSink() throws {
        try MemoryLock.exclusively {
            // 1,000 sessions at once, each sending one message, on one event loop.
            let sender = NIOBatchSender(options: Rig.options("RIG_SINK_PORT", tls: .off), connections: 1000)
            var reports = [MessageOutcome?](repeating: nil, count: 1000)
            var callbacks = 0
            let summary = try sender.run(count: 1000, makeMessage: { _ in Rig.message().0 }, completion: { index, report in
                callbacks += 1
                #expect(reports[index] == nil, "one callback per message")
                reports[index] = report
            })
            #expect(callbacks == 1000)
            #expect(summary.delivered == 1000, "\(summary)")
            #expect(summary.connectionsOpened == 1000)
            #expect(reports.allSatisfy { $0?.status == .delivered })
        }
    }

    @Test(.enabled(if: Rig.isAvailable))
    func tenSessionsAHundredMessagesToPostfixOverSTARTTLS() throws {
        try MemoryLock.exclusively {
            let sender = NIOBatchSender(options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required), connections: 10)
            var reports = [MessageOutcome?](repeating: nil, count: 100)
            let summary = try sender.run(count: 100, makeMessage: { index in
                Rig.message(to: ["nio\(index)@example.net"]).0
            }, completion: { index, report in reports[index] = report })
            #expect(summary.delivered == 100, "\(summary)")
            #expect(summary.connectionsOpened == 10)
            let ids = reports.compactMap { Rig.queueID($0?.dataReply) }
            #expect(Set(ids).count == 100)
            let missing = Rig.awaitDelivered(queueIDs: ids, timeout: .seconds(60))
            #expect(missing.isEmpty, "\(missing.count) messages without status=sent in the maillog")
        }
    }
}
