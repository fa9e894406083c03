@testable import SMTPCore
import Testing

private let tlsSession = """
    S: 220 mx ESMTP
    C: EHLO client.example
    S: 250-mx
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 go
    TLS
    C: EHLO client.example

    """

private func password(_ forcing: String? = nil, allowWithoutTLS: Bool = false) -> AuthenticationOptions {
    .password(username: "alice@test.local", password: "s3cret", forcing: forcing, allowWithoutTLS: allowWithoutTLS)
}

/// A mechanism that answers every challenge, to test the engine's own limits.
private struct Echo: SASLMechanism {
    let name = "X-ECHO"
    func initialResponse() throws(SASLFailure) -> [UInt8]? { nil }
    func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] { challenge }
}

/// A mechanism that insists on verifying the server (as SCRAM does) and is never satisfied.
private struct Suspicious: SASLMechanism {
    let name = "X-SUSPICIOUS"
    func initialResponse() throws(SASLFailure) -> [UInt8]? { [] }
    func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] { [] }
    func verifyCompletion() throws(SASLFailure) { throw SASLFailure("server signature missing") }
}

/// Stands in for CRAM-MD5 and SCRAM-SHA-256 (they live in SMTPTLS): only its name and its
/// claim to keep the secret off the wire matter here.
private struct ChallengeResponse: SASLMechanism {
    let name: String
    var isChallengeResponse: Bool { true }
    func initialResponse() throws(SASLFailure) -> [UInt8]? { nil }
    func response(to challenge: [UInt8]) throws(SASLFailure) -> [UInt8] { challenge }
}

/// The order SMTPTLS's passwordWithCrypto gives: SCRAM-SHA-256, PLAIN, CRAM-MD5, LOGIN.
private func cryptoOrder(allowWithoutTLS: Bool = false) -> AuthenticationOptions {
    AuthenticationOptions(mechanisms: [ChallengeResponse(name: "SCRAM-SHA-256"),
                                       PlainMechanism(username: "alice@test.local", password: "s3cret"),
                                       ChallengeResponse(name: "CRAM-MD5"),
                                       LoginMechanism(username: "alice@test.local", password: "s3cret")],
                          allowWithoutTLS: allowWithoutTLS)
}

@Suite("AUTH")
struct AuthTests {
    @Test func plainWithInitialResponseAfterTLS() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH LOGIN PLAIN
            C: AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0
            S: 235 2.7.0 Authentication successful
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
        #expect(result.events == [
            "greeting 220", "capabilities esmtp", "negotiating-tls", "tls", "capabilities esmtp", "authenticated PLAIN",
            "ready", "closed",
        ])
    }

    @Test func loginAnswersTwoChallengesInOrder() throws {
        try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH LOGIN
            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: YWxpY2VAdGVzdC5sb2NhbA==
            S: 334 UGFzc3dvcmQ6
            C: czNjcmV0
            S: 235 ok
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
    }

    @Test func forcedMechanismMustBeOffered() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH PLAIN
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password("LOGIN")))
        #expect(result.failure == .noCommonAuthenticationMechanism(offered: ["PLAIN"]))
    }

    @Test func wrongPasswordIsReportedWithItsCode() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH PLAIN
            C: AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0
            S: 535 5.7.8 Error: authentication failed
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()),
            messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
        guard case .authenticationFailed(let reply)? = result.failure else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.rawValue == 535)
        #expect(reply.enhancedStatusCode == nil, "ENHANCEDSTATUSCODES was not offered")
        #expect(!result.clientText.contains("MAIL"))
        #expect(!result.clientText.contains("AUTH LOGIN"), "no silent retry with another mechanism")
    }

    @Test(arguments: ["454 4.7.0 Temporary authentication failure", "534 5.7.9 mechanism too weak", "432 4.7.12 password transition needed", "538 5.7.11 encryption required"])
    func otherAuthFailures(_ line: String) throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH PLAIN
            C: AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0
            S: \(line)
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
        guard case .authenticationFailed(let reply)? = result.failure else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.description == String(line.prefix(3)))
    }

    @Test func noCredentialsWithoutTLSEvenWhenOfferedInTheClear() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH PLAIN LOGIN
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic, authentication: password()))
        #expect(result.failure == .authenticationRequiresTLS)
        #expect(!result.clientText.contains("AUTH"))
    }

    @Test func plaintextAuthOnlyWhenAllowed() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH PLAIN
            C: AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0
            S: 235 ok
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .off, authentication: password(allowWithoutTLS: true)))
        #expect(result.failure == nil)
    }

    @Test func authNotOffered() throws {
        let result = try transcript(tlsSession + """
            S: 250 mx
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
        #expect(result.failure == .authenticationNotOffered)
    }

    @Test func mechanismIsChosenFromThePostTLSList() throws {
        // Before TLS the server offers PLAIN only; after TLS, LOGIN only.
        try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250-AUTH PLAIN
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 go
            TLS
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH LOGIN
            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: YWxpY2VAdGVzdC5sb2NhbA==
            S: 334 UGFzc3dvcmQ6
            C: czNjcmV0
            S: 235 ok
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
    }

    @Test func endlessChallengesAreCancelled() throws {
        var script = tlsSession + "S: 250-mx\nS: 250 AUTH X-ECHO\nC: AUTH X-ECHO\n"
        for _ in 0..<3 { script += "S: 334 YWJj\nC: YWJj\n" }
        script += "S: 334 YWJj\nC: *\nS: 501 cancelled\nC: QUIT\nS: 221 bye\n"
        var limits = Limits()
        limits.maxAuthRounds = 3
        let result = try transcript(script, configuration: .test(tls: .required,
            authentication: AuthenticationOptions(mechanisms: [Echo()]), limits: limits))
        #expect(result.failure == .authenticationAborted(.tooManyChallenges(limit: 3)))
    }

    @Test(arguments: ["334 not base64!", "334 YWJ", "334 ====", "334 YW=j"])
    func invalidChallengeIsCancelled(_ challenge: String) throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH X-ECHO
            C: AUTH X-ECHO
            S: \(challenge)
            C: *
            S: 501 5.7.0 cancelled
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: AuthenticationOptions(mechanisms: [Echo()])))
        #expect(result.failure == .authenticationAborted(.invalidChallenge))
    }

    @Test func multiLineChallengeIsInvalid() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH X-ECHO
            C: AUTH X-ECHO
            S: 334-YWJj
            S: 334 YWJj
            C: *
            S: 501 cancelled
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: AuthenticationOptions(mechanisms: [Echo()])))
        #expect(result.failure == .authenticationAborted(.invalidChallenge))
    }

    @Test func unexpectedChallengeToPlainIsCancelled() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH PLAIN
            C: AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0
            S: 334 bW9yZT8=
            C: *
            S: 501 cancelled
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: password()))
        #expect(result.failure == .authenticationAborted(.mechanismFailed("unexpected PLAIN challenge")))
    }

    @Test func successWithoutServerProofIsRefused() throws {
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH X-SUSPICIOUS
            C: AUTH X-SUSPICIOUS =
            S: 235 trust me
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: AuthenticationOptions(mechanisms: [Suspicious()])))
        #expect(result.failure == .authenticationAborted(.mechanismFailed("server signature missing")))
        #expect(!result.events.contains { $0.hasPrefix("authenticated") })
    }

    @Test func unaskedAuthRepliesAreUnsolicited() throws {
        for reply in ["235 2.7.0 you are in", "334 VXNlcm5hbWU6"] {
            let result = try transcript("""
                S: 220 mx ESMTP
                C: EHLO client.example
                S: 250 mx
                S: \(reply)
                """, quitWhenDone: false)
            guard case .protocolViolation(.unsolicitedReply)? = result.failure else {
                Issue.record("expected unsolicited for \(reply), got \(String(describing: result.failure))"); continue
            }
        }
    }

    @Test func xoauth2AnswersAnErrorChallengeWithAnEmptyLine() throws {
        let mechanism = XOAuth2Mechanism(username: "u@example.com", token: "ya29.token")
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH XOAUTH2
            C: AUTH XOAUTH2 dXNlcj11QGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHlhMjkudG9rZW4BAQ==
            S: 334 eyJzdGF0dXMiOiI0MDEifQ==
            C:
            S: 535 5.7.8 Username and Password not accepted
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: AuthenticationOptions(mechanisms: [mechanism])))
        guard case .authenticationFailed? = result.failure else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.failure))"); return
        }
    }

    @Test func oauthBearerInitialResponse() throws {
        var mechanism = OAuthBearerMechanism(username: "u,=x@example.com", token: "T", host: "mx.example", port: 587)
        let initial = try #require(try mechanism.initialResponse())
        #expect(String(decoding: initial, as: UTF8.self) ==
                "n,a=u=2C=3Dx@example.com,\u{01}host=mx.example\u{01}port=587\u{01}auth=Bearer T\u{01}\u{01}")
        #expect(try mechanism.response(to: Array("{\"status\":\"invalid_token\"}".utf8)) == [1])
        #expect(throws: SASLFailure.self) { try mechanism.response(to: []) }
    }

    /// Without TLS (plaintext AUTH explicitly allowed) a mechanism that keeps the password off
    /// the wire goes first, whatever the list's order; among the rest the order stands.
    @Test(arguments: [("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", "AUTH SCRAM-SHA-256"),
                      ("PLAIN LOGIN CRAM-MD5", "AUTH CRAM-MD5"),
                      ("LOGIN PLAIN", "AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0")])
    func withoutTLSChallengeResponseGoesFirst(_ offered: String, _ command: String) throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH \(offered)
            C: \(command)
            S: 535 5.7.8 no
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .off, authentication: cryptoOrder(allowWithoutTLS: true)))
        guard case .authenticationFailed? = result.failure else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.failure))"); return
        }
    }

    /// Opportunistic TLS that the server does not offer is a connection without TLS too.
    @Test func withoutSTARTTLSOfferedChallengeResponseGoesFirst() throws {
        try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 AUTH PLAIN LOGIN CRAM-MD5
            C: AUTH CRAM-MD5
            S: 535 5.7.8 no
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic, authentication: cryptoOrder(allowWithoutTLS: true)))
    }

    /// With TLS the list's own order decides, as before.
    @Test(arguments: [("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256", "AUTH SCRAM-SHA-256"),
                      ("PLAIN LOGIN CRAM-MD5", "AUTH PLAIN AGFsaWNlQHRlc3QubG9jYWwAczNjcmV0"),
                      ("CRAM-MD5 LOGIN", "AUTH CRAM-MD5")])
    func withTLSTheListOrderStands(_ offered: String, _ command: String) throws {
        try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH \(offered)
            C: \(command)
            S: 535 5.7.8 no
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: cryptoOrder()))
    }

    /// ^A separates XOAUTH2's fields: one inside the user or the token would let it forge or
    /// cut fields, so the mechanism refuses before the AUTH line is written.
    @Test(arguments: [("u\u{01}ser@example.com", "ya29.token", "XOAUTH2 user contains ^A (0x01)"),
                      ("u@example.com", "ya29\u{01}auth=Bearer x", "XOAUTH2 token contains ^A (0x01)")])
    func xoauth2RefusesControlA(_ user: String, _ token: String, _ reason: String) throws {
        let mechanism = XOAuth2Mechanism(username: user, token: token)
        let result = try transcript(tlsSession + """
            S: 250-mx
            S: 250 AUTH XOAUTH2
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required, authentication: AuthenticationOptions(mechanisms: [mechanism])))
        #expect(result.failure == .authenticationAborted(.mechanismFailed(reason)))
    }

    /// The same for OAUTHBEARER, whose key/value pairs ^A separates too.
    @Test(arguments: [("u\u{01}@example.com", "T", "mx.example", "OAUTHBEARER user contains ^A (0x01)"),
                      ("u@example.com", "T\u{01}", "mx.example", "OAUTHBEARER token contains ^A (0x01)"),
                      ("u@example.com", "T", "mx\u{01}.example", "OAUTHBEARER host contains ^A (0x01)")])
    func oauthBearerRefusesControlA(_ user: String, _ token: String, _ host: String, _ reason: String) {
        var mechanism = OAuthBearerMechanism(username: user, token: token, host: host, port: 587)
        #expect(throws: SASLFailure(reason)) { try mechanism.initialResponse() }
    }

    /// "=" and "," are escaped byte by byte: a combining mark after them (one Swift Character
    /// with it) must not hide them.
    @Test func oauthBearerEscapesOverUTF8Bytes() throws {
        var mechanism = OAuthBearerMechanism(username: "=\u{301}a,\u{301}b", token: "T", host: "mx.example", port: 25)
        let initial = try #require(try mechanism.initialResponse())
        #expect(initial == Array("n,a==3D\u{301}a=2C\u{301}b,\u{01}host=mx.example\u{01}port=25\u{01}auth=Bearer T\u{01}\u{01}".utf8))
    }

    @Test func transcriptRedactsCredentials() throws {
        var configuration = SMTPConfiguration.test(tls: .off, authentication: password(allowWithoutTLS: true))
        configuration.emitsTranscript = true
        var harness = try Harness(configuration: configuration, messages: [], quitWhenDone: true, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feedLines("220 mx\r\n250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n221 bye\r\n")
        let commands = harness.events.filter { $0.hasPrefix("C: ") }
        #expect(commands == ["C: EHLO client.example", "C: AUTH LOGIN", "C: <redacted>", "C: <redacted>", "C: QUIT"])
        #expect(!harness.events.joined().contains("czNjcmV0"))
        #expect(harness.result.clientText.contains("czNjcmV0\r\n"), "the real bytes still go to the server")
    }

    @Test func base64RoundTrips() {
        var generator = SplitStrategy.Generator(state: 3)
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let encoded = Base64.encode(bytes)
            #expect(Base64.decode(encoded) == bytes)
        }
        #expect(Base64.decode(Array("".utf8)) == [])
        #expect(Base64.decode(Array("Zg==".utf8)) == Array("f".utf8))
        #expect(Base64.decode(Array("Zm9v".utf8)) == Array("foo".utf8))
        for bad in ["Zg=", "Z===", "Zg=a", "Zm9v\r\n", "Zm 9", "=Zm9"] {
            #expect(Base64.decode(Array(bad.utf8)) == nil, "\(bad.debugDescription)")
        }
    }
}
