import SMTPTLS
import Testing

/// Every TLS set-up failure on our side is a thrown error naming the file and the cause, never a
/// crash (issue 11, point 2). No rig needed.
@Suite("TLS set-up errors")
struct TLSSetupErrorTests {
    private func setupError(_ configuration: TLSConfiguration) -> TLSSetupError? {
        do {
            _ = try TLSClientContext(configuration: configuration)
            return nil
        } catch {
            return error
        }
    }

    @Test func caFileThatIsNotPEM() {
        let path = TestCertificates.file(named: "hostname", holding: "mx.example\n")
        #expect(setupError(TLSConfiguration(caFile: path)) != nil)
    }
}
