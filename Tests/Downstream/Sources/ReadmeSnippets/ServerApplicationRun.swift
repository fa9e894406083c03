import Logging
import ServiceLifecycle
import SMTPConnection
import SMTPCore
import SMTPNIOClient

/// Stands for the HTTP server: returns at once, so the group shuts the mailer down.
struct FinishedServer: Service {
    func run() async throws {}
}

/// Runs the article "Sending from a server application" against the rig: a welcome mail
/// delivered, a cancelled send either withdrawn (.cancelled) or already delivered, and the
/// ServiceGroup's end shutting the client down (a send after it throws .shutDown).
func serverApplication(_ options: ClientOptions) async throws -> Bool {
    let logger = Logger(label: "readme-snippets")
    let mailer = try Mailer(options: options, logger: logger)
    let welcome = try await mailer.sendWelcome(to: "b@example.net", requestLogger: logger)
    let message = OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: content)
    let cancelled = try await mailer.sendUnlessCancelled(message)
    var cancelledAsItShould = cancelled.status == .delivered
    if case .cancelled? = cancelled.failure { cancelledAsItShould = true }
    try? await runTheApplication(mailer: mailer, httpServer: FinishedServer(), logger: logger)
    var refusedAfterShutdown = false
    do { _ = try await mailer.client.send(message) } catch SMTPAsyncClientError.shutDown { refusedAfterShutdown = true }
    let passed = welcome.status == .delivered && cancelledAsItShould && refusedAfterShutdown
    print("readme-snippets: server application: welcome \(welcome.status), cancelled send \(cancelled), "
          + "send after shutdown refused: \(refusedAfterShutdown)\(passed ? "" : " FAILED")")
    return passed
}
