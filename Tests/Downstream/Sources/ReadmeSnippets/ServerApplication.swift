import Logging
import ServiceLifecycle
import SMTPConnection
import SMTPCore
import SMTPNIOClient

/// A web application's mailer: one client, made at start-up and shared by every request.
struct Mailer: Sendable {
    let client: SMTPAsyncClient

    init(options: ClientOptions, logger: Logger) throws {
        client = try SMTPAsyncClient(
            options: options,
            pool: SMTPPoolConfiguration(maxConnections: 8, idleTimeout: .seconds(30),
                                        maxMessagesPerConnection: 100),
            logger: logger)
    }

    /// Called from a request handler. A 550 is an outcome, not an error: only a send after
    /// shutdown throws.
    func sendWelcome(to address: String, requestLogger: Logger) async throws -> MessageOutcome {
        let message = OutgoingMessage(from: "app@example.org", to: [address],
                                      content: Array("Subject: welcome\r\n\r\nHello.\r\n".utf8))
        // An overall limit for this send, on top of the per-phase timeouts of ClientOptions;
        // the request's own logger gets this send's lines (with an smtp.message id).
        let outcome = try await client.send(message, deadline: .now + .seconds(30), logger: requestLogger)
        switch outcome.status {
        case .delivered:
            requestLogger.info("welcome mail queued", metadata: ["reply": "\(outcome.dataReply.map { "\($0)" } ?? "")"])
        case .unknown:
            // The end of the data went out and no reply came: do not send it again blindly.
            requestLogger.warning("welcome mail may or may not have been taken")
        case .notDelivered, .partiallyDelivered:
            requestLogger.warning("welcome mail refused", metadata: ["outcome": "\(outcome)"])
        }
        return outcome
    }

    /// A send whose task is cancelled (the client went away) ends within milliseconds: withdrawn
    /// if no connection holds it yet, otherwise stopped by the engine, and the outcome says which.
    func sendUnlessCancelled(_ message: OutgoingMessage) async throws -> MessageOutcome {
        let task = Task { try await client.send(message) }
        task.cancel()
        let outcome = try await task.value
        if case .cancelled(let reason)? = outcome.failure {
            print("stopped (\(reason)); safe to send again: \(outcome.isSafeToRetry)")
        }
        return outcome
    }
}

/// Beside the HTTP server in one ServiceGroup: on SIGTERM the group shuts the client down
/// gracefully (queued sends finish or are withdrawn after the grace period; connections QUIT).
func runTheApplication(mailer: Mailer, httpServer: some Service, logger: Logger) async throws {
    let group = ServiceGroup(services: [httpServer, mailer.client], gracefulShutdownSignals: [.sigterm],
                             logger: logger)
    try await group.run()
}
