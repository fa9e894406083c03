import Foundation
import SMTPConnection
import SMTPCore
import SMTPSocketDriver
import SMTPUVDriver
import Testing

/// One message value, sent three times, arrives whole three times: through the one-call API, the
/// session API and the libuv batch, from memory and from a file, with the stored bytes compared.
@Suite("One message sent three times", .serialized)
struct ResendTests {
    enum Content: String, CaseIterable { case bytes, file }
    enum API: String, CaseIterable { case oneCall, session, batch }

    private var options: ClientOptions {
        Rig.options("RIG_AIOSMTPD_PORT", tls: .required,
                    authentication: .passwordWithCrypto(username: Rig.user, password: Rig.password))
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: API.allCases, Content.allCases)
    func arrivesWholeEveryTime(_ api: API, _ kind: Content) throws {
        let marker = "X-Test-Marker: resend-\(api)-\(kind)-\(UUID().uuidString)"
        // Over 64 KiB, so every send needs several reads of the content, with lone LFs and
        // leading dots that the encoder rewrites.
        var text = "\(marker)\r\nSubject: resend\r\n\r\n"
        for line in 0..<3000 { text += (line % 7 == 0 ? ".dot \(line)" : "line \(line) ") + String(repeating: "y", count: 30) + "\n" }
        let bytes = Array(text.utf8)
        let content: any MessageContent
        switch kind {
        case .bytes:
            content = BytesContent(bytes)
        case .file:
            let path = NSTemporaryDirectory() + "/smtp-resend-\(UUID().uuidString).eml"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            content = try FileContent(path: path)
            try FileManager.default.removeItem(atPath: path) // the value keeps the file open
        }
        let message = OutgoingMessage(envelope: Envelope(sender: "sender@test.local", recipients: ["rcpt@example.net"]),
                                      content: content)
        #expect(message.envelope.size == AiosmtpdTests.normalized(bytes).count, "SIZE= is the size on the wire")

        var outcomes: [MessageOutcome] = []
        switch api {
        case .oneCall:
            for _ in 0..<3 { outcomes.append(try SMTPClient.send(message, options: options)) }
        case .session:
            let session = try BlockingSession(options: options)
            outcomes.append(session.send(message))
            outcomes += session.send([message, message])
            session.close()
        case .batch:
            outcomes = try UVBatchSender(options: options, connections: 2).send([message, message, message])
        }
        #expect(outcomes.map(\.status) == [.delivered, .delivered, .delivered], "\(outcomes)")

        let stored = Rig.aiosmtpdContents(containing: marker, count: 3)
        #expect(stored.count == 3)
        for copy in stored {
            #expect([UInt8](copy) == AiosmtpdTests.normalized(bytes), "a copy arrived altered (\(copy.count) octets)")
        }
    }
}
