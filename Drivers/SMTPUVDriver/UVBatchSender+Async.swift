import Glibc
import SMTPConnection
import SMTPCore

/// The async/await face: the batch runs on a loop thread of its own while the caller awaits.
extension UVBatchSender {
    /// Sends `messages` over this sender's sessions; the reports come back in order.
    public func send(_ messages: [OutgoingMessage]) async throws -> [MessageOutcome] {
        let job = LoopJob(sender: self, messages: messages)
        return try await withCheckedThrowingContinuation { continuation in
            job.continuation = continuation
            job.start()
        }
    }
}

/// One batch on a thread of its own. The messages and the sender are handed over whole and used
/// only on that thread, hence the unchecked conformance.
private final class LoopJob: @unchecked Sendable {
    let sender: UVBatchSender
    let messages: [OutgoingMessage]
    var continuation: CheckedContinuation<[MessageOutcome], any Error>?

    init(sender: UVBatchSender, messages: [OutgoingMessage]) {
        self.sender = sender
        self.messages = messages
    }

    func start() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<LoopJob>.fromOpaque(raw!).takeRetainedValue()
            job.run()
            return nil
        }, context)
        if status == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<LoopJob>.fromOpaque(context).release()
            let failure = SMTPError.couldNotConnect(.io("cannot start the loop thread (error \(status))"))
            continuation?.resume(returning: messages.map { .notAttempted($0.envelope, because: .sessionEnded(failure)) })
        }
    }

    private func run() {
        do {
            continuation?.resume(returning: try sender.send(messages))
        } catch {
            continuation?.resume(throwing: error)
        }
        continuation = nil
    }
}
