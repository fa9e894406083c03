import Glibc
import SMTPConnection
import SMTPCore
import SMTPTLS

/// A blocking SMTP session over POSIX sockets: one connection, any number of messages.
///
/// ```swift
/// let session = try BlockingSession(options: ClientOptions(host: "mx.example", port: 25))
/// let outcome = session.send(OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: bytes))
/// session.close()
/// ```
///
/// It throws only a caller's mistake, before any I/O (`SMTPClientError`). A session that could
/// not be set up (no connection, TLS or AUTH refused) is still made: `failure` says why, and
/// every `send` returns an outcome that says so. Every wait (connect, read, write) is bounded by
/// the engine's current deadline; nothing here decides anything about the protocol. Not
/// thread-safe: use it from one thread.
public final class BlockingSession {
    private var socket: TCPSocket?
    private var connection: ClientConnection?
    /// Why there is no connection at all (resolution or connect failed).
    private var connectFailure: SMTPError?
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private var writeBuffer: [UInt8] = []

    /// Connects, greets, negotiates TLS and authenticates as the options say; returns when the
    /// session is ready for messages, or has ended. `observer` sees every session event
    /// (transcript lines too).
    public convenience init(options: ClientOptions, observer: SessionObserver? = nil) throws(SMTPClientError) {
        try self.init(options: options, tlsContext: options.makeTLSContext(), observer: observer)
    }

    /// The same, with a TLS context made once and shared by many sessions (any thread): the
    /// sessions it keeps are resumed by the next connections to the same server
    /// (`TLSConfiguration.resumeSessions`). nil: no TLS, whatever the policy says.
    public init(options: ClientOptions, tlsContext: TLSClientContext?, observer: SessionObserver? = nil) throws(SMTPClientError) {
        try options.validate()
        let addresses: [ResolvedAddress]
        do {
            addresses = try AddressResolver.resolve(options)
        } catch {
            connectFailure = .couldNotConnect(.resolution(error.message))
            return
        }
        let socket: TCPSocket
        switch TCPSocket.connect(to: addresses, timeout: options.connectTimeout) {
        case .success(let connected): socket = connected
        case .failure(let failure):
            connectFailure = .couldNotConnect(failure)
            return
        }
        self.socket = socket
        let connection: ClientConnection
        do {
            connection = try ClientConnection(options: options, localAddress: socket.localAddress, tlsContext: tlsContext,
                                              idlePolicy: .stayConnected, observer: observer)
        } catch {
            throw .invalidOptions(error)
        }
        self.connection = connection
        connection.start(at: MonotonicClock.now())
        run(connection) { connection.isIdle }
    }

    deinit {
        socket?.close()
        readBuffer.deallocate()
    }

    /// What the server offers (after TLS, when TLS is on).
    public var capabilities: Capabilities { connection?.capabilities ?? .basic }
    /// Whether the session runs over TLS now.
    public var isTLSActive: Bool { connection?.isTLSActive ?? false }
    /// The TLS protocol version and cipher once the handshake is done; nil without TLS.
    public var tlsDescription: String? { connection?.tlsDescription }
    /// Whether the session is still up (connected, and not finished).
    public var isOpen: Bool { connection.map { !$0.isFinished } ?? false }
    /// Why the session ended, once it has.
    public var failure: SMTPError? { connectFailure ?? connection?.failure }

    /// Sends one message and returns its outcome. A session that already ended returns an
    /// outcome saying so (nothing is sent).
    @discardableResult
    public func send(_ message: OutgoingMessage) -> MessageOutcome {
        send([message])[0]
    }

    /// Sends several messages, pipelined where the server allows, and returns their outcomes in order.
    public func send(_ messages: [OutgoingMessage]) -> [MessageOutcome] {
        var outcomes = [MessageOutcome?](repeating: nil, count: messages.count)
        send(count: messages.count, makeMessage: { messages[$0] }, completion: { outcomes[$0] = $1 })
        return outcomes.map { $0! }
    }

    /// Sends `count` messages made on demand, keeping a few queued so each is pipelined behind
    /// the previous one where the server allows; `completion` gets each outcome with its index.
    public func send(count: Int, makeMessage: (Int) -> OutgoingMessage, completion: @escaping (Int, MessageOutcome) -> Void) {
        var next = 0
        send(pulling: {
            guard next < count else { return nil }
            let index = next
            next += 1
            return (makeMessage(index), { completion(index, $0) })
        })
    }

    /// Sends messages for as long as `next` gives them, a few at a time so each is pipelined
    /// behind the previous one where the server allows. Each message's completion runs once.
    /// Once the session has ended, every message pulled completes at once with the reason.
    public func send(pulling next: () -> (OutgoingMessage, (MessageOutcome) -> Void)?) {
        guard let connection else {
            let failure = connectFailure ?? .connectionClosed(.connect)
            while let (message, done) = next() { done(.notAttempted(message.envelope, because: .sessionEnded(failure))) }
            return
        }
        let window = 4
        var inFlight = 0
        var exhausted = false
        func topUp() {
            while !exhausted, inFlight < window {
                guard let (message, done) = next() else {
                    exhausted = true
                    return
                }
                inFlight += 1
                connection.enqueue(message, completion: { outcome in
                    inFlight -= 1
                    done(outcome)
                }, at: MonotonicClock.now())
            }
        }
        topUp()
        while inFlight > 0 {
            let before = inFlight
            run(connection) { inFlight < before || connection.isFinished }
            topUp()
        }
    }

    /// The batch's way of sending: the connection takes each message from `next` only when its
    /// engine can start one (pipelined behind the previous where the server allows), as the
    /// event-loop drivers' sessions do, so a session that ends holds no message it never
    /// started: those stay with `next`'s owner. It takes at most `limit`; once it has taken them,
    /// QUIT goes out pipelined behind the last one's final command where the server allows (one
    /// round trip fewer than `close()` after it), as it does when `next` has no more.
    func sendSupplied(limit: Int?, pulling next: @escaping () -> (OutgoingMessage, (MessageOutcome) -> Void)?) {
        guard let connection, !connection.isFinished else { return }
        var inFlight = 0
        var dry = false
        connection.supply(from: {
            guard let (message, done) = next() else {
                dry = true
                return nil
            }
            inFlight += 1
            return (message, { outcome in
                inFlight -= 1
                done(outcome)
            })
        }, limit: limit, quitWhenDry: true, at: MonotonicClock.now())
        run(connection) { dry && inFlight == 0 || connection.isFinished }
        connection.supply(from: nil, at: MonotonicClock.now())
    }

    /// Sends one message and ends the session, QUIT pipelined behind the message's last
    /// command where the server allows (one round trip fewer than `send` then `close`).
    func sendThenClose(_ message: OutgoingMessage) -> MessageOutcome {
        guard let connection else {
            defer { close() }
            return send(message)
        }
        var outcome: MessageOutcome?
        connection.enqueue(message, completion: { outcome = $0 }, at: MonotonicClock.now())
        close()
        // Every message given to the connection completes exactly once, at the latest when
        // the session ends.
        return outcome!
    }

    /// QUIT, wait for the answer (bounded by the QUIT timeout), close.
    public func close() {
        if let connection, !connection.isFinished {
            connection.quit(at: MonotonicClock.now())
            run(connection) { false }
        }
        socket?.close()
    }

    /// Moves bytes and time between the socket and the connection until `done` or the end.
    private func run(_ connection: ClientConnection, until done: () -> Bool) {
        guard let socket else { return }
        while true {
            if connection.hasNetworkOutput {
                connection.takeNetworkOutput(into: &writeBuffer)
                // A session that failed sends nothing more; a clean end flushes its last bytes
                // (QUIT, close_notify) within a short grace period.
                let grace = MonotonicClock.now() + .seconds(1)
                let finishing = connection.isFinished
                if finishing, connection.failure != nil {
                    writeBuffer.removeAll(keepingCapacity: true)
                    continue
                }
                let result = socket.writeAll(writeBuffer, deadline: { finishing ? grace : connection.deadline },
                                             onReadable: { readOnce(connection) && !connection.isFinished })
                writeBuffer.removeAll(keepingCapacity: true)
                switch result {
                case .done: connection.outputDrained(at: MonotonicClock.now())
                case .timedOut: connection.timePassed(at: MonotonicClock.now())
                case .abandoned: break
                case .failed(let failure): connection.transportFailed(failure, at: MonotonicClock.now())
                }
                continue
            }
            if connection.isFinished {
                socket.close()
                return
            }
            if done() { return }
            switch socket.read(into: readBuffer, deadline: connection.deadline) {
            case .data(let count):
                if count > 0 { connection.received(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]), at: MonotonicClock.now()) }
            case .closed:
                connection.connectionClosed(at: MonotonicClock.now())
            case .failed(let failure):
                connection.transportFailed(failure, at: MonotonicClock.now())
            case .timedOut:
                connection.timePassed(at: MonotonicClock.now())
            }
        }
    }

    /// Reads what is available while a write waits; false when the connection ended.
    private func readOnce(_ connection: ClientConnection) -> Bool {
        guard let socket else { return false }
        switch socket.readAvailable(into: readBuffer) {
        case .data(let count):
            if count > 0 { connection.received(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]), at: MonotonicClock.now()) }
            return true
        case .closed:
            connection.connectionClosed(at: MonotonicClock.now())
            return false
        case .failed(let failure):
            connection.transportFailed(failure, at: MonotonicClock.now())
            return false
        case .timedOut:
            return true
        }
    }
}

/// The common case in one call: send this message through this server with these options.
public enum SMTPClient {
    /// Connects, sends, quits. Throws only a caller's mistake, before any I/O; everything else
    /// (could not connect, TLS failed, refused) is in the outcome.
    public static func send(_ message: OutgoingMessage, options: ClientOptions,
                            observer: SessionObserver? = nil) throws(SMTPClientError) -> MessageOutcome {
        let session = try BlockingSession(options: options, observer: observer)
        return session.sendThenClose(message)
    }
}
