import SMTPTLS
import Testing

/// Every TLS set-up failure on our side is a thrown error with its own code, naming the file and
/// the cause, never a crash (issue 11, point 2). No rig needed.
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

    private let missing = "/nonexistent/smtp-tls-test/none.pem"

    // CA file

    @Test func caFileThatIsNotPEM() {
        let path = TestCertificates.file(named: "hostname", holding: "mx.example\n")
        #expect(setupError(TLSConfiguration(caFile: path))
            == TLSSetupError(.caFileNotPEM, "CA file \(path) is not PEM (no -----BEGIN line)"))
    }

    @Test func caFileThatDoesNotExist() {
        #expect(setupError(TLSConfiguration(caFile: missing))
            == TLSSetupError(.caFileUnreadable, "cannot read CA file \(missing): No such file or directory"))
    }

    @Test func caFileThatIsADirectory() {
        let directory = TestCertificates.directory
        #expect(setupError(TLSConfiguration(caFile: directory))
            == TLSSetupError(.caFileUnreadable, "cannot read CA file \(directory): Is a directory"))
    }

    @Test func caFileWithOnlyAKey() {
        let key = TestCertificates.pair("server").key
        #expect(setupError(TLSConfiguration(caFile: key))
            == TLSSetupError(.caFileHasNoCertificates, "CA file \(key) holds no certificate (only PRIVATE KEY)"))
    }

    @Test func caFileWithACorruptCertificate() {
        let path = TestCertificates.file(named: "corrupt.pem", holding: "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
        #expect(setupError(TLSConfiguration(caFile: path)) == TLSSetupError(.caFileInvalid, "cannot load CA file \(path): bad base64 decode; PEM lib"))
    }

    @Test func goodCAFileLoads() {
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile)) == nil)
    }

    // Client certificate and key

    @Test func clientCertificateThatDoesNotExist() {
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: missing))
            == TLSSetupError(.clientCertificateUnreadable, "cannot read client certificate \(missing): No such file or directory"))
    }

    @Test func clientCertificateThatIsNotPEM() {
        let path = TestCertificates.file(named: "cert.txt", holding: "hello\n")
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: path))
            == TLSSetupError(.clientCertificateInvalid, "client certificate \(path) is not PEM (no -----BEGIN line)"))
    }

    @Test func clientCertificateThatIsAKey() {
        let key = TestCertificates.pair("server").key
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: key, clientKeyFile: key))
            == TLSSetupError(.clientCertificateInvalid, "client certificate \(key) holds no certificate (only PRIVATE KEY)"))
    }

    @Test func clientKeyThatDoesNotExist() {
        let certificate = TestCertificates.pair("server").certificate
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: missing))
            == TLSSetupError(.clientKeyUnreadable, "cannot read client key \(missing): No such file or directory"))
    }

    @Test func clientKeyThatIsNotPEM() {
        let certificate = TestCertificates.pair("server").certificate
        let path = TestCertificates.file(named: "key.txt", holding: "secret\n")
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: path))
            == TLSSetupError(.clientKeyInvalid, "client key \(path) is not PEM (no -----BEGIN line)"))
    }

    @Test func clientKeyThatIsACertificate() {
        let certificate = TestCertificates.pair("server").certificate
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: certificate))
            == TLSSetupError(.clientKeyInvalid, "client key \(certificate) holds no private key (only CERTIFICATE)"))
    }

    @Test func clientKeyThatIsEncrypted() {
        let certificate = TestCertificates.pair("server").certificate
        let path = TestCertificates.file(named: "encrypted.key", holding: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: path))
            == TLSSetupError(.clientKeyInvalid, "client key \(path) is encrypted, and no pass-phrase can be given"))
    }

    @Test func clientKeyWithACorruptBody() {
        let certificate = TestCertificates.pair("server").certificate
        let path = TestCertificates.file(named: "corrupt.key", holding: "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n")
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: path))
            == TLSSetupError(.clientKeyInvalid, "cannot use client key \(path): unsupported; PEM lib"))
    }

    @Test func clientKeyThatDoesNotMatchTheCertificate() {
        let certificate = TestCertificates.pair("server").certificate
        let otherKey = TestCertificates.pair("wildcard").key
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: otherKey))
            == TLSSetupError(.clientKeyMismatch,
                             "client key \(otherKey) does not match client certificate \(certificate): key values mismatch"))
    }

    @Test func matchingClientCertificateAndKeyLoad() {
        let (certificate, key) = TestCertificates.pair("server")
        #expect(setupError(TLSConfiguration(caFile: TestCertificates.caFile, clientCertificateFile: certificate, clientKeyFile: key)) == nil)
    }
}
