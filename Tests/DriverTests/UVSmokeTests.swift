import SMTPCore
import SMTPDriverCore
import SMTPUVDriver
import Testing

@Suite("libuv driver smoke", .enabled(if: Rig.isAvailable))
struct UVSmokeTests {
    @Test func batchThroughSink() throws {
        let sender = UVBatchSender(options: Rig.options("RIG_SINK_PORT", tls: .off), connections: 10)
        var reports = [DeliveryReport?](repeating: nil, count: 200)
        let summary = try sender.run(count: 200, makeMessage: { _ in Rig.message().0 }, completion: { reports[$0] = $1 })
        #expect(summary.delivered == 200)
        #expect(reports.allSatisfy { $0?.status == .delivered })
        #expect(summary.connectionsOpened == 10)
    }
}
