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

            Rig.resetPeakMemory()
            let before = Rig.memory()
            let message = OutgoingMessage(envelope: Envelope(sender: "sender@test.local", recipients: ["rcpt@example.net"]),
                                          content: try FileContent(path: path))
            let result = deliver(message, options: options, via: driver)
            let after = Rig.memory()
            #expect(result.report?.status == .delivered)
            let grewKiB = after.peak - before.resident
            #expect(grewKiB < 24 * 1024, "peak memory grew by \(grewKiB) KiB while sending \(size) bytes")

            let stored = try #require(Rig.aiosmtpdContent(containing: marker, timeout: .seconds(60)))
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(stored.count == original.count)
            #expect(stored == original, "50 MiB arrived byte for byte")
        }
    }
}
