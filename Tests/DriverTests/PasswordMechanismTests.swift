import Foundation
import SMTPCore
import SMTPConnection
@testable import SMTPTLS
import Testing

/// The password mechanisms that need libcrypto (SCRAM-SHA-256, CRAM-MD5) and the order the
/// engine tries them in. No rig: mechanism values directly, and a scripted loopback peer.
@Suite("Password mechanisms")
struct PasswordMechanismTests {
    /// RFC 7677 §3, the whole exchange byte for byte.
    @Test func scramFollowsTheRFC7677Example() throws {
        var scram = ScramSHA256Mechanism(username: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(try scram.initialResponse() == Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        #expect(try scram.response(to: Array(serverFirst.utf8)) == Array(
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".utf8))
        #expect(try scram.response(to: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)) == [])
        try scram.verifyCompletion()
    }

    /// "=" and "," are escaped byte by byte (RFC 5802 saslname): a combining mark after them,
    /// which Swift folds into the same Character, must not hide them.
    @Test func scramEscapesTheUsernameOverUTF8Bytes() throws {
        var scram = ScramSHA256Mechanism(username: "=\u{301}a,\u{301}b=,", password: "pw", clientNonce: "fixednonce")
        #expect(try scram.initialResponse() == Array("n,,n==3D\u{301}a=2C\u{301}b=3D=2C,r=fixednonce".utf8))
    }

    private func options(port: UInt16) -> ClientOptions {
        ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .off, heloName: "client.test.local",
                      authentication: .passwordWithCrypto(username: "alice@test.local", password: "s3cret",
                                                          allowWithoutTLS: true),
                      timeouts: Timeouts(all: .seconds(5)), connectTimeout: .seconds(2))
    }

    private func refusedAuth(offering mechanisms: String) throws -> ScriptedPeer {
        try ScriptedPeer([.send("220 peer ESMTP\r\n"), .expect("EHLO"), .send("250-peer\r\n250 AUTH \(mechanisms)\r\n"),
                          .expect("AUTH"), .expect("\r\n"), .send("535 5.7.8 no\r\n"),
                          .expect("QUIT\r\n"), .send("221 bye\r\n")])
    }

    private func message() -> OutgoingMessage {
        OutgoingMessage(from: "a@test.local", to: ["b@example.net"], content: Array("Subject: x\r\n\r\nbody\r\n".utf8))
    }

    /// Plaintext AUTH allowed, no TLS: CRAM-MD5 before PLAIN, though the list has PLAIN first.
    @Test(arguments: Driver.allCases)
    func withoutTLSCramMD5GoesBeforePlain(_ driver: Driver) throws {
        let peer = try refusedAuth(offering: "PLAIN LOGIN CRAM-MD5")
        let result = deliver(message(), options: options(port: peer.port), via: driver)
        #expect(peer.waitUntilDone())
        #expect(peer.received == "EHLO client.test.local\r\nAUTH CRAM-MD5\r\nQUIT\r\n")
        #expect(result.authenticatedWith == nil)
    }

    /// And SCRAM-SHA-256 before both when offered: the AUTH line carries its client-first message.
    @Test(arguments: Driver.allCases)
    func withoutTLSScramGoesFirst(_ driver: Driver) throws {
        let peer = try refusedAuth(offering: "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256")
        _ = deliver(message(), options: options(port: peer.port), via: driver)
        #expect(peer.waitUntilDone())
        let lines = peer.received.components(separatedBy: "\r\n")
        try #require(lines.count == 4, "\(peer.received.debugDescription)")
        #expect(lines[0] == "EHLO client.test.local")
        #expect(lines[2...] == ["QUIT", ""])
        let prefix = "AUTH SCRAM-SHA-256 "
        try #require(lines[1].hasPrefix(prefix), "\(lines[1].debugDescription)")
        let decoded = try #require(Data(base64Encoded: String(lines[1].dropFirst(prefix.count))))
        let clientFirst = String(decoding: decoded, as: UTF8.self)
        let bare = "n,,n=alice@test.local,r="
        let nonce = clientFirst.hasPrefix(bare) ? String(clientFirst.dropFirst(bare.count)) : ""
        #expect(clientFirst == bare + nonce)
        #expect(nonce.count == 24 && Data(base64Encoded: nonce)?.count == 18, "18 random bytes in base64: \(nonce)")
    }
}
