import Foundation
import Logging
import SMTPConnection
import SMTPCore
import SMTPNIOClient

/// What the pool's tests share: a client for a scripted server, numbered messages.
enum PoolTest {
    static func options(port: UInt16, timeouts: Timeouts = Timeouts(all: .seconds(10))) -> ClientOptions {
        ClientOptions(host: "127.0.0.1", port: port, tlsPolicy: .off, heloName: "client.test.local", timeouts: timeouts,
                      connectTimeout: .seconds(5))
    }

    static func client(port: UInt16, pool: SMTPPoolConfiguration, logger: Logger = Logger(label: "smtp.test"),
                       timeouts: Timeouts = Timeouts(all: .seconds(10))) throws -> SMTPAsyncClient {
        try SMTPAsyncClient(options: options(port: port, timeouts: timeouts), pool: pool, logger: logger)
    }

    /// Message `number`, whose body names it ("message N"), to one recipient.
    static func message(_ number: Int, marker: String = "pool") -> OutgoingMessage {
        let content = "Subject: \(marker) \(number)\r\n\r\n\(marker) message \(number)\r\n"
        return OutgoingMessage(from: "sender@test.local", to: ["rcpt\(number)@example.net"], content: Array(content.utf8))
    }

    /// The body `message(number)` arrives as at the scripted server.
    static func body(_ number: Int, marker: String = "pool") -> String {
        "Subject: \(marker) \(number)\r\n\r\n\(marker) message \(number)\r\n"
    }

    /// The outcome of a message withdrawn before any connection took it.
    static func withdrawn(_ message: OutgoingMessage, _ failure: TransactionFailure) -> MessageOutcome {
        .notAttempted(message.envelope, because: failure)
    }
}
