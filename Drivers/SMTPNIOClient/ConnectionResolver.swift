import NIOCore
import NIOPosix
import SMTPConnection

/// Where a new connection of the pool connects: the server's name resolved for that connection
/// (so a change of address is seen by the next connection), on NIO's shared thread pool, since
/// getaddrinfo blocks and the event loop must not.
struct ConnectionResolver: Sendable {
    /// Resolves the options' server (or Unix socket) to addresses; may block.
    typealias Lookup = @Sendable (ClientOptions) -> Result<[ResolvedAddress], ResolutionError>

    let lookup: Lookup

    /// The system's resolver, as every driver uses it (the same words on failure).
    static let system = ConnectionResolver { options in
        do throws(ResolutionError) {
            return .success(try AddressResolver.resolve(options))
        } catch {
            return .failure(error)
        }
    }

    /// Resolves off the loop; the future completes on `loop` and always succeeds (a failure is
    /// its value, as the batch sender reports it).
    func resolve(_ options: ClientOptions, on loop: any EventLoop) -> EventLoopFuture<Result<[ResolvedAddress], ResolutionError>> {
        let lookup = lookup
        return NIOThreadPool.singleton.runIfActive(eventLoop: loop) { lookup(options) }
            .flatMapErrorThrowing { error in .failure(ResolutionError(message: "name resolution did not run: \(error)")) }
    }
}
