import SMTPConnection
import SMTPCore

/// The connection layer runs the engine, TLS and the message's content for you: a driver of
/// your own only moves bytes and time.
func sendThroughTheConnectionLayer(_ message: OutgoingMessage, over stream: ByteStream,
                                   options: ClientOptions) throws -> MessageOutcome {
    let connection = try ClientConnection(configuration: options.engineConfiguration(heloName: "client.example"),
                                          tlsContext: try options.makeTLSContext(), tlsHost: options.host,
                                          idlePolicy: .quitWhenIdle)
    var outcome: MessageOutcome?
    var buffer: [UInt8] = []
    connection.enqueue(message, completion: { outcome = $0 }, at: stream.now)
    connection.start(at: stream.now)
    while true {
        if connection.hasNetworkOutput {
            connection.takeNetworkOutput(into: &buffer)
            do { try stream.write(buffer) } catch { connection.transportFailed(.io("\(error)"), at: stream.now) }
            buffer.removeAll(keepingCapacity: true)
            connection.outputDrained(at: stream.now)
        } else if connection.isFinished {
            stream.close()
            return outcome!                                    // every message gets exactly one outcome
        } else if let bytes = try stream.read(until: connection.deadline) {
            if bytes.isEmpty { connection.connectionClosed(at: stream.now) } else {
                bytes.withUnsafeBytes { connection.received($0, at: stream.now) }
            }
        } else {
            connection.timePassed(at: stream.now)
        }
    }
}
