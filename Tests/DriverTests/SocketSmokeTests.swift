import SMTPCore
import SMTPDriverCore
import SMTPSocketDriver
import Testing

@Suite("Socket driver smoke", .enabled(if: Rig.isAvailable))
struct SocketSmokeTests {
    @Test func sendThroughSink() throws {
        let (message, _) = Rig.message()
        let report = try SMTPClient.send(message, options: Rig.options("RIG_SINK_PORT", tls: .off))
        #expect(report.status == .delivered)
    }
}
