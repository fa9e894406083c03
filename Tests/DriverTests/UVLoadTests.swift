import Foundation
import SMTPCore
import SMTPConnection
import SMTPUVDriver
import Testing

@Suite("libuv: many sessions on one loop", .serialized)
struct UVLoadTests {
    @Test(.enabled(if: Rig.isAvailable))
    func hundredSessionsThousandMessagesToPostfix() throws {
        try MemoryLock.exclusively {
            let sender = UVBatchSender(options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required), connections: 100)
            var reports = [MessageOutcome?](repeating: nil, count: 1000)
            var callbacks = 0
            let summary = try sender.run(count: 1000, makeMessage: { index in
                Rig.message(to: ["load\(index)@example.net"]).0
            }, completion: { index, report in
                callbacks += 1
                #expect(reports[index] == nil, "one callback per message")
                reports[index] = report
            })
            #expect(callbacks == 1000)
            #expect(summary.delivered == 1000, "\(summary)")
            #expect(summary.connectionsOpened == 100)
            #expect(summary.loopClosedCleanly, "every handle closed, loop released")
            let ids = reports.compactMap { Rig.queueID($0?.dataReply) }
            #expect(Set(ids).count == 1000)
            let missing = Rig.awaitDelivered(queueIDs: ids, timeout: .seconds(120))
            #expect(missing.isEmpty, "\(missing.count) messages without status=sent in the maillog")
        }
    }

    @Test(.enabled(if: Rig.isAvailable))
    func aThousandIdleCapableSessionsOnOneLoopAgainstTheSink() throws {
        try MemoryLock.exclusively {
            // 1,000 sessions at once, each sending one message, on one thread.
            let sender = UVBatchSender(options: Rig.options("RIG_SINK_PORT", tls: .off), connections: 1000)
            let summary = try sender.run(count: 1000, makeMessage: { _ in Rig.message().0 }, completion: { _, _ in })
            #expect(summary.delivered == 1000, "\(summary)")
            #expect(summary.loopClosedCleanly)
        }
    }
}
