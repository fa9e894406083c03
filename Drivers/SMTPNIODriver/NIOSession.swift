import NIOCore
import NIOPosix
import SMTPConnection
import SMTPCore
import SMTPTLS

/// One SMTP session of a batch on an event loop: it connects to each address in turn with
/// `ClientBootstrap` (each attempt within the connect timeout), then runs the session through a
/// `NIOSessionHandler`. The UVConnection of this driver: the same counters for the batch's
/// retry rule, the same connect-failure words.
///
/// Everything runs on `loop`; `onClosed` runs once, when the session is over (connected and
/// closed, or every address failed, or cancelled while connecting).
final class NIOSession {
    /// Gives this session its next message, or nil.
    typealias Supplier = (NIOSession) -> (OutgoingMessage, ClientConnection.Completion)?

    private let loop: any EventLoop
    private let addresses: [ResolvedAddress]
    private var addressIndex = 0
    private let options: ClientOptions
    private let tlsContext: TLSClientContext?
    private let supplier: Supplier
    private let observer: SessionObserver?
    private let onClosed: (NIOSession) -> Void
    private let idlePolicy: ClientConnection.IdlePolicy

    private var handler: NIOSessionHandler?
    /// The channel of the attempt under way (set by the channel initializer, before connect).
    private var pendingChannel: (any Channel)?
    private var cancelled = false
    private var ended = false
    private var triedAddresses: [String] = []
    private var lastConnectReason = ConnectFailureReason.other("no address to connect to")

    /// The session's connection, once the TCP connection was made.
    private(set) var connection: ClientConnection?
    /// Why the connection could not be made, when it could not.
    private(set) var connectFailure: TransportFailure?
    /// How the session failed, for the batch: its connection's error, or else why it never had
    /// a connection (nil: it did not fail; a cancellation is not a failure).
    var failure: SMTPError? {
        if let failure = connection?.failure, failure != .cancelled { return failure }
        return connectFailure.map(SMTPError.couldNotConnect)
    }
    /// Messages this session started (for retry decisions).
    private(set) var startedMessages = 0
    /// Messages delivered here (to at least one recipient): the session made progress.
    var deliveredMessages = 0
    /// The server refused a message in a way that says this session should take no more (the
    /// batch put it back in the queue): quit once the messages in flight are done.
    var retiring = false

    /// The most messages this session takes (it quits behind the last), or nil.
    private let messageLimit: Int?

    init(loop: any EventLoop, addresses: [ResolvedAddress], options: ClientOptions, tlsContext: TLSClientContext?,
         idlePolicy: ClientConnection.IdlePolicy = .quitWhenIdle, messageLimit: Int? = nil,
         supplier: @escaping Supplier, observer: SessionObserver?, onClosed: @escaping (NIOSession) -> Void) {
        self.messageLimit = messageLimit
        self.idlePolicy = idlePolicy
        self.loop = loop
        self.addresses = addresses
        self.options = options
        self.tlsContext = tlsContext
        self.supplier = supplier
        self.observer = observer
        self.onClosed = onClosed
    }

    /// Starts connecting (on the loop).
    func start() {
        connectNext()
    }

    /// Ends the session early: a session connecting stops, a running one ends without QUIT
    /// (the engine reports `.cancelled`).
    func cancel() {
        cancelled = true
        if let pendingChannel {
            // Still connecting: the connect fails, and the session ends.
            pendingChannel.close(promise: nil)
        } else {
            handler?.cancel()
        }
    }

    /// Acts on the connection once it runs (`NIOSessionHandler.perform`); false before or after.
    @discardableResult
    func perform(_ body: (ClientConnection) -> Void) -> Bool {
        handler?.perform(body) ?? false
    }

    // MARK: Connecting

    private func connectNext() {
        guard !cancelled else { return end() }
        guard addressIndex < addresses.count else {
            connectFailure = .connect(address: triedAddresses.joined(separator: ", "), reason: lastConnectReason)
            return end()
        }
        let address: SocketAddress
        do {
            address = try SocketAddress(resolved: addresses[addressIndex])
        } catch {
            return noteConnectFailure(.other("\(error)"))
        }
        let handler = NIOSessionHandler(makeConnection: { [unowned self] local in try self.makeConnection(local) },
                                        // Strong: the session lives until its channel closed (end() drops the handler).
                                        onClosed: { connection, failure in
                                            if let failure { self.connectFailure = failure }
                                            self.connection = connection
                                            self.end()
                                        })
        // Before connecting: a connect that fails at once reports inside `connect(to:)`.
        self.handler = handler
        let bound = NIOLoopBound((handler: handler, session: self), eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(options.connectTimeout))
            // End of stream reaches the handler as `inputClosed`, the write side still open.
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: {
                    bound.value.session.pendingChannel = channel
                    try channel.pipeline.syncOperations.addHandler(bound.value.handler)
                })
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { [self] result in
                pendingChannel = nil
                switch result {
                case .success:
                    // Cancelled while connecting: the handler ends the session it just began.
                    if cancelled { self.handler?.cancel() }
                case .failure(let error):
                    guard !cancelled else { return end() }
                    noteConnectFailure(NIOTransportErrors.connectReason(error))
                }
            }
    }

    /// One address failed: the next one is tried (the words match the other drivers').
    private func noteConnectFailure(_ reason: ConnectFailureReason) {
        handler = nil
        let address = "\(addresses[addressIndex])"
        triedAddresses.append(addresses.count > 1 ? "\(address) (\(reason))" : address)
        lastConnectReason = reason
        addressIndex += 1
        connectNext()
    }

    private func makeConnection(_ local: SocketAddress?) throws -> ClientConnection {
        let connection = try ClientConnection(options: options, localAddress: local?.sockaddrStorage, tlsContext: tlsContext,
                                              idlePolicy: idlePolicy,
                                              supplier: { [unowned self] in
                                                  guard !self.retiring, let next = self.supplier(self) else { return nil }
                                                  self.startedMessages += 1
                                                  return next
                                              },
                                              supplyLimit: messageLimit, observer: observer)
        self.connection = connection
        return connection
    }

    private func end() {
        guard !ended else { return }
        ended = true
        handler = nil
        onClosed(self)
    }
}
