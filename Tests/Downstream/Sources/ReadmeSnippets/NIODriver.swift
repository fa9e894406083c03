import SMTPConnection
import SMTPCore
import SMTPNIODriver

/// SwiftNIO: sessions on an event loop, awaited without blocking a thread.
func sendOnNIO(_ options: ClientOptions) async throws -> [MessageOutcome] {
    let message = OutgoingMessage(from: "a@example.org", to: ["b@example.net"],
                                  content: Array("Subject: hello\r\n\r\nHello.\r\n".utf8))
    // Two sessions on one of NIO's shared event loops (pass `on:` to use your application's);
    // each takes the next message, pipelined where the server allows.
    return try await NIOBatchSender(options: options, connections: 2).send([message, message, message])
}
