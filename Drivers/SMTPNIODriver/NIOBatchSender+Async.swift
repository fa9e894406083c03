import NIOCore
import NIOPosix
import SMTPConnection
import SMTPCore

/// The async/await face: the batch runs on an event loop while the caller awaits, blocking no
/// thread (the host name is resolved on NIO's shared thread pool).
extension NIOBatchSender {
    /// Sends `messages` over this sender's sessions on `loop` (by default one of NIO's shared
    /// event loops), returning their outcomes in order. Throws only a caller's mistake, before
    /// any I/O (`SMTPClientError`).
    public func send(_ messages: [OutgoingMessage],
                     on loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) async throws -> [MessageOutcome] {
        var prepared = try prepare()
        prepared.addresses = try await resolve(on: loop).get()
        let job = AsyncBatch(sender: self, prepared: prepared, messages: messages)
        return try await loop.flatSubmit {
            job.start(on: loop)
        }.get()
    }
}

/// One awaited batch. The sender and its observer are handed over whole and used only on the
/// loop from then on, hence the unchecked conformance.
private final class AsyncBatch: @unchecked Sendable {
    let sender: NIOBatchSender
    let prepared: NIOBatchSender.Prepared
    let messages: [OutgoingMessage]
    private var outcomes: [MessageOutcome?]

    init(sender: NIOBatchSender, prepared: NIOBatchSender.Prepared, messages: [OutgoingMessage]) {
        self.sender = sender
        self.prepared = prepared
        self.messages = messages
        outcomes = Array(repeating: nil, count: messages.count)
    }

    func start(on loop: any EventLoop) -> EventLoopFuture<[MessageOutcome]> {
        sender.start(prepared: prepared, on: loop, count: messages.count, makeMessage: { [messages] in messages[$0] },
                     completion: { [self] index, outcome in outcomes[index] = outcome })
            .assumeIsolated()
            .map { [self] _ in outcomes.map { $0! } }
            .nonisolated()
    }
}
