import COpenSSL
import SMTPCore
import SMTPTLS
import Testing

/// Certificates are matched as RFC 9525 says (issue 11, point 7): never the subject CN, never a
/// partial wildcard, a trailing dot stripped, an IPv4 short form never taken for a DNS name, and
/// TLS 1.2 only with ECDHE and an AEAD cipher. Each case is a real handshake in memory against
/// a certificate made by scripts/rig/certs.py at test time.
@Suite("TLS name matching and cipher policy")
struct TLSNameMatchingTests {
    private func session(host: String, configuration: TLSConfiguration = TLSConfiguration(caFile: TestCertificates.caFile)) throws -> TLSSession {
        try TLSSession(context: TLSClientContext(configuration: configuration), host: host)
    }

    private func server(_ stem: String, maximumVersion: Int32? = nil, ciphers: String? = nil) -> InMemoryTLSServer {
        let (certificate, key) = TestCertificates.pair(stem)
        return InMemoryTLSServer(certificate: certificate, key: key, maximumVersion: maximumVersion, ciphers: ciphers)
    }

    @Test func subjectCommonNameIsNeverMatched() throws {
        let client = try session(host: "localhost")
        #expect(server("cnonly").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for host localhost: the certificate names its host only in the subject CN (localhost), which is not accepted")))
    }

    @Test func partialWildcardIsNeverMatched() throws {
        let client = try session(host: "www.example.test")
        #expect(server("partialwildcard").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for host www.example.test: the certificate's wildcard name w*.example.test is partial, which is not accepted")))
    }

    @Test func wildcardAsTheWholeLeftMostLabelMatchesOneLabel() throws {
        let client = try session(host: "mail.example.test")
        let peer = server("wildcard")
        #expect(peer.handshake(with: client) == .done)
        #expect(peer.serverNameIndication == "mail.example.test")
    }

    @Test(arguments: ["example.test", "a.b.example.test"])
    func wildcardDoesNotMatchOtherDepths(_ host: String) throws {
        let client = try session(host: host)
        #expect(server("wildcard").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for host \(host): the certificate names only *.example.test")))
    }

    @Test func trailingDotIsStrippedBeforeSNIAndVerification() throws {
        let client = try session(host: "localhost.")
        let peer = server("server")
        #expect(client.host == "localhost")
        #expect(peer.handshake(with: client) == .done)
        #expect(peer.serverNameIndication == "localhost")
    }

    @Test func dottedQuadIsCheckedAgainstTheIPAddressSAN() throws {
        let client = try session(host: "127.0.0.1")
        let peer = server("server")
        #expect(peer.handshake(with: client) == .done)
        #expect(peer.serverNameIndication == nil)
    }

    @Test(arguments: ["127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1", "127.0.1"])
    func ipv4ShortFormIsRefused(_ host: String) throws {
        #expect(throws: TLSSetupError(.host, "host \(host) is an IPv4 address in a short form, which is not verified: "
                                      + "write it as 127.0.0.1 to verify it against the certificate's IP addresses")) {
            try session(host: host)
        }
    }

    @Test func ipv4ShortFormWithoutVerificationGoesWithoutSNI() throws {
        let client = try session(host: "127.1", configuration: TLSConfiguration(insecure: true))
        let peer = server("server")
        #expect(peer.handshake(with: client) == .done)
        #expect(peer.serverNameIndication == nil)
    }

    @Test func trailingDotIsStrippedFromTheServerNameOption() throws {
        let client = try session(host: "127.0.0.1", configuration: TLSConfiguration(caFile: TestCertificates.caFile, serverName: "localhost."))
        let peer = server("server")
        #expect(peer.handshake(with: client) == .done)
        #expect(peer.serverNameIndication == "localhost")
    }

    @Test(arguments: [".", "..", "localhost.."])
    func hostWithNothingToVerifyIsRefused(_ host: String) throws {
        #expect(throws: TLSSetupError(.host, "host \"\(host)\" has no name to verify the certificate against")) {
            try session(host: host)
        }
    }

    @Test func wrongNameSaysWhatTheCertificateNames() throws {
        let client = try session(host: "localhost")
        #expect(server("wrongname").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for host localhost: the certificate names only wrong.example")))
    }

    @Test func wrongAddressSaysWhatTheCertificateNames() throws {
        let client = try session(host: "127.0.0.2")
        #expect(server("server").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for address 127.0.0.2: the certificate names only localhost, 127.0.0.1")))
    }

    @Test func cnOnlyCertificateIsNotMatchedAgainstAnAddressEither() throws {
        let client = try session(host: "127.0.0.1")
        #expect(server("cnonly").handshake(with: client) == .failed(.certificate(
            "certificate is not valid for address 127.0.0.1: the certificate has no subjectAltName (its subject CN localhost is never matched)")))
    }

    @Test func tls12CipherOutsideTheListIsRefused() throws {
        let client = try session(host: "localhost")
        let status = server("server", maximumVersion: TLS1_2_VERSION, ciphers: "ECDHE-ECDSA-AES128-SHA").handshake(with: client)
        #expect(status == .failed(.handshake("sslv3 alert handshake failure")), "\(client.cipher)")
    }

    @Test(arguments: ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"])
    func tls12AEADCipherIsAccepted(_ cipher: String) throws {
        let client = try session(host: "localhost")
        #expect(server("server", maximumVersion: TLS1_2_VERSION, ciphers: cipher).handshake(with: client) == .done)
        #expect(client.protocolVersion == "TLSv1.2")
        #expect(client.cipher == cipher)
    }
}
