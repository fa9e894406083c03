import SMTPCore
import Testing

@Suite("Greeting and EHLO/HELO")
struct GreetingTests {
    @Test func greetingThenEHLOThenQuit() throws {
        let result = try transcript("""
            S: 220 mx.example ESMTP
            C: EHLO client.example
            S: 250-mx.example
            S: 250 8BITMIME
            C: QUIT
            S: 221 bye
            """)
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "closed"])
        #expect(result.closed)
        #expect(result.failure == nil)
    }

    @Test func greeting421ClosesWithoutQuit() throws {
        let result = try transcript("""
            S: 421 mx.example too busy
            """)
        #expect(result.closed)
        guard case .serviceNotAvailable(let reply)? = result.failure else {
            Issue.record("expected serviceNotAvailable, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.rawValue == 421)
    }

    @Test func greeting554SendsQuitThenCloses() throws {
        let result = try transcript("""
            S: 554 no service for you
            C: QUIT
            S: 221 bye
            """)
        #expect(result.closed)
        guard case .greetingRefused(let reply)? = result.failure else {
            Issue.record("expected greetingRefused, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.rawValue == 554)
        #expect(!result.events.contains("closed"), "a refused session is a failure, not a clean close")
    }

    @Test(arguments: ["221 bye", "354 go ahead", "250 hello", "334 VXNlcg=="])
    func oddGreetingIsAViolation(_ greeting: String) throws {
        let result = try transcript("S: \(greeting)")
        #expect(result.closed)
        guard case .protocolViolation(.unexpectedReply(_, .greeting))? = result.failure else {
            Issue.record("expected unexpectedReply for \(greeting), got \(String(describing: result.failure))"); return
        }
        #expect(result.clientBytes.isEmpty, "nothing may be sent after an odd greeting")
    }

    @Test func ehloRefusedFallsBackToHELO() throws {
        let result = try transcript("""
            S: 220 old.example SMTP
            C: EHLO client.example
            S: 502 command not implemented
            C: HELO client.example
            S: 250 old.example
            C: QUIT
            S: 221 bye
            """)
        #expect(result.events == ["greeting 220", "capabilities basic", "ready", "closed"])
        #expect(result.failure == nil)
    }

    @Test func heloRefusedFails() throws {
        let result = try transcript("""
            S: 220 old.example SMTP
            C: EHLO client.example
            S: 500 what
            C: HELO client.example
            S: 501 no
            C: QUIT
            S: 221 bye
            """)
        guard case .heloRefused? = result.failure else {
            Issue.record("expected heloRefused, got \(String(describing: result.failure))"); return
        }
    }

    @Test func afterHELONoESMTPParameterIsUsed() throws {
        let message = TestMessage(Envelope(sender: "a@example.org", recipients: ["b@example.net"], size: 10),
                                  body: "hi\r\n")
        try transcript("""
            S: 220 old.example SMTP
            C: EHLO client.example
            S: 500 what
            C: HELO client.example
            S: 250 old.example
            C: MAIL FROM:<a@example.org>
            S: 250 ok
            C: RCPT TO:<b@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: hi
            C: .
            S: 250 queued
            C: QUIT
            S: 221 bye
            """, messages: [message])
    }

    @Test func lmtpUsesLHLOAndNeverHELO() throws {
        let result = try transcript("""
            S: 220 lmtp.example LMTP
            C: LHLO client.example
            S: 500 no
            C: QUIT
            S: 221 bye
            """, configuration: .test(dialect: .lmtp))
        guard case .ehloRefused? = result.failure else {
            Issue.record("expected ehloRefused, got \(String(describing: result.failure))"); return
        }
    }

    @Test func invalidHeloNameIsRefusedAtInit() {
        for name in ["", "bad name", "a\r\nMAIL FROM:<x>", "x..y", "-x.example", "[300.1.1.1]", "a\u{0}b", "ex@mple"] {
            #expect(throws: SMTPError.invalidHeloName(name)) {
                _ = try SMTPMachine(configuration: SMTPConfiguration(heloName: name))
            }
        }
        for name in ["client.example", "localhost", "[192.0.2.1]", "[IPv6:2001:db8::1]", "mx-1.example.org"] {
            #expect(throws: Never.self) { _ = try SMTPMachine(configuration: SMTPConfiguration(heloName: name)) }
        }
    }

    @Test func quitAnsweredOddlyStillCloses() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: QUIT
            S: 500 what quit
            """)
        #expect(result.closed)
        #expect(result.failure == nil)
        #expect(result.events == ["greeting 220", "capabilities esmtp", "ready", "closed"])
    }

    @Test func serverClosingAfterQuitWithoutReplyIsClean() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250 mx
            C: QUIT
            EOF
            """)
        #expect(result.closed)
        #expect(result.failure == nil)
    }

    @Test func capabilitiesAreTyped() throws {
        var harness = try Harness(configuration: .test(), messages: [], quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feed(Array("220 mx\r\n".utf8))
        harness.feed(Array("""
            250-mx.example greets you\r
            250-SIZE 35882577\r
            250-8BITMIME\r
            250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r
            250-ENHANCEDSTATUSCODES\r
            250-PIPELINING\r
            250-CHUNKING\r
            250-BINARYMIME\r
            250-DSN\r
            250 SMTPUTF8\r\n
            """.utf8))
        let caps = harness.machine.capabilities
        #expect(caps.flags == [.size, .eightBitMIME, .auth, .enhancedStatusCodes, .pipelining, .chunking, .binaryMIME, .dsn, .smtpUTF8])
        #expect(caps.maxMessageSize == 35_882_577)
        #expect(caps.authMechanisms == ["LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH"])
        #expect(!caps.contains(.startTLS))
        #expect(harness.events.contains("ready"))
    }
}

@Suite("TLS policy")
struct TLSPolicyTests {
    @Test func opportunisticUpgradesWhenOffered() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250-SIZE 1000
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 go ahead
            TLS
            C: EHLO client.example
            S: 250-mx
            S: 250 PIPELINING
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic))
        #expect(result.events == ["greeting 220", "capabilities esmtp", "negotiating-tls", "tls", "capabilities esmtp", "ready", "closed"])
    }

    @Test func opportunisticFallsBackToPlaintextWhenNotOffered() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 8BITMIME
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic))
        #expect(result.events == ["greeting 220", "capabilities esmtp", "without-tls", "ready", "closed"])
        #expect(result.failure == nil)
    }

    @Test func opportunisticAfterHELOGoesPlaintext() throws {
        let result = try transcript("""
            S: 220 mx SMTP
            C: EHLO client.example
            S: 502 no
            C: HELO client.example
            S: 250 mx
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic))
        #expect(result.events == ["greeting 220", "capabilities basic", "without-tls", "ready", "closed"])
    }

    @Test func requiredFailsWhenNotOfferedAndSendsOnlyQuit() throws {
        let message = TestMessage(from: "a@example.org", to: ["b@example.net"])
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 8BITMIME
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required), messages: [message])
        #expect(result.failure == .tlsNotOffered)
        #expect(!result.clientText.contains("MAIL"))
    }

    @Test func requiredNeverFallsBackToHELO() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 502 no EHLO here
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required))
        guard case .ehloRefused? = result.failure else {
            Issue.record("expected ehloRefused, got \(String(describing: result.failure))"); return
        }
        #expect(!result.clientText.contains("HELO client"))
    }

    @Test(arguments: ["454 TLS not available", "502 not implemented", "501 syntax", "554 no"])
    func startTLSRefusedIsItsOwnError(_ refusal: String) throws {
        for policy in [TLSPolicy.opportunistic, .required] {
            let result = try transcript("""
                S: 220 mx ESMTP
                C: EHLO client.example
                S: 250-mx
                S: 250 STARTTLS
                C: STARTTLS
                S: \(refusal)
                C: QUIT
                S: 221 bye
                """, configuration: .test(tls: policy), messages: [TestMessage(from: "a@example.org", to: ["b@example.net"])])
            guard case .startTLSRefused(let reply)? = result.failure else {
                Issue.record("expected startTLSRefused, got \(String(describing: result.failure))"); return
            }
            #expect(reply.description.hasPrefix(String(refusal.prefix(3))))
            #expect(!result.clientText.contains("MAIL"))
        }
    }

    @Test func handshakeFailureAndCertificateFailureAreDistinctAndSilent() throws {
        let setup = """
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 go ahead
            """
        let handshake = try transcript(setup + "\nTLSFAIL no shared cipher", configuration: .test(tls: .opportunistic))
        #expect(handshake.failure == .tlsHandshakeFailed("no shared cipher"))
        #expect(handshake.closed)
        let certificate = try transcript(setup + "\nCERTFAIL certificate has expired", configuration: .test(tls: .required))
        #expect(certificate.failure == .certificateRejected("certificate has expired"))
        #expect(certificate.closed)
        // Nothing, not even QUIT, goes out in plaintext after a failed handshake.
        #expect(certificate.clientText.hasSuffix("STARTTLS\r\n"))
    }

    @Test func bytesAfterSTARTTLS220AreInjection() throws {
        // Same write as the 220, and as a half line, and as a full pipelined reply.
        for injected in ["250 injected\\r\\n", "250-inj", "2", "\\r\\n"] {
            let result = try transcript("""
                S: 220 mx ESMTP
                C: EHLO client.example
                S: 250-mx
                S: 250 STARTTLS
                C: STARTTLS
                R: 220 ready\\r\\n\(injected)
                """, configuration: .test(tls: .required))
            guard case .protocolViolation(.bytesAfterSTARTTLS)? = result.failure else {
                Issue.record("expected injection error for \(injected), got \(String(describing: result.failure))"); continue
            }
            #expect(result.closed)
            #expect(result.clientText.hasSuffix("STARTTLS\r\n"), "nothing after STARTTLS")
        }
    }

    @Test func plaintextBytesDuringHandshakeAreRefused() throws {
        var harness = try Harness(configuration: .test(tls: .required), messages: [], quitWhenDone: true, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feed(Array("220 mx\r\n".utf8))
        harness.feed(Array("250-mx\r\n250 STARTTLS\r\n".utf8))
        harness.feed(Array("220 go\r\n".utf8))
        #expect(harness.tlsRequested)
        harness.machine.received(Array("250 late\r\n".utf8), at: harness.now)
        harness.drain()
        #expect(harness.machine.failure == .protocolViolation(.bytesAfterSTARTTLS))
        #expect(harness.closed)
    }

    @Test func everythingLearnedBeforeTLSIsForgotten() throws {
        var harness = try Harness(configuration: .test(tls: .required), messages: [], quitWhenDone: false, strategy: .whole)
        harness.machine.connectionEstablished(at: harness.now)
        harness.feed(Array("220 mx\r\n".utf8))
        harness.feed(Array("250-mx\r\n250-AUTH PLAIN\r\n250-SIZE 10\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n".utf8))
        harness.feed(Array("220 go\r\n".utf8))
        #expect(harness.machine.capabilities.contains(.pipelining))
        harness.machine.tlsEstablished(at: harness.now)
        harness.drain()
        #expect(harness.machine.capabilities == .basic, "capabilities must be dropped at the handshake")
        #expect(harness.result.clientText.hasSuffix("STARTTLS\r\nEHLO client.example\r\n"))
        harness.feed(Array("250-mx\r\n250 8BITMIME\r\n".utf8))
        #expect(harness.machine.capabilities.flags == [.eightBitMIME])
        #expect(harness.machine.capabilities.maxMessageSize == nil)
    }

    @Test func ehloRefusedAfterSTARTTLSIsItsOwnError() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 go ahead
            TLS
            C: EHLO client.example
            S: 554 go away
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .opportunistic))
        guard case .ehloRefusedAfterTLS(let reply)? = result.failure else {
            Issue.record("expected ehloRefusedAfterTLS, got \(String(describing: result.failure))"); return
        }
        #expect(reply.code.rawValue == 554)
    }

    @Test func startTLSIsNeverSentTwice() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: STARTTLS
            S: 220 go ahead
            TLS
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .required))
        #expect(result.failure == nil)
    }

    @Test func implicitTLSHandshakesBeforeTheGreeting() throws {
        let result = try transcript("""
            TLS
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .implicit))
        #expect(result.events == ["tls", "greeting 220", "capabilities esmtp", "ready", "closed"])
        #expect(!result.clientText.contains("STARTTLS"))
    }

    @Test func implicitTLSFailureBeforeGreeting() throws {
        let result = try transcript("TLSFAIL wrong version number (plaintext server?)", configuration: .test(tls: .implicit))
        #expect(result.failure == .tlsHandshakeFailed("wrong version number (plaintext server?)"))
        #expect(result.clientBytes.isEmpty)
    }

    @Test func offNeverSendsSTARTTLS() throws {
        let result = try transcript("""
            S: 220 mx ESMTP
            C: EHLO client.example
            S: 250-mx
            S: 250 STARTTLS
            C: QUIT
            S: 221 bye
            """, configuration: .test(tls: .off))
        #expect(!result.events.contains("negotiating-tls"))
    }
}

@Suite("Ending after a failure")
struct EndingTests {
    @Test func garbageWhileWaitingForQuitAfterAFailureCloses() throws {
        // A polite failure (QUIT sent), then a reply the parser rejects: the engine must close,
        // not spin on the parser's sticky error.
        let result = try transcript("""
            S: 554 go away
            C: QUIT
            R: 999 not a reply\\r\\n
            """)
        #expect(result.closed)
        guard case .greetingRefused? = result.failure else {
            Issue.record("the first error stays: got \(String(describing: result.failure))"); return
        }
    }

    @Test func eofWhileWaitingForQuitAfterAFailureCloses() throws {
        let result = try transcript("""
            S: 220 mx
            C: EHLO client.example
            S: 250 mx
            C: QUIT
            R: 221 by
            EOF
            """, configuration: .test(), quitWhenDone: true)
        #expect(result.closed)
    }
}
