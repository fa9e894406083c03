import ServiceLifecycle

/// The client as a ServiceLifecycle service, to run beside an application's HTTP server in a
/// `ServiceGroup`: `run()` waits for the group's graceful shutdown, then shuts the client down
/// with its configured grace period; a cancelled task shuts it down with no grace (queued sends
/// withdrawn, sends on a connection stopped).
extension SMTPAsyncClient: Service {
    /// Runs until graceful shutdown (or cancellation), then shuts the client down.
    public func run() async throws {
        do {
            try await gracefulShutdown()
            await shutdown()
        } catch {
            await shutdown(gracePeriod: .zero)
        }
    }
}
