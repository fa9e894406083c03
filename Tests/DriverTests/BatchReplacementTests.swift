import SMTPCore
import SMTPConnection
import SMTPNIODriver
import SMTPSocketDriver
import SMTPTLS
import SMTPUVDriver
import Testing

/// The batch senders' one rule for replacing a session that ended while messages wait
/// (`SessionReplacement`), as a table and through every batch sender.
@Suite("Batch session replacement")
struct BatchReplacementTests {
    private static func settings(sessions: Int, maxAttempts: Int) -> BatchSettings {
        BatchSettings(options: ClientOptions(host: "127.0.0.1", port: 25), connections: sessions, maxAttempts: maxAttempts,
                      messagesPerSession: nil, observer: nil)
    }

    /// Each kind of ended session, against a fresh budget: replaced or not.
    @Test func theRuleForEachKindOfEndedSession() {
        let cases: [(delivered: Int, started: Int, retiring: Bool, failure: SMTPError?, maxAttempts: Int, replaced: Bool)] = [
            (3, 3, false, nil, 5, true),                                        // a per-session limit reached
            (1, 2, false, .connectionClosed(.mail), 1, true),                   // closed after a delivery
            (0, 1, true, nil, 5, true),                                         // retired: a message went back
            (0, 1, false, .connectionClosed(.recipient), 5, true),              // ended mid-message
            (0, 0, false, .timeout(.greeting), 5, true),                        // never greeted, retries allowed
            (0, 0, false, .timeout(.greeting), 1, false),                       // never greeted, no retries
            (0, 0, false, .transportFailed(.connect(address: "127.0.0.1:25", reason: .refused), .connect), 5, false),
            (0, 0, false, .certificateRejected("self-signed certificate"), 5, false),
            (0, 0, false, .authenticationFailed(SMTPReply(code: ReplyCode(rawValue: 535)!)), 5, false),
        ]
        for example in cases {
            var rule = SessionReplacement(Self.settings(sessions: 1, maxAttempts: example.maxAttempts))
            let replaced = rule.replaces(delivered: example.delivered, started: example.started, retiring: example.retiring,
                                         failure: example.failure)
            #expect(replaced == example.replaced, "\(example)")
        }
    }

    /// A session that delivered nothing is replaced at most twice per session in all; one that
    /// delivered is replaced whatever is left.
    @Test func fruitlessReplacementsHaveABudgetOfTwoPerSession() {
        var rule = SessionReplacement(Self.settings(sessions: 2, maxAttempts: 5))
        let fruitless = (0..<6).map { _ in rule.replaces(delivered: 0, started: 1, retiring: true, failure: nil) }
        let productive = rule.replaces(delivered: 1, started: 1, retiring: false, failure: nil)
        #expect(fruitless == [true, true, true, true, false, false])
        #expect(productive)
    }

    /// Into a port nobody listens on, every batch sender opens one connection per session and
    /// ends every message with the refusal: a refused session is not replaced on any driver.
    @Test(arguments: Driver.allCases)
    func aRefusedBatchOpensOneConnectionPerSession(_ driver: Driver) throws {
        let port = try PoolScriptedTests.closedPort()
        let options = ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .off, heloName: "client.test.local",
                                    connectTimeout: .seconds(2))
        let make: (Int) -> OutgoingMessage = { _ in
            OutgoingMessage(from: "a@test.local", to: ["b@example.net"], content: Array("Subject: x\r\n\r\nbody\r\n".utf8))
        }
        var outcomes: [Int: MessageOutcome] = [:]
        let record: (Int, MessageOutcome) -> Void = { outcomes[$0] = $1 }
        let summary: BatchSummary = switch driver {
        case .socket: try BlockingBatchSender(options: options, connections: 2).run(count: 5, makeMessage: make, completion: record)
        case .uv: try UVBatchSender(options: options, connections: 2).run(count: 5, makeMessage: make, completion: record)
        case .nio: try NIOBatchSender(options: options, connections: 2).run(count: 5, makeMessage: make, completion: record)
        }
        #expect(summary.connectionsOpened == 2)
        #expect(summary.failed == 5 && summary.delivered == 0)
        #expect(outcomes.keys.sorted() == [0, 1, 2, 3, 4])
        #expect(Set(outcomes.values.map { "\($0.failure.map { "\($0)" } ?? "none")" })
                == ["cannot connect to 127.0.0.1:\(port): connection refused"])
        // The summary says the same in every driver.
        #expect(summary.lastError == "cannot connect to 127.0.0.1:\(port): connection refused")
        #expect(summary.connectFailure == .connect(address: "127.0.0.1:\(port)", reason: .refused))
    }

    /// What a batch keeps of its sessions' failures: the last real one, in the summary's words.
    @Test func theLastFailureIsKeptAndReported() {
        var failures = BatchFailures()
        var summary = BatchSummary()
        #expect("\(failures.leftOver)" == "\(TransactionFailure.sessionEnded(.connectionClosed(.connect)))")
        failures.sessionEnded(with: nil, summary: &summary)
        failures.sessionEnded(with: .cancelled, summary: &summary)
        #expect(failures.last == nil && summary.lastError == nil && summary.connectFailure == nil)
        let refused = TransportFailure.connect(address: "192.0.2.1:25", reason: .refused)
        failures.sessionEnded(with: .couldNotConnect(refused), summary: &summary)
        #expect(failures.last == .couldNotConnect(refused))
        #expect(summary.lastError == "cannot connect to 192.0.2.1:25: connection refused")
        #expect(summary.connectFailure == refused)
        failures.sessionEnded(with: .timeout(.greeting), summary: &summary)
        #expect(failures.last == .timeout(.greeting))
        #expect(summary.lastError == "timed out waiting for greeting")
        #expect("\(failures.leftOver)" == "\(TransactionFailure.sessionEnded(.timeout(.greeting)))")
        #expect(summary.connectFailure == refused) // why the last connection attempt failed, still
    }
}
