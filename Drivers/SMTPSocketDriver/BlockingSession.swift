import Glibc
import SMTPCore
import SMTPDriverCore
import SMTPTLS

/// A blocking SMTP session over POSIX sockets: one connection, any number of messages.
///
/// ```swift
/// let session = try BlockingSession(options: ClientOptions(host: "mx.example", port: 25))
/// let report = try session.send(OutgoingMessage(from: "a@example.org", to: ["b@example.net"], content: bytes))
/// session.close()
/// ```
///
/// Every wait (connect, read, write) is bounded by the engine's current deadline; nothing here
/// decides anything about the protocol. Not thread-safe: use it from one thread.
public final class BlockingSession {
    private let socket: TCPSocket
    private let connection: ClientConnection
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private var writeBuffer: [UInt8] = []

    /// Connects, greets, negotiates TLS and authenticates as the options say; returns when the
    /// session is ready for messages. `observer` sees every session event (transcript lines too).
    public init(options: ClientOptions, observer: SessionObserver? = nil) throws(SMTPClientError) {
        let addresses: [ResolvedAddress]
        do {
            addresses = try AddressResolver.resolve(host: options.host, port: options.port)
        } catch {
            throw .resolution(error.message)
        }
        var tlsContext: TLSClientContext?
        if options.mayUseTLS {
            do { tlsContext = try TLSClientContext(configuration: options.tls) } catch { throw .tlsSetup(error) }
        }
        socket = try TCPSocket.connect(to: addresses, timeout: options.connectTimeout)
        let local = socket.localAddress
        let helo = options.heloName ?? LocalName.heloName(localAddress: local?.0, length: local?.1 ?? 0)
        do {
            connection = try ClientConnection(configuration: options.engineConfiguration(heloName: helo), tlsContext: tlsContext,
                                              tlsHost: options.host, chunkSize: options.chunkSize, idlePolicy: .stayConnected)
        } catch {
            throw .session(error)
        }
        connection.onEvent = observer
        connection.start(at: MonotonicClock.now())
        run { connection.isIdle }
        if connection.isFinished {
            throw .session(connection.failure ?? .connectionClosed(.greeting))
        }
    }

    deinit {
        socket.close()
        readBuffer.deallocate()
    }

    /// What the server offers (after TLS, when TLS is on).
    public var capabilities: Capabilities { connection.capabilities }
    public var isTLSActive: Bool { connection.isTLSActive }
    public var tlsDescription: String? { connection.tlsDescription }
    public var isOpen: Bool { !connection.isFinished }

    /// Sends one message and returns how each recipient fared. A session that already ended
    /// returns a report saying so (nothing is sent).
    @discardableResult
    public func send(_ message: OutgoingMessage) -> DeliveryReport {
        var report: DeliveryReport?
        connection.enqueue(message, completion: { report = $0 }, at: MonotonicClock.now())
        run { report != nil }
        return report ?? .notSent(message.envelope, because: .sessionEnded(connection.failure ?? .connectionClosed(.idle)))
    }

    /// Sends several messages, pipelined where the server allows, and returns their reports in order.
    public func send(_ messages: [OutgoingMessage]) -> [DeliveryReport] {
        var reports = [DeliveryReport?](repeating: nil, count: messages.count)
        var remaining = messages.count
        for (index, message) in messages.enumerated() {
            connection.enqueue(message, completion: { reports[index] = $0; remaining -= 1 }, at: MonotonicClock.now())
        }
        run { remaining == 0 }
        return reports.map { $0! }
    }

    /// Sends `count` messages made on demand, keeping a few queued so each is pipelined behind
    /// the previous one where the server allows; `completion` gets each report with its index.
    public func send(count: Int, makeMessage: (Int) -> OutgoingMessage, completion: @escaping (Int, DeliveryReport) -> Void) {
        var next = 0
        var finished = 0
        let window = 4
        func enqueueNext() {
            let index = next
            next += 1
            connection.enqueue(makeMessage(index), completion: { report in
                finished += 1
                completion(index, report)
            }, at: MonotonicClock.now())
        }
        while next < min(count, window) { enqueueNext() }
        while finished < count {
            let before = finished
            run { finished > before || connection.isFinished }
            // After the end of the session, enqueue reports each remaining message as not sent.
            while next < count && (next - finished < window || connection.isFinished) { enqueueNext() }
        }
    }

    /// QUIT, wait for the answer (bounded by the QUIT timeout), close.
    public func close() {
        if !connection.isFinished {
            connection.quit(at: MonotonicClock.now())
            run { false }
        }
        socket.close()
    }

    /// Moves bytes and time between the socket and the connection until `done` or the end.
    private func run(until done: () -> Bool) {
        while true {
            if connection.hasNetworkOutput {
                connection.takeNetworkOutput(into: &writeBuffer)
                let result = socket.writeAll(writeBuffer, deadline: { connection.deadline }, onReadable: readOnce)
                writeBuffer.removeAll(keepingCapacity: true)
                switch result {
                case .done: connection.outputDrained(at: MonotonicClock.now())
                case .timedOut: connection.timePassed(at: MonotonicClock.now())
                case .failed: connection.connectionClosed(at: MonotonicClock.now())
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
            case .timedOut:
                connection.timePassed(at: MonotonicClock.now())
            }
        }
    }

    /// Reads what is available while a write waits; false when the connection ended.
    private func readOnce() -> Bool {
        switch socket.readAvailable(into: readBuffer) {
        case .data(let count):
            if count > 0 { connection.received(UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]), at: MonotonicClock.now()) }
            return true
        case .closed:
            connection.connectionClosed(at: MonotonicClock.now())
            return false
        case .timedOut:
            return true
        }
    }
}

/// The common case in one call: send this message through this server with these options.
public enum SMTPClient {
    /// Connects, sends, quits. Throws when no session could be set up; otherwise the report
    /// tells how each recipient fared.
    public static func send(_ message: OutgoingMessage, options: ClientOptions,
                            observer: SessionObserver? = nil) throws(SMTPClientError) -> DeliveryReport {
        let session = try BlockingSession(options: options, observer: observer)
        let report = session.send(message)
        session.close()
        return report
    }
}
