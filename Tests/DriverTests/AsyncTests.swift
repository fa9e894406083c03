import SMTPCore
import SMTPConnection
import SMTPUVDriver
import Testing

@Suite("libuv async face")
struct AsyncTests {
    @Test(.enabled(if: Rig.isAvailable))
    func awaitReportsFromTheLoopThread() async throws {
        let sender = UVBatchSender(options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required), connections: 3)
        let messages = (0..<12).map { Rig.message(to: ["async\($0)@example.net"]).0 }
        let reports = try await sender.send(messages)
        #expect(reports.count == 12)
        #expect(reports.allSatisfy { $0.status == .delivered })
        let ids = reports.compactMap { Rig.queueID($0.dataReply) }
        #expect(Rig.awaitDelivered(queueIDs: ids).isEmpty)
    }
}
