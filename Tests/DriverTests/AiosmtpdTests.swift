import Foundation
import SMTPCore
import SMTPConnection
import SMTPTLS
import Testing

/// Message content arrives at aiosmtpd byte for byte as the encoding rules say, through both
/// drivers; big content streams in constant memory.
@Suite("aiosmtpd content (both drivers)", .serialized)
struct AiosmtpdTests {
    static func normalized(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 {
                out += [13, 10]
                if index + 1 < bytes.count, bytes[index + 1] == 10 { index += 1 }
            } else if byte == 10 {
                out += [13, 10]
            } else {
                out.append(byte)
            }
            index += 1
        }
        if !out.isEmpty, out.suffix(2) != [13, 10] { out += [13, 10] }
        return out
    }

    private var options: ClientOptions {
        Rig.options("RIG_AIOSMTPD_PORT", tls: .required,
                    authentication: .passwordWithCrypto(username: Rig.user, password: Rig.password))
    }

    static let bodies: [(String, String, Bool)] = [
        ("lone-lf", "line one\nline two\n.dot after LF\n", false),
        ("lone-cr", "line one\rline two\r.dot after CR\r", false),
        ("leading-dots", ".single\r\n..double\r\n.\r\n...\r\n\r\n.\r\nend\r\n", false),
        ("no-final-crlf", "the last line has no line end", false),
        ("eight-bit", "Gr\u{FC}\u{DF}e aus K\u{F6}ln \u{2014} caf\u{E9}\r\n", true),
        ("smuggling", "hello\n.\nMAIL FROM:<evil@example.com>\r\n.\r\nRCPT TO:<x@example.net>\r\r.\r\rDATA\r\n", false),
    ]

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func bodiesArriveExactly(_ driver: Driver) throws {
        for (name, text, eightBit) in Self.bodies {
            let marker = "X-Test-Marker: \(name)-\(driver)-\(UUID().uuidString)"
            let content = Array("\(marker)\r\nSubject: \(name)\r\n\r\n".utf8) + Array(text.utf8)
            let message = OutgoingMessage(envelope: Envelope(sender: "sender@test.local", recipients: ["rcpt@example.net"],
                                                             bodyType: eightBit ? .eightBitMIME : .sevenBit),
                                          content: BytesContent(content))
            let result = deliver(message, options: options, via: driver)
            #expect(result.report?.status == .delivered, "\(name): \(String(describing: result.sessionError ?? result.report?.failure.map { SMTPError.misuse("\($0)") }))")
            let stored = try #require(Rig.aiosmtpdContent(containing: marker), "\(name) was not stored")
            #expect([UInt8](stored) == Self.normalized(content), "\(name) arrived altered")
            if eightBit { #expect(result.commands.contains { $0.contains("BODY=8BITMIME") }) }
        }
    }

    /// Runs `PoolLoad stream` (the driver named, the file streamed, STARTTLS and AUTH at
    /// aiosmtpd) and reads its outcome and how much its peak resident memory grew.
    static func streamInAProcessOfItsOwn(driver: Driver, path: String) throws -> (status: String, outcome: String, grewKiB: Int) {
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("PoolLoad")
        let process = Process()
        process.executableURL = tool
        process.arguments = ["stream", "\(driver)", "\(Rig.port("RIG_AIOSMTPD_PORT"))", path, Rig.user, Rig.password,
                             Rig.caFile]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "PoolLoad printed \(String(decoding: data, as: UTF8.self))")
        return (object["status"] as? String ?? "", object["outcome"] as? String ?? "", object["grew_kib"] as? Int ?? Int.max)
    }

    @Test(.enabled(if: Rig.isAvailable), arguments: Driver.allCases)
    func fiftyMegabytesStreamInConstantMemory(_ driver: Driver) throws {
        try MemoryLock.exclusively {
            let marker = "X-Test-Marker: big-\(driver)-\(UUID().uuidString)"
            let path = NSTemporaryDirectory() + "/smtp-big-\(UUID().uuidString).eml"
            defer { try? FileManager.default.removeItem(atPath: path) }
            // 50 MiB of already-normalized text with leading dots, so what arrives must equal the file.
            #expect(FileManager.default.createFile(atPath: path, contents: nil))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            handle.write(Data("\(marker)\r\nSubject: big\r\n\r\n".utf8))
            var block = Data()
            for line in 0..<1000 {
                block.append(Data((line % 10 == 0 ? ".dotted line \(line) " : "line \(line) ").utf8))
                block.append(Data(String(repeating: "x", count: 40).utf8))
                block.append(Data("\r\n".utf8))
            }
            while (try handle.offset()) < 50 * 1024 * 1024 { handle.write(block) }
            try handle.close()
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int

            // The send runs in a process of its own (Tests/PoolLoad, built with the tests), so
            // what the suite's other tests hold at the same time is not counted.
            let probe = try Self.streamInAProcessOfItsOwn(driver: driver, path: path)
            #expect(probe.status == "delivered", "\(probe.outcome)")
            #expect(probe.grewKiB < 24 * 1024, "peak memory grew by \(probe.grewKiB) KiB while sending \(size) bytes")

            let stored = try #require(Rig.aiosmtpdContent(containing: marker, timeout: .seconds(60)))
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(stored.count == original.count)
            #expect(stored == original, "50 MiB arrived byte for byte")
        }
    }
}
