import NIOCore
import NIOPosix
import SMTPConnection
import SMTPCore
import SMTPTLS

/// Sends a batch of messages over N concurrent SMTP sessions on one SwiftNIO event loop.
///
/// The batch works as `UVBatchSender` does, with the same options, outcomes and summary: each
/// session takes the next message from one `SendQueue` whenever its engine can start a
/// transaction (pipelined behind the previous one where the server allows), and quits when the
/// queue is empty. A message the server never took goes back to the queue (at most
/// `maxAttempts` tries) and its session retires. A session that ends after it delivered is
/// replaced while messages remain; one that took no message is replaced only within a small
/// budget, since a server that refuses a session (or TLS, or AUTH) will refuse the next too.
///
/// `run(count:makeMessage:completion:)` makes an event loop of its own and blocks until the
/// batch is done; `start(on:count:makeMessage:completion:)` runs the batch on an application's
/// event loop and returns a future.
public final class NIOBatchSender {
    /// How the batch went: `BatchSummary`, as the other batch senders report it.
    public typealias Summary = BatchSummary

    private let settings: BatchSettings
    private var options: ClientOptions { settings.options }

    /// `connections`: sessions at once. `maxAttempts`: how often a message the server never took
    /// is sent (1: never again, every outcome is final). `messagesPerSession`: a session quits
    /// after taking that many messages, and a new one takes its place (nil: no limit). Every
    /// session shares one TLS context, so a new connection may resume an earlier one's TLS
    /// session. `observer` sees every session's events, on the loop.
    public init(options: ClientOptions, connections: Int, maxAttempts: Int = 5, messagesPerSession: Int? = nil,
                observer: SessionObserver? = nil) {
        settings = BatchSettings(options: options, connections: connections, maxAttempts: maxAttempts,
                                 messagesPerSession: messagesPerSession, observer: observer)
    }

    /// Sends `count` messages made by `makeMessage(index)` (lazily, as sessions take them) on an
    /// event loop of its own, and returns when every message has its outcome. `completion` runs
    /// on that loop's thread, once per message, while this call waits. Throws only a caller's
    /// mistake, before any I/O: a server that cannot be reached is reported in every outcome.
    /// Do not call it from an event loop or an async task (it blocks).
    public func run(count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                    completion: @escaping (Int, MessageOutcome) -> Void) throws(SMTPClientError) -> Summary {
        var prepared = try prepare()
        // This thread would wait anyway: resolve here, and the loop never blocks.
        prepared.addresses = resolve()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        // The closures are handed over whole: this thread waits while the loop uses them.
        let handOver = HandOver(sender: self, prepared: prepared, count: count, makeMessage: makeMessage, completion: completion)
        // The batch's future only ever succeeds (every failure is in the outcomes).
        var summary = (try? loop.flatSubmit {
            handOver.sender.start(prepared: handOver.prepared, on: loop, count: handOver.count,
                                  makeMessage: handOver.makeMessage, completion: handOver.completion)
        }.wait()) ?? Summary()
        // The loop's thread ends, and every channel with it.
        let shutDown: Bool
        do { try group.syncShutdownGracefully(); shutDown = true } catch { shutDown = false }
        summary.loopClosedCleanly = shutDown
        return summary
    }

    /// Runs the batch on `loop`, which must be the calling thread's loop: every closure runs
    /// there. The future gives the summary once every message has its outcome. The server's name
    /// is resolved (getaddrinfo, which blocks) on NIO's shared thread pool, never on the loop.
    public func start(on loop: any EventLoop, count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                      completion: @escaping (Int, MessageOutcome) -> Void) throws(SMTPClientError) -> EventLoopFuture<Summary> {
        loop.preconditionInEventLoop()
        let prepared = try prepare()
        return resolve(on: loop).assumeIsolated().flatMap { [self] addresses in
            var resolved = prepared
            resolved.addresses = addresses
            return start(prepared: resolved, on: loop, count: count, makeMessage: makeMessage, completion: completion)
        }.nonisolated()
    }

    /// Convenience: sends the given messages, returning their outcomes in order.
    public func send(_ messages: [OutgoingMessage]) throws(SMTPClientError) -> [MessageOutcome] {
        var outcomes = [MessageOutcome?](repeating: nil, count: messages.count)
        _ = try run(count: messages.count, makeMessage: { messages[$0] }, completion: { outcomes[$0] = $1 })
        return outcomes.map { $0! }
    }

    // MARK: The batch

    /// What is checked and made before any I/O: the options, the TLS context; then the addresses.
    struct Prepared {
        var tlsContext: TLSClientContext?
        var addresses: Result<[ResolvedAddress], ResolutionError> = .failure(ResolutionError(message: "not resolved"))
    }

    func prepare() throws(SMTPClientError) -> Prepared {
        try options.validate()
        return Prepared(tlsContext: try options.makeTLSContext())
    }

    /// Resolves the server's name on the calling thread (it may block).
    func resolve() -> Result<[ResolvedAddress], ResolutionError> {
        Self.resolve(options)
    }

    /// Resolves the server's name on NIO's shared thread pool; the future completes on `loop`.
    func resolve(on loop: any EventLoop) -> EventLoopFuture<Result<[ResolvedAddress], ResolutionError>> {
        let options = options
        return NIOThreadPool.singleton.runIfActive(eventLoop: loop) { Self.resolve(options) }
            .flatMapErrorThrowing { error in .failure(ResolutionError(message: "name resolution did not run: \(error)")) }
    }

    private static func resolve(_ options: ClientOptions) -> Result<[ResolvedAddress], ResolutionError> {
        do throws(ResolutionError) {
            return .success(try AddressResolver.resolve(options))
        } catch {
            return .failure(error)
        }
    }

    func start(prepared: Prepared, on loop: any EventLoop, count: Int, makeMessage: @escaping (Int) -> OutgoingMessage,
                           completion: @escaping (Int, MessageOutcome) -> Void) -> EventLoopFuture<Summary> {
        let addresses: [ResolvedAddress]
        switch prepared.addresses {
        case .success(let resolved):
            addresses = resolved
        case .failure(let error):
            var summary = Summary()
            let failure = TransportFailure.resolution(error.message)
            summary.connectFailure = failure
            summary.lastError = "\(failure)"
            for index in 0..<count {
                summary.failed += 1
                completion(index, .notAttempted(makeMessage(index).envelope, because: .sessionEnded(.couldNotConnect(failure))))
            }
            return loop.makeSucceededFuture(summary)
        }
        DescriptorLimit.raise(toAtLeast: settings.sessions + 64)
        let batch = NIOBatch(loop: loop, addresses: addresses, settings: settings, tlsContext: prepared.tlsContext,
                             count: count, makeMessage: makeMessage, completion: completion)
        batch.open(sessions: settings.firstSessions(count: count))
        return batch.done.futureResult
    }
}

/// The caller's closures, moved to the loop while the caller waits for the batch to end.
private struct HandOver: @unchecked Sendable {
    let sender: NIOBatchSender
    let prepared: NIOBatchSender.Prepared
    let count: Int
    let makeMessage: (Int) -> OutgoingMessage
    let completion: (Int, MessageOutcome) -> Void
}
