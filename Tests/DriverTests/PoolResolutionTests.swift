import Foundation
import Logging
import SMTPConnection
import SMTPCore
@testable import SMTPNIOClient
import Testing

/// Name resolution in the pool: the server's name is resolved for each new connection, off the
/// event loop, so `init` does not block and a change of address is seen; a name that does not
/// resolve ends the waiting sends with the resolver's own words.
@Suite("SMTPAsyncClient name resolution", .serialized, .timeLimit(.minutes(1)))
struct PoolResolutionTests {
    /// A resolver a test scripts: each call takes the next answer, and may wait for a release.
    final class ScriptedResolver: @unchecked Sendable {
        private let lock = NSLock()
        private var answers: [Result<[ResolvedAddress], ResolutionError>]
        private(set) var calls = 0
        private let gate: DispatchSemaphore?
        private var entered = false
        private var enteredWaiters: [CheckedContinuation<Void, Never>] = []

        init(_ answers: [Result<[ResolvedAddress], ResolutionError>], gated: Bool = false) {
            self.answers = answers
            gate = gated ? DispatchSemaphore(value: 0) : nil
        }

        var callCount: Int { lock.withLock { calls } }
        func release() { gate?.signal() }

        /// Returns once a call has begun (before its gate).
        func waitUntilEntered() async {
            await withCheckedContinuation { continuation in
                let now = lock.withLock {
                    if entered { return true }
                    enteredWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        func resolve(_ options: ClientOptions) -> Result<[ResolvedAddress], ResolutionError> {
            let waiters = lock.withLock {
                entered = true
                defer { enteredWaiters.removeAll() }
                return enteredWaiters
            }
            for waiter in waiters { waiter.resume() }
            gate?.wait()
            return lock.withLock {
                calls += 1
                return answers.count > 1 ? answers.removeFirst() : answers[0]
            }
        }
    }

    static func client(port: UInt16, pool: SMTPPoolConfiguration, resolver: ScriptedResolver) throws -> SMTPAsyncClient {
        try SMTPAsyncClient(options: PoolTest.options(port: port), pool: pool, logger: Logger(label: "smtp.test"),
                            resolver: { resolver.resolve($0) })
    }

    static func loopback(_ port: UInt16) throws -> [ResolvedAddress] {
        try AddressResolver.resolve(host: "127.0.0.1", port: port)
    }

    @Test func aNameThatDoesNotResolveEndsTheSendWithTheResolversWords() async throws {
        var options = PoolTest.options(port: 25)
        options.host = "no-such-host.invalid"
        // The words every driver gives: the shared resolver's.
        let words: String
        do throws(ResolutionError) {
            _ = try AddressResolver.resolve(host: "no-such-host.invalid", port: 25)
            Issue.record("no-such-host.invalid resolved")
            return
        } catch {
            words = error.message
        }
        #expect(words.hasPrefix("cannot resolve no-such-host.invalid: "))
        let client = try SMTPAsyncClient(options: options, pool: SMTPPoolConfiguration(maxConnections: 2),
                                         logger: Logger(label: "smtp.test"))
        let messages = (1...3).map { PoolTest.message($0) }
        let outcomes = try await client.send(messages)
        let expected = messages.map {
            MessageOutcome.notAttempted($0.envelope, because: .sessionEnded(.couldNotConnect(.resolution(words))))
        }
        #expect(outcomes == expected)
        await client.shutdown()
        #expect((await client.statistics()).connectionsOpen == 0)
    }

    @Test func eachNewConnectionResolvesTheNameAgain() async throws {
        let server = try PoolTestServer()
        let resolver = ScriptedResolver([.failure(ResolutionError(message: "cannot resolve mx.test: Name or service not known")),
                                         .success(try Self.loopback(server.port))])
        let client = try Self.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1, maxMessagesPerConnection: 1),
                                     resolver: resolver)
        let first = PoolTest.message(1)
        let refused = try await client.send(first)
        #expect(refused == .notAttempted(first.envelope, because: .sessionEnded(
            .couldNotConnect(.resolution("cannot resolve mx.test: Name or service not known")))))
        // The name now resolves: the next connection sees it, and so does the one after.
        #expect(try await client.send(PoolTest.message(2)).status == .delivered)
        #expect(try await client.send(PoolTest.message(3)).status == .delivered)
        await client.shutdown()
        #expect(resolver.callCount == 3)
        #expect(server.snapshot.accepted == 2)
        #expect(server.snapshot.messages == [PoolTest.body(2), PoolTest.body(3)])
    }

    @Test func resolutionRunsOffTheEventLoop() async throws {
        let server = try PoolTestServer()
        let resolver = ScriptedResolver([.success(try Self.loopback(server.port))], gated: true)
        let client = try Self.client(port: server.port, pool: SMTPPoolConfiguration(maxConnections: 1), resolver: resolver)
        let send = Task { try await client.send(PoolTest.message(1)) }
        await resolver.waitUntilEntered()
        // The resolver is blocked; the loop still answers (it would not, were it resolving).
        let statistics = await client.statistics()
        #expect(statistics.connectionsOpened == 1)
        #expect(statistics.connectionsOpen == 1)
        #expect(resolver.callCount == 0)
        resolver.release()
        #expect(try await send.value.status == .delivered)
        #expect(resolver.callCount == 1)
        await client.shutdown()
    }
}
