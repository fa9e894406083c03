import SMTPConnection
import SMTPCore
import SMTPSocketDriver
import SMTPUVDriver

/// The drivers: blocking sockets, and libuv with many sessions on one thread.
func sendWithTheDrivers(_ options: ClientOptions) throws -> [MessageOutcome] {
    let message = OutgoingMessage(from: "a@example.org", to: ["b@example.net"],
                                  content: Array("Subject: hello\r\n\r\nHello.\r\n".utf8))

    // One call: connect, send, quit. Only a caller's mistake throws; the rest is in the outcome.
    let outcome = try SMTPClient.send(message, options: options)
    for recipient in outcome.recipients {
        print(recipient.address, recipient.status, recipient.reply?.description ?? "no reply")
    }

    // Many messages over one connection, pipelined where the server allows.
    let session = try BlockingSession(options: options)
    let outcomes = session.send([message, message, message])
    session.close()

    // libuv: N sessions on one loop and one thread, each taking the next message.
    var batch: [MessageOutcome] = []
    let summary = try UVBatchSender(options: options, connections: 4)
        .run(count: 20, makeMessage: { _ in message }, completion: { _, outcome in batch.append(outcome) })
    print("\(summary.delivered) delivered over \(summary.connectionsOpened) connections")

    return [outcome] + outcomes + batch
}
