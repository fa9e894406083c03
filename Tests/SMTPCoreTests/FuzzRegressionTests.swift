import Foundation
import SMTPCore
@testable import SMTPFuzzOracle
import Testing

/// Replays the fuzz targets' inputs through the same harnesses, without sanitizers, so a crash
/// the fuzzer found and the engine fixed stays fixed, and the harnesses themselves keep running
/// under the normal test suite. A harness that finds its invariant broken traps, which fails the
/// test run. See Fuzz/README.md.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// The repository's Fuzz/ folder, found from this file's path.
    static let fuzzRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // SMTPCoreTests
        .deletingLastPathComponent() // Tests
        .deletingLastPathComponent() // repository root
        .appendingPathComponent("Fuzz")

    /// The input files in Fuzz/<folder>/<target>/. A missing or empty folder is an error, never
    /// a silent skip.
    static func inputs(_ folder: String, _ target: FuzzHarness.Target) throws -> [(name: String, bytes: [UInt8])] {
        let directory = fuzzRoot.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { !$0.hasPrefix(".") && $0 != "README.md" }
            .sorted()
        #expect(!names.isEmpty, "no inputs in \(directory.path)")
        return try names.map { name in
            (name, [UInt8](try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    @Test(arguments: FuzzHarness.Target.allCases)
    func regressionInputsStayFixed(_ target: FuzzHarness.Target) throws {
        for input in try Self.inputs("regressions", target) {
            FuzzHarness.run(target, input.bytes)
        }
    }

    @Test(arguments: FuzzHarness.Target.allCases)
    func keptCorpusPasses(_ target: FuzzHarness.Target) throws {
        for input in try Self.inputs("corpus", target) {
            FuzzHarness.run(target, input.bytes)
        }
    }

    /// A few hundred deterministic pseudo-random inputs per target: some pure noise, some built
    /// from SMTP tokens so the engine target gets past the greeting.
    @Test(arguments: FuzzHarness.Target.allCases)
    func pseudoRandomInputs(_ target: FuzzHarness.Target) {
        var generator = SplitMix(state: 0x5EED_0000 &+ UInt64(target.rawValue.utf8.count))
        let tokens: [[UInt8]] = [
            "220 mx ESMTP\r\n", "250-mx\r\n", "250-PIPELINING\r\n", "250-STARTTLS\r\n", "250-AUTH PLAIN LOGIN\r\n",
            "250-CHUNKING\r\n", "250 SIZE 100\r\n", "250 ok\r\n", "354 go\r\n", "221 bye\r\n", "334 \r\n", "235 ok\r\n",
            "550 no\r\n", "452 4.5.3 later\r\n", "421 closing\r\n", ".\r\n", "\r\n", "\n", "\r", "..", "\0", "\u{FF}",
        ].map { Array($0.utf8) }
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            let length = Int(generator.next() % 400)
            while bytes.count < length {
                let roll = generator.next()
                if roll % 3 == 0 {
                    bytes += tokens[Int((roll >> 8) % UInt64(tokens.count))]
                } else {
                    bytes.append(UInt8(truncatingIfNeeded: roll >> 16))
                }
            }
            FuzzHarness.run(target, bytes)
        }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// The connection target's seeds do what their names say, so the harness is not judging
/// sessions that never reach a transaction.
@Suite("Connection fuzz seeds")
struct ConnectionSeedTests {
    private func outcomes(_ name: String) throws -> [MessageOutcome] {
        let url = FuzzRegressionTests.fuzzRoot.appendingPathComponent("seeds/connection/seed-\(name)")
        let bytes = [UInt8](try Data(contentsOf: url))
        return bytes.withUnsafeBytes { ConnectionHarness.run($0) }
    }

    @Test func oneMessageIsDelivered() throws {
        #expect(try outcomes("one-message").map(\.status) == [.delivered])
        #expect(try outcomes("bdat").map(\.status) == [.delivered])
    }

    /// Flag 8: the message goes through a supplier (the batch drivers' path), taken once the
    /// EHLO reply has made the session ready; flag 32 QUITs once the supplier has no more.
    @Test func oneSuppliedMessageIsDelivered() throws {
        #expect(try outcomes("supplied-one-message").map(\.status) == [.delivered])
    }

    @Test func lockstepWithOneRecipientRefused() throws {
        let lockstep = try outcomes("lockstep")
        #expect(lockstep.first?.recipients.map(\.status) == [.delivered, .refused])
        #expect(lockstep.first?.recipients.last?.reply?.description == "550 5.1.1 no such user")
    }

    @Test func followUpTransactions() throws {
        let refused = try outcomes("follow-up-refused")
        #expect(refused.map(\.status) == [.partiallyDelivered])
        #expect(refused.first?.recipients.map(\.status) == [.delivered, .delivered, .refused, .refused])
        #expect(try outcomes("follow-up-accepted").map(\.status) == [.delivered])
    }
}
