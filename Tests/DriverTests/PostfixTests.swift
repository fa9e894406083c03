import Foundation
import SMTPCore
import SMTPConnection
import SMTPTLS
import Testing

/// Against the throwaway Postfix the test scripts start: TLS modes, AUTH, certificates,
/// several messages and per-recipient results, each through both drivers.
@Suite("Postfix (both drivers)", .serialized)
struct PostfixTests {
    private func expectDelivered(_ result: SendResult, count: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.setupError == nil, "\(String(describing: result.setupError))", sourceLocation: sourceLocation)
        #expect(result.reports.count == count, sourceLocation: sourceLocation)
        for report in result.reports {
            #expect(report.status == .delivered, "\(String(describing: report.failure))", sourceLocation: sourceLocation)
        }
        let ids = result.reports.compactMap { Rig.queueID($0.dataReply) }
        #expect(ids.count == count, "every reply carries a queue id", sourceLocation: sourceLocation)
        #expect(Rig.awaitDelivered(queueIDs: ids).isEmpty, "Postfix logged status=sent for each", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func opportunisticSTARTTLS(_ driver: Driver) {
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_STARTTLS_PORT"), via: driver)
        expectDelivered(result)
        #expect(result.sawTLS)
        #expect(result.commands.firstIndex(of: "STARTTLS")! < result.commands.firstIndex { $0.hasPrefix("MAIL") }!)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func requiredTLS(_ driver: Driver) {
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required), via: driver)
        expectDelivered(result)
        #expect(result.sawTLS)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func requiredTLSWithoutSTARTTLSFailsBeforeMAIL(_ driver: Driver) {
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_NOTLS_PORT", tls: .required), via: driver)
        #expect(result.sessionError == .tlsNotOffered)
        #expect(!result.commands.contains { $0.hasPrefix("MAIL") })
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func opportunisticFallsBackWhenNotOffered(_ driver: Driver) {
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_NOTLS_PORT"), via: driver)
        expectDelivered(result)
        #expect(!result.sawTLS)
        #expect(result.events.contains { if case .continuingWithoutTLS = $0 { true } else { false } })
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func implicitTLS(_ driver: Driver) {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: Rig.password)
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_IMPLICIT_PORT", tls: .implicit, authentication: auth), via: driver)
        expectDelivered(result)
        #expect(result.sawTLS)
        #expect(!result.commands.contains("STARTTLS"))
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func plaintextOnlyWhenAsked(_ driver: Driver) {
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .off), via: driver)
        expectDelivered(result)
        #expect(!result.sawTLS)
        #expect(!result.commands.contains("STARTTLS"))
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases, ["PLAIN", "LOGIN", "CRAM-MD5"])
    func authOverTLSOnSubmission(_ driver: Driver, _ mechanism: String) {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: Rig.password, forcing: mechanism)
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_SUBMISSION_PORT", tls: .required, authentication: auth), via: driver)
        expectDelivered(result)
        #expect(result.authenticatedWith == mechanism)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func wrongPasswordIs535(_ driver: Driver) {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: "wrong-password", forcing: "PLAIN")
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_SUBMISSION_PORT", tls: .required, authentication: auth), via: driver)
        guard case .authenticationFailed(let reply)? = result.sessionError else {
            Issue.record("expected authenticationFailed, got \(String(describing: result.sessionError))"); return
        }
        #expect(reply.code.rawValue == 535)
        #expect(!result.commands.contains { $0.hasPrefix("MAIL") })
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func authRefusedWithoutTLS(_ driver: Driver) {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: Rig.password)
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_PLAIN_AUTH_PORT", authentication: auth), via: driver)
        #expect(result.sessionError == .authenticationRequiresTLS)
        #expect(result.events.contains { if case .capabilities(let caps) = $0 { caps.contains(.auth) } else { false } },
                "the server did offer AUTH in the clear")
        #expect(!result.commands.contains { $0.hasPrefix("AUTH") }, "no credentials went out")
    }

    /// Postfix offers PLAIN LOGIN CRAM-MD5 on both ports. In the clear (plaintext AUTH allowed)
    /// the password stays off the wire with CRAM-MD5; over TLS the list's order picks PLAIN.
    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases, [
        ("RIG_POSTFIX_PLAIN_AUTH_PORT", TLSPolicy.off, "CRAM-MD5"),
        ("RIG_POSTFIX_SUBMISSION_PORT", TLSPolicy.required, "PLAIN"),
    ])
    func unforcedMechanismDependsOnTLS(_ driver: Driver, _ setup: (String, TLSPolicy, String)) {
        let auth = AuthenticationOptions.passwordWithCrypto(username: Rig.user, password: Rig.password, allowWithoutTLS: true)
        let result = deliver(Rig.message().0, options: Rig.options(setup.0, tls: setup.1, authentication: auth), via: driver)
        expectDelivered(result)
        #expect(result.authenticatedWith == setup.2)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases, [
        ("RIG_POSTFIX_EXPIRED_PORT", "certificate has expired"),
        ("RIG_POSTFIX_SELFSIGNED_PORT", "self-signed certificate"),
        ("RIG_POSTFIX_WRONGNAME_PORT", "certificate is not valid for host localhost: the certificate names only wrong.example"),
        ("RIG_POSTFIX_UNTRUSTED_PORT", "certificate signed by an unknown authority"),
    ])
    func certificateFailures(_ driver: Driver, _ port: (String, String)) {
        for policy in [TLSPolicy.opportunistic, .required] {
            let result = deliver(Rig.message().0, options: Rig.options(port.0, tls: policy), via: driver)
            #expect(result.sessionError == .certificateRejected(port.1), "\(policy)")
            #expect(result.commands.last == "STARTTLS", "nothing after the handshake: \(result.commands)")
            // Both drivers report it in the message's outcome (nothing is thrown).
            #expect(result.setupError == nil)
            #expect(result.report?.status == .notDelivered)
            #expect(result.report?.failure == .sessionEnded(.certificateRejected(port.1)))
        }
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func ipLiteralIsCheckedAgainstIPSANs(_ driver: Driver) {
        // The leaf has IP:127.0.0.1; with no --tls-name the address itself is verified.
        let result = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_STARTTLS_PORT", tls: .required, serverName: nil), via: driver)
        expectDelivered(result)
        // The wrong-name leaf has no IP SAN: the address does not match.
        let wrong = deliver(Rig.message().0, options: Rig.options("RIG_POSTFIX_WRONGNAME_PORT", tls: .required, serverName: nil), via: driver)
        #expect(wrong.sessionError == .certificateRejected("certificate is not valid for address 127.0.0.1: the certificate names only wrong.example"))
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func severalMessagesOverOneConnectionWithOneRecipientRefused(_ driver: Driver) {
        let messages = (0..<5).map { index in
            Rig.message(to: index == 2 ? ["ok@example.net", "refused@example.net"] : ["rcpt\(index)@example.net"]).0
        }
        let result = deliver(messages, options: Rig.options("RIG_POSTFIX_STARTTLS_PORT"), via: driver)
        #expect(result.reports.count == 5)
        #expect(result.events.filter { if case .greeting = $0 { true } else { false } }.count == 1, "one connection")
        let partial = result.reports[2]
        #expect(partial.status == .partiallyDelivered)
        #expect(partial.recipients.map(\.isDelivered) == [true, false])
        #expect(partial.recipients[1].reply?.code.isPermanentNegative == true)
        #expect(partial.recipients[1].reply?.text.contains("refused@example.net") == true)
        for index in [0, 1, 3, 4] { #expect(result.reports[index].status == .delivered) }
        let ids = result.reports.compactMap { Rig.queueID($0.dataReply) }
        #expect(ids.count == 5)
        #expect(Rig.awaitDelivered(queueIDs: ids).isEmpty)
    }
}
