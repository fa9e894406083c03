import CLibUV
import Glibc
import SMTPCore
import SMTPConnection
import SMTPTLS

/// One SMTP session on a libuv loop: a TCP handle, a timer for the engine's deadline, and the
/// shared sans-I/O `ClientConnection`. It moves bytes and time, and decides nothing about SMTP.
///
/// Lifetime: the batch sender keeps every `UVConnection` until both its handles have closed;
/// libuv callbacks find the object through the handles' `data` pointers (unretained).
final class UVConnection {
    enum Phase {
        case connecting
        case running
        case closing
        case closed
    }

    private let loop: UnsafeMutablePointer<uv_loop_t>
    private let addresses: [ResolvedAddress]
    private var addressIndex = 0
    private let options: ClientOptions
    private let tlsContext: TLSClientContext?
    /// Gives this connection its next message, or nil.
    typealias Supplier = (UVConnection) -> (OutgoingMessage, ClientConnection.Completion)?
    private let supplier: Supplier
    private let observer: SessionObserver?
    private let onClosed: (UVConnection) -> Void

    /// The connection's stream handle: a `uv_tcp_t`, or a `uv_pipe_t` when `isPipe`.
    private var tcp: UnsafeMutablePointer<uv_tcp_t>?
    private var isPipe = false
    private var endOfStreamWhileWriting = false
    private let timer: UnsafeMutablePointer<uv_timer_t>
    private let connectRequest: UnsafeMutablePointer<uv_connect_t>
    private let writeRequest: UnsafeMutablePointer<uv_write_t>
    private var readBuffer: UnsafeMutableRawPointer
    private let readCapacity = 64 * 1024
    private var writeStorage: UnsafeMutableRawPointer
    private var writeCapacity = 64 * 1024
    private var scratch: [UInt8] = []
    /// A write of ours went out after the last read, carrying the ACK for what was read.
    private var wroteSinceRead = false
    private var writing = false
    private var handlesOpen = 0

    private(set) var phase = Phase.connecting
    private(set) var connection: ClientConnection?
    /// Why the connection could not be made, when it could not.
    private(set) var connectFailure: TransportFailure?
    /// How the session failed, for the batch: its connection's error, or else why it never had
    /// a connection (nil: it did not fail; a cancellation is not a failure).
    var failure: SMTPError? {
        if let failure = connection?.failure, failure != .cancelled { return failure }
        return connectFailure.map(SMTPError.couldNotConnect)
    }
    private var triedAddresses: [String] = []
    private var lastConnectReason = ConnectFailureReason.other("no address to connect to")
    /// Messages this connection started (for retry decisions).
    private(set) var startedMessages = 0
    /// Messages delivered here (to at least one recipient): the session made progress.
    var deliveredMessages = 0
    /// The server refused a message in a way that says this session should take no more (the
    /// batch put it back in the queue): quit once the messages in flight are done.
    var retiring = false

    /// The most messages this session takes (it quits behind the last), or nil.
    private let messageLimit: Int?

    init(loop: UnsafeMutablePointer<uv_loop_t>, addresses: [ResolvedAddress], options: ClientOptions,
         tlsContext: TLSClientContext?, messageLimit: Int? = nil, supplier: @escaping Supplier,
         observer: SessionObserver?, onClosed: @escaping (UVConnection) -> Void) {
        self.messageLimit = messageLimit
        self.loop = loop
        self.addresses = addresses
        self.options = options
        self.tlsContext = tlsContext
        self.supplier = supplier
        self.observer = observer
        self.onClosed = onClosed
        timer = .allocate(capacity: 1)
        connectRequest = .allocate(capacity: 1)
        writeRequest = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: readCapacity, alignment: 16)
        writeStorage = .allocate(byteCount: writeCapacity, alignment: 16)
    }

    deinit {
        timer.deallocate()
        connectRequest.deallocate()
        writeRequest.deallocate()
        readBuffer.deallocate()
        writeStorage.deallocate()
    }

    private var unretained: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private static func from(_ pointer: UnsafeMutableRawPointer?) -> UVConnection {
        Unmanaged<UVConnection>.fromOpaque(pointer!).takeUnretainedValue()
    }

    // MARK: Connecting

    func start() {
        uv_timer_init(loop, timer)
        timer.pointee.data = unretained
        handlesOpen += 1
        connectNext()
    }

    private func connectNext() {
        guard addressIndex < addresses.count else {
            connectFailure = .connect(address: triedAddresses.joined(separator: ", "), reason: lastConnectReason)
            shutDown()
            return
        }
        // One block that fits either handle: TCP, or a pipe for a Unix-domain socket. Both are
        // streams, and the stream and handle casts are the same for each.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(MemoryLayout<uv_tcp_t>.size, MemoryLayout<uv_pipe_t>.size),
                                                   alignment: 16)
        let handle = raw.assumingMemoryBound(to: uv_tcp_t.self)
        connectRequest.pointee.data = unretained
        if let path = addresses[addressIndex].unixPath {
            isPipe = true
            uv_pipe_init(loop, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
            handle.pointee.data = unretained
            tcp = handle
            handlesOpen += 1
            uv_pipe_connect(connectRequest, raw.assumingMemoryBound(to: uv_pipe_t.self), path) { request, status in
                let stream = request!.pointee.handle
                UVConnection.from(request!.pointee.data).connected(status: status, stream: stream)
            }
            armTimer(milliseconds: MonotonicClock.milliseconds(until: MonotonicClock.now() + options.connectTimeout, from: MonotonicClock.now()))
            return
        }
        isPipe = false
        uv_tcp_init(loop, handle)
        handle.pointee.data = unretained
        tcp = handle
        handlesOpen += 1
        uv_tcp_nodelay(handle, 1)
        var storage = addresses[addressIndex].storage
        let status = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                uv_tcp_connect(connectRequest, handle, address) { request, status in
                    let stream = request!.pointee.handle
                    UVConnection.from(request!.pointee.data).connected(status: status, stream: stream)
                }
            }
        }
        if status != 0 {
            connected(status: status, stream: smtp_uv_tcp_as_stream(handle))
            return
        }
        armTimer(milliseconds: MonotonicClock.milliseconds(until: MonotonicClock.now() + options.connectTimeout, from: MonotonicClock.now()))
    }

    private func connected(status: Int32, stream: UnsafeMutablePointer<uv_stream_t>?) {
        // A cancelled attempt (its handle was closed on a timeout) reports here too: ignore it.
        guard phase == .connecting, let tcp, stream == smtp_uv_tcp_as_stream(tcp) else { return }
        uv_timer_stop(timer)
        if status != 0 {
            noteConnectFailure(SystemError.connectReason(-status))
            return
        }
        do {
            connection = try ClientConnection(options: options, localAddress: localAddress, tlsContext: tlsContext,
                                              idlePolicy: .quitWhenIdle,
                                              supplier: { [unowned self] in
                                                  guard !self.retiring, let next = self.supplier(self) else { return nil }
                                                  self.startedMessages += 1
                                                  return next
                                              },
                                              supplyLimit: messageLimit, observer: observer)
        } catch {
            // The options were checked before the loop started; only the EHLO name made from
            // the local address could be refused here.
            connectFailure = .io("\(error)")
            shutDown()
            return
        }
        phase = .running
        acknowledgeQuickly()
        let stream = smtp_uv_tcp_as_stream(tcp)
        uv_read_start(stream, { handle, _, buffer in
            let connection = UVConnection.from(handle!.pointee.data)
            buffer!.pointee = uv_buf_init(connection.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(connection.readCapacity))
        }, { stream, count, _ in
            UVConnection.from(stream!.pointee.data).didRead(count)
        })
        connection?.start(at: MonotonicClock.now())
        pump()
    }

    /// One address failed: the next one is tried (the words match the socket driver's).
    private func noteConnectFailure(_ reason: ConnectFailureReason) {
        let address = "\(addresses[addressIndex])"
        triedAddresses.append(addresses.count > 1 ? "\(address) (\(reason))" : address)
        lastConnectReason = reason
        addressIndex += 1
        closeTCP(thenConnectNext: true)
    }

    private var localAddress: (sockaddr_storage, socklen_t)? {
        guard let tcp, !isPipe else { return nil }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(tcp, $0, &length) }
        }
        return result == 0 ? (storage, socklen_t(length)) : nil
    }

    // MARK: I/O

    private func didRead(_ count: Int) {
        guard let connection, phase == .running else { return }
        wroteSinceRead = false
        defer {
            // Nothing we wrote in answer carried the ACK for these bytes: send it now.
            if count > 0, !wroteSinceRead, phase == .running { acknowledgeQuickly() }
        }
        if count > 0 {
            connection.received(UnsafeRawBufferPointer(start: readBuffer, count: count), at: MonotonicClock.now())
        } else if count < 0 {
            uv_read_stop(smtp_uv_tcp_as_stream(tcp!))
            if count == Int(UV_EOF.rawValue), writing {
                // A reset reaches whichever call asks first: the write that is still pending
                // will say whether this was a reset (the socket driver writes before it reads,
                // so it sees the same).
                endOfStreamWhileWriting = true
            } else if count == Int(UV_EOF.rawValue) {
                connection.connectionClosed(at: MonotonicClock.now())
            } else {
                connection.transportFailed(SystemError.transportFailure(Int32(-count)), at: MonotonicClock.now())
            }
        }
        pump()
    }

    /// See TCPSocket.acknowledgeQuickly: without it a server's second small segment waits
    /// for our delayed ACK (40 ms) under Nagle.
    private func acknowledgeQuickly() {
        guard let tcp, !isPipe else { return }
        var descriptor: uv_os_fd_t = -1
        guard uv_fileno(smtp_uv_tcp_as_handle(tcp), &descriptor) == 0 else { return }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private func timerFired() {
        switch phase {
        case .connecting:
            // The connect attempt took too long: try the next address.
            noteConnectFailure(.timedOut)
        case .running:
            if connection?.isFinished == true {
                shutDown() // the grace period for the last write is over
                return
            }
            connection?.timePassed(at: MonotonicClock.now())
            pump()
        case .closing, .closed:
            break
        }
    }

    /// After every input: write pending output (one write at a time: the write completion is
    /// the backpressure), re-arm the deadline timer, close when the session is over.
    private func pump() {
        guard let connection, phase == .running else { return }
        if connection.isFinished, connection.failure != nil, connection.hasNetworkOutput {
            // A session that failed sends nothing more (as BlockingSession): not a command the
            // engine queued before it saw why it fails (a post-TLS EHLO answered ahead).
            connection.takeNetworkOutput(into: &scratch)
            scratch.removeAll(keepingCapacity: true)
        }
        while !writing, connection.hasNetworkOutput, !connection.isFinished || connection.failure == nil {
            connection.takeNetworkOutput(into: &scratch)
            // The common case first: the socket takes it all at once. uv_write would queue a
            // request, re-register the socket with epoll and complete on the next turn of the
            // loop: a system call and a loop turn per exchange for nothing.
            let stream = smtp_uv_tcp_as_stream(tcp!)
            let taken = scratch.withUnsafeMutableBytes { raw -> Int32 in
                var buffer = uv_buf_init(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(raw.count))
                return uv_try_write(stream, &buffer, 1)
            }
            if taken > 0 { wroteSinceRead = true }
            if taken == Int32(scratch.count) {
                scratch.removeAll(keepingCapacity: true)
                connection.outputDrained(at: MonotonicClock.now())
                continue
            }
            if taken < 0, taken != UV_EAGAIN.rawValue {
                scratch.removeAll(keepingCapacity: true)
                connection.transportFailed(SystemError.transportFailure(-taken), at: MonotonicClock.now())
                break
            }
            // The rest waits for the socket: one uv_write, whose completion is the backpressure.
            let done = Int(max(taken, 0))
            let rest = scratch.count - done
            if rest > writeCapacity {
                writeStorage.deallocate()
                writeCapacity = max(rest, writeCapacity * 2)
                writeStorage = .allocate(byteCount: writeCapacity, alignment: 16)
            }
            scratch.withUnsafeBytes { writeStorage.copyMemory(from: $0.baseAddress! + done, byteCount: rest) }
            var buffer = uv_buf_init(writeStorage.assumingMemoryBound(to: CChar.self), UInt32(rest))
            scratch.removeAll(keepingCapacity: true)
            writeRequest.pointee.data = unretained
            let status = uv_write(writeRequest, smtp_uv_tcp_as_stream(tcp!), &buffer, 1) { request, status in
                UVConnection.from(request!.pointee.data).didWrite(status: status)
            }
            if status == 0 {
                writing = true
                wroteSinceRead = true
            } else {
                connection.transportFailed(SystemError.transportFailure(-status), at: MonotonicClock.now())
            }
        }
        if connection.isFinished {
            // A failed session goes at once, even with a write stuck on a peer that stopped
            // reading (libuv cancels it); a clean one first flushes its last bytes, for at most
            // a second.
            if connection.failure != nil || (!writing && !connection.hasNetworkOutput) {
                shutDown()
            } else {
                armTimer(milliseconds: 1000)
            }
            return
        }
        armTimer(milliseconds: MonotonicClock.milliseconds(until: connection.deadline, from: MonotonicClock.now()))
    }

    private func didWrite(status: Int32) {
        writing = false
        guard let connection, phase == .running else {
            if phase == .closing { finishClosing() }
            return
        }
        if status != 0 {
            connection.transportFailed(SystemError.transportFailure(-status), at: MonotonicClock.now())
        } else if endOfStreamWhileWriting {
            endOfStreamWhileWriting = false
            connection.connectionClosed(at: MonotonicClock.now())
        } else {
            connection.outputDrained(at: MonotonicClock.now())
        }
        pump()
    }

    private func armTimer(milliseconds: Int?) {
        guard let milliseconds else {
            uv_timer_stop(timer)
            return
        }
        uv_timer_start(timer, { handle in
            UVConnection.from(handle!.pointee.data).timerFired()
        }, UInt64(milliseconds), 0)
    }

    // MARK: Closing

    private func closeTCP(thenConnectNext: Bool) {
        guard let handle = tcp else {
            if thenConnectNext { connectNext() }
            return
        }
        tcp = nil
        reconnectAfterClose = thenConnectNext
        uv_close(smtp_uv_tcp_as_handle(handle)) { raw in
            let owner = UVConnection.from(raw!.pointee.data)
            UnsafeMutableRawPointer(raw!).deallocate()
            owner.handlesOpen -= 1
            if owner.reconnectAfterClose, owner.phase == .connecting { owner.connectNext() } else { owner.finishClosing() }
        }
    }

    private var reconnectAfterClose = false

    /// Stops everything and closes both handles; `onClosed` runs once they are gone.
    func shutDown() {
        guard phase != .closing, phase != .closed else { return }
        phase = .closing
        uv_timer_stop(timer)
        if !uv_is_closing(smtp_uv_timer_as_handle(timer)).boolValue {
            uv_close(smtp_uv_timer_as_handle(timer)) { handle in
                let owner = UVConnection.from(handle!.pointee.data)
                owner.handlesOpen -= 1
                owner.finishClosing()
            }
        }
        if tcp != nil { closeTCP(thenConnectNext: false) }
    }

    private func finishClosing() {
        guard phase == .closing, handlesOpen == 0, !writing else { return }
        phase = .closed
        onClosed(self)
    }

    /// Ends the session early (QUIT is skipped; the engine reports `.cancelled`).
    func cancel() {
        connection?.cancel(at: MonotonicClock.now())
        pump()
        if connection == nil { shutDown() }
    }
}

private extension Int32 {
    var boolValue: Bool { self != 0 }
}
