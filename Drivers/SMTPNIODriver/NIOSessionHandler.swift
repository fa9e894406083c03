import Glibc
import NIOCore
import SMTPConnection
import SMTPCore

/// Runs one `ClientConnection` on a channel's event loop: the driver contract of
/// `ClientConnection`, in NIO's terms. It moves bytes and time, and decides nothing about SMTP.
///
/// - `channelActive`: the connection is made (its EHLO name may need the local address), then
///   `start`.
/// - `channelRead`: each inbound `ByteBuffer` goes to `received`, read in place.
/// - Output: one `writeAndFlush` at a time of what `takeNetworkOutput` gives; its promise's
///   success is `outputDrained` (content held back for backpressure resumes only then), its
///   failure `transportFailed`. NIO writes at once when the socket takes it, so the promise
///   usually completes inside `writeAndFlush`: `pump` is re-entrant-safe for that.
/// - `deadline`: one task scheduled on the loop, moved only when the deadline comes earlier
///   (a task that fires early just calls `timePassed`, which the engine allows).
/// - End of stream (the channel allows half-closure, so NIO reports `inputClosed` and leaves
///   the write side open): `connectionClosed`, or, while a write is pending, whatever that write
///   reports, as the libuv driver does (a peer that reset makes the write fail with ECONNRESET
///   or EPIPE: a reset, the word the socket driver, which writes before it reads, gives too).
///   `channelInactive` before the session finished: `connectionClosed`; `errorCaught` (a reset
///   on read): `transportFailed`, with the errno mapped as every driver maps it.
/// - Finished: a failed session closes at once, dropping what is left (as the other drivers);
///   a clean one closes once its last write completed, within a one-second grace period.
///
/// Everything runs on the channel's loop; the handler is not `Sendable`.
final class NIOSessionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Makes the connection once the channel is up, from the channel's local address.
    typealias ConnectionFactory = (SocketAddress?) throws -> ClientConnection
    /// Runs once, when the channel has closed after it was active: the connection (nil when it
    /// could not be made) and why it could not be made.
    typealias ClosedHandler = (ClientConnection?, TransportFailure?) -> Void

    private let makeConnection: ConnectionFactory
    private let onClosed: ClosedHandler
    private(set) var connection: ClientConnection?
    private var setupFailure: TransportFailure?
    private var context: ChannelHandlerContext?
    private var isUnixSocket = false
    private var scratch: [UInt8] = []
    /// The buffer of the last write, kept for the next one: written one at a time, it is ours
    /// alone again once NIO has written it, so the next write reuses its storage instead of
    /// allocating (kept only while small: a body chunk's buffer is let go).
    private var spare: ByteBuffer?
    private var writing = false
    private var wroteSinceRead = false
    private var pumping = false
    private var pumpAgain = false
    private var closing = false
    private var reportedClosed = false
    private var cancelRequested = false
    private var endOfStreamWhileWriting = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: SMTPInstant?
    /// The finished session's last write has its one-second grace period.
    private var graceArmed = false

    init(makeConnection: @escaping ConnectionFactory, onClosed: @escaping ClosedHandler) {
        self.makeConnection = makeConnection
        self.onClosed = onClosed
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.fireChannelActive()
        if cancelRequested {
            close()
            return
        }
        let local = context.channel.localAddress
        if case .some(.unixDomainSocket) = local { isUnixSocket = true }
        do {
            connection = try makeConnection(local)
        } catch {
            // The options were checked before any I/O; only an EHLO name made from the local
            // address could be refused here (as in the libuv driver).
            setupFailure = .io("\(error)")
            close()
            return
        }
        acknowledgeQuickly()
        connection?.start(at: MonotonicClock.now())
        pump()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection, !closing else { return }
        let buffer = unwrapInboundIn(data)
        wroteSinceRead = false
        buffer.withUnsafeReadableBytes { connection.received($0, at: MonotonicClock.now()) }
        pump()
        // Nothing we wrote in answer carried the ACK for these bytes: send it now.
        if !wroteSinceRead, !closing { acknowledgeQuickly() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // NIO closes the channel after a read error; the session hears why first.
        connection?.transportFailed(NIOTransportErrors.transportFailure(error), at: MonotonicClock.now())
        pump()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { inputClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    private func inputClosed() {
        guard let connection, !closing else { return }
        if writing {
            endOfStreamWhileWriting = true
            return
        }
        connection.connectionClosed(at: MonotonicClock.now())
        pump()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        cancelTimer()
        if let connection, !connection.isFinished {
            connection.connectionClosed(at: MonotonicClock.now())
        }
        self.context = nil
        if !reportedClosed {
            reportedClosed = true
            onClosed(connection, setupFailure)
        }
        context.fireChannelInactive()
    }

    /// Ends the session early: no QUIT, the engine reports `.cancelled`.
    func cancel() {
        guard let connection else {
            // Not connected yet: the channel closes as soon as it is up.
            cancelRequested = true
            close()
            return
        }
        connection.cancel(at: MonotonicClock.now())
        pump()
    }

    /// Acts on the running connection (enqueue a message, quit, cancel one) from outside a
    /// channel event, then writes what it produced. False when there is no live connection.
    @discardableResult
    func perform(_ body: (ClientConnection) -> Void) -> Bool {
        guard let connection, !closing, !connection.isFinished else { return false }
        body(connection)
        pump()
        return true
    }

    // MARK: Output and time

    /// After every input: write pending output, move the deadline task, close when finished.
    private func pump() {
        if pumping {
            pumpAgain = true
            return
        }
        pumping = true
        defer { pumping = false }
        repeat {
            pumpAgain = false
            pumpOnce()
        } while pumpAgain
    }

    private func pumpOnce() {
        guard let connection, let context, !closing else { return }
        if connection.isFinished, connection.failure != nil, connection.hasNetworkOutput {
            // A session that failed sends nothing more (as the other drivers).
            connection.takeNetworkOutput(into: &scratch)
            scratch.removeAll(keepingCapacity: true)
        }
        while !writing, !closing, connection.hasNetworkOutput, !connection.isFinished || connection.failure == nil {
            connection.takeNetworkOutput(into: &scratch)
            var buffer = spare.take() ?? context.channel.allocator.buffer(capacity: scratch.count)
            buffer.clear()
            scratch.withUnsafeBytes { _ = buffer.writeBytes($0) }
            scratch.removeAll(keepingCapacity: true)
            if buffer.capacity <= Self.spareCapacity { spare = buffer }
            writing = true
            wroteSinceRead = true
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenComplete { [self] result in didWrite(result) }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        }
        if closing { return }
        if connection.isFinished {
            if connection.failure != nil || (!writing && !connection.hasNetworkOutput) {
                close()
            } else if !graceArmed {
                graceArmed = true
                arm(MonotonicClock.now() + .seconds(1), force: true)
            }
            return
        }
        // No deadline (an idle session): the task armed, if any, finds nothing to do when it
        // fires, at most a second from now.
        if let deadline = connection.deadline { arm(deadline, force: false) }
    }

    /// The largest write buffer kept for the next write.
    private static let spareCapacity = 16 * 1024
    /// How far ahead the wake-up task is scheduled at most (see `arm`).
    private static let wakeUpHorizon = Duration.seconds(1)

    private func didWrite(_ result: Result<Void, any Error>) {
        writing = false
        guard let connection, !closing else { return }
        switch result {
        case .success where endOfStreamWhileWriting:
            endOfStreamWhileWriting = false
            connection.connectionClosed(at: MonotonicClock.now())
        case .success: connection.outputDrained(at: MonotonicClock.now())
        case .failure(let error): connection.transportFailed(NIOTransportErrors.transportFailure(error), at: MonotonicClock.now())
        }
        pump()
    }

    /// Schedules the wake-up unless one is due no later (an early one is harmless: it tells
    /// the connection the time, and the next one is scheduled). It is scheduled for the deadline,
    /// or `wakeUpHorizon` from now if that is sooner: each reply moves the deadline later and a
    /// new phase may bring it nearer, so a task set for the deadline itself would be cancelled
    /// and scheduled again (three allocations) on most exchanges; one set at most a second ahead
    /// stays put until it fires, and still fires at the deadline when that is less than a second
    /// away. `force`: exactly at `deadline`.
    private func arm(_ deadline: SMTPInstant, force: Bool) {
        if !force, timer != nil, let armed = timerDeadline, armed <= deadline { return }
        guard let context else { return }
        timer?.cancel()
        let now = MonotonicClock.now()
        let wake = force ? deadline : min(deadline, now + Self.wakeUpHorizon)
        let delay = wake > now ? Int64(wake.nanoseconds - now.nanoseconds) : 0
        timerDeadline = wake
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) { [weak self] () -> Void in
            guard let self else { return }
            self.timerFired()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard let connection, !closing else { return }
        if connection.isFinished {
            close() // the grace period for the last write is over
            return
        }
        connection.timePassed(at: MonotonicClock.now())
        pump()
    }

    private func close() {
        guard !closing, let context else { return }
        closing = true
        cancelTimer()
        context.close(promise: nil)
    }

    /// Without it a server's second small segment waits for our delayed ACK (40 ms) under
    /// Nagle (see TCPSocket.acknowledgeQuickly).
    private func acknowledgeQuickly() {
        guard !isUnixSocket, let options = context?.channel.syncOptions else { return }
        let quickAck = ChannelOptions.Types.SocketOption(level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_TCP)),
                                                         name: NIOBSDSocket.Option(rawValue: CInt(TCP_QUICKACK)))
        try? options.setOption(quickAck, value: 1)
    }
}
