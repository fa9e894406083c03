import Foundation
import SMTPConnection
import SMTPCore
import SMTPMessage
import SMTPMessageContent
import SMTPSocketDriver
import Testing

/// Built messages delivered to real servers arrive intact: the stored bytes equal what the
/// builder streams, and Python reads the same message from both.
@Suite("built messages delivered", .serialized)
struct DeliveryTests {
    static let date = MessageDate(secondsSince1970: 1_700_000_000, utcOffsetMinutes: -300)
    static let text = "Grüße — ein Text mit Umlauten, café, naïve.\n.a line with a leading dot\n"

    static func builder(marker: String, allowEightBit: Bool) -> MessageBuilder {
        var builder = MessageBuilder(from: Mailbox("sender@test.local", name: "Jürgen Sänder"),
                                     to: [Mailbox("rcpt@example.net", name: "Empfänger, Erster")],
                                     subject: "Zustellung — " + OracleTests.longSubject, date: date, text: text)
        builder.bcc = [Mailbox("hidden@example.net")]
        builder.html = "<p>Grüße</p>\n"
        builder.headers = [HeaderField("X-Test-Marker", marker)]
        builder.allowEightBit = allowEightBit
        builder.attachments = [Attachment(filename: "Bericht über Köln.pdf", bytes: (0..<10_000).map { UInt8($0 % 253) })]
        return builder
    }

    @Test(.enabled(if: MessageRig.isAvailable))
    func eightBitWhereTheServerOffersIt() throws {
        let marker = "built-\(UUID().uuidString)"
        let session = try BlockingSession(options: MessageRig.aiosmtpd)
        defer { session.close() }
        #expect(session.capabilities.contains(.eightBitMIME))
        let built = try Self.builder(marker: marker, allowEightBit: session.capabilities.contains(.eightBitMIME)).build()
        #expect(built.envelope.bodyType == .eightBitMIME)
        // One value, sent twice: the same octets both times.
        let outcomes = session.send([built.outgoing, built.outgoing])
        #expect(outcomes.map(\.status) == [.delivered, .delivered])
        let stored = MessageRig.stored(containing: marker, count: 2)
        #expect(stored.count == 2)
        let expected = try built.bytes()
        for (eml, json) in stored {
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: eml))) == expected)
            #expect(json["mail_options"] as? [String] == ["SIZE=\(built.size)", "BODY=8BITMIME"])
            #expect(json["rcpt_tos"] as? [String] == ["rcpt@example.net", "hidden@example.net"])
            let reading = try PythonOracle.read(path: eml)
            #expect(reading == (try PythonOracle.read(expected)))
            #expect(reading.parts.map(\.cte) == [nil, nil, "8bit", "8bit", "base64"])
            #expect(reading.parts[2].text == crlf(Self.text))
            #expect(reading.header("Subject") == ["Zustellung — " + OracleTests.longSubject])
            #expect(reading.addresses["From"] == [["Jürgen Sänder", "sender@test.local"]])
            #expect(reading.addresses["To"] == [["Empfänger, Erster", "rcpt@example.net"]])
            #expect(reading.header("Bcc") == [])
            #expect(reading.parts[4].filename == "Bericht über Köln.pdf")
        }
    }

    @Test(.enabled(if: MessageRig.isAvailable))
    func utf8AddressesTakeSMTPUTF8() throws {
        let marker = "utf8-\(UUID().uuidString)"
        var builder = MessageBuilder(from: Mailbox("sender@test.local"), to: [Mailbox("rcpt@example.net")],
                                     subject: "SMTPUTF8", date: Self.date, text: "plain text\n")
        builder.cc = [Mailbox("jürgen@exämple.de", name: "Jürgen")]
        builder.headers = [HeaderField("X-Test-Marker", marker)]
        let built = try builder.build()
        #expect((built.envelope.bodyType, built.envelope.requiresSMTPUTF8) == (.eightBitMIME, true))
        let session = try BlockingSession(options: MessageRig.aiosmtpd)
        defer { session.close() }
        #expect(session.send(built.outgoing).status == .delivered)
        let stored = MessageRig.stored(containing: marker, count: 1)
        #expect(stored.count == 1)
        let (eml, json) = try #require(stored.first)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: eml))) == (try built.bytes()))
        #expect(json["smtp_utf8"] as? Bool == true)
        #expect(json["rcpt_tos"] as? [String] == ["rcpt@example.net", "jürgen@exämple.de"])
        let reading = try PythonOracle.read(path: eml)
        #expect(reading.addresses["Cc"] == [["Jürgen", "jürgen@exämple.de"]])
        #expect(reading.parts == [OracleReading.Part(type: "text/plain", cte: "7bit", text: "plain text\r\n")])
    }

    @Test func quotedPrintableWhereTheServerDoesNotOfferEightBit() throws {
        let prefix = NSTemporaryDirectory() + "plain-\(UUID().uuidString)"
        defer { for suffix in [".eml", ".mail"] { try? FileManager.default.removeItem(atPath: prefix + suffix) } }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", PythonOracle.script.replacingOccurrences(of: "oracle.py", with: "plain_server.py"), prefix]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        var portText = ""
        while !portText.hasSuffix("\n") {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            portText += String(decoding: byte, as: UTF8.self)
        }
        let port = try #require(UInt16(portText.trimmingCharacters(in: .whitespacesAndNewlines)))

        let options = ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .opportunistic, heloName: "client.test.local",
                                    timeouts: Timeouts(all: .seconds(20)), connectTimeout: .seconds(5))
        let session = try BlockingSession(options: options)
        #expect(!session.capabilities.contains(.eightBitMIME))
        let built = try Self.builder(marker: "plain", allowEightBit: session.capabilities.contains(.eightBitMIME)).build()
        #expect(built.envelope.bodyType == .sevenBit)
        #expect(session.send(built.outgoing).status == .delivered)
        session.close()
        server.waitUntilExit()

        let stored = [UInt8](try Data(contentsOf: URL(fileURLWithPath: prefix + ".eml")))
        #expect(stored == (try built.bytes()))
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: prefix + ".mail")), as: UTF8.self)
            == "MAIL FROM:<sender@test.local> SIZE=\(built.size)")
        let reading = try PythonOracle.read(stored)
        #expect(reading.defects == [])
        #expect(reading.parts.map(\.cte) == [nil, nil, "quoted-printable", "quoted-printable", "base64"])
        #expect(reading.parts[2].text == crlf(Self.text))
    }

    /// Runs `PoolLoad attachment`: builds the message with `path` attached and sends it to
    /// aiosmtpd (STARTTLS, AUTH); its outcome, the built size and its peak memory growth.
    static func attachInAProcessOfItsOwn(path: String, marker: String) throws
        -> (status: String, outcome: String, size: Int, grewKiB: Int) {
        let env = MessageRig.environment
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("PoolLoad")
        let process = Process()
        process.executableURL = tool
        process.arguments = ["attachment", env["RIG_AIOSMTPD_PORT"]!, path, marker, env["RIG_SASL_USER"]!,
                             env["RIG_SASL_PASSWORD"]!, env["RIG_CA_FILE"]!]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any],
                                  "PoolLoad printed \(String(decoding: data, as: UTF8.self))")
        return (object["status"] as? String ?? "", object["outcome"] as? String ?? "", object["size"] as? Int ?? -1,
                object["grew_kib"] as? Int ?? Int.max)
    }

    @Test(.enabled(if: MessageRig.isAvailable))
    func fiftyMegabyteAttachmentStreamsInConstantMemory() throws {
        try MemoryLock.exclusively {
            let marker = "big-\(UUID().uuidString)"
            let path = NSTemporaryDirectory() + "builder-big-\(UUID().uuidString).bin"
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            var block = Data(count: 1 << 20)
            for round in 0..<50 {
                block.withUnsafeMutableBytes { raw in
                    for index in 0..<raw.count { raw[index] = UInt8(truncatingIfNeeded: (index &* 31) ^ (round &* 7) ^ (index >> 9)) }
                }
                handle.write(block)
            }
            try handle.close()

            // Built and sent in a process of its own (Tests/PoolLoad, built with the tests), so
            // what the suite's other tests hold at the same time is not counted.
            let probe = try Self.attachInAProcessOfItsOwn(path: path, marker: marker)
            #expect(probe.status == "delivered", "\(probe.outcome)")
            print("builder: peak memory grew by \(probe.grewKiB) KiB sending \(probe.size) octets")
            #expect(probe.grewKiB < 24 * 1024, "peak memory grew by \(probe.grewKiB) KiB while sending \(probe.size) octets")

            let stored = MessageRig.stored(containing: marker, count: 1)
            #expect(stored.count == 1)
            let eml = try #require(stored.first?.eml)
            let size = try FileManager.default.attributesOfItem(atPath: eml)[.size] as? Int
            #expect(size == probe.size)
            let reading = try PythonOracle.read(path: eml)
            #expect(reading.defects == [])
            #expect(reading.parts.map(\.type) == ["multipart/mixed", "text/plain", "application/octet-stream"])
            #expect(reading.parts[2].filename == "große Datei.bin")
            #expect(reading.parts[2].size == 50 << 20)
            #expect(reading.parts[2].sha256 == (try PythonOracle.sha256(ofFile: path)))
        }
    }
}
