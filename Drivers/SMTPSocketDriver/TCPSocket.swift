import Glibc
import SMTPCore
import SMTPConnection

/// A connected, non-blocking TCP socket whose every wait goes through poll() with a deadline.
final class TCPSocket {
    enum ReadResult {
        case data(Int)
        case closed
        case failed(TransportFailure)
        case timedOut
    }

    enum WriteResult {
        case done
        case timedOut
        /// The session ended while the write waited (a reply ended it): the rest is dropped.
        case abandoned
        case failed(TransportFailure)
    }

    private(set) var descriptor: Int32
    /// A segment of ours went out after the last bytes read, carrying their ACK.
    private var wroteSinceRead = false
    let remote: ResolvedAddress

    private init(descriptor: Int32, remote: ResolvedAddress) {
        self.descriptor = descriptor
        self.remote = remote
    }

    deinit { close() }

    func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// Tries each address in order, each within `timeout`. A failure names every address tried,
    /// with its reason; the reason shown is the last address's.
    static func connect(to addresses: [ResolvedAddress], timeout: Duration) -> Result<TCPSocket, TransportFailure> {
        var tried: [String] = []
        var reason = ConnectFailureReason.other("no address to connect to")
        for address in addresses {
            switch attempt(address, timeout: timeout) {
            case .success(let socket): return .success(socket)
            case .failure(let why):
                tried.append(addresses.count > 1 ? "\(address) (\(why))" : "\(address)")
                reason = why
            }
        }
        return .failure(.connect(address: tried.joined(separator: ", "), reason: reason))
    }

    private static func attempt(_ address: ResolvedAddress, timeout: Duration) -> Result<TCPSocket, ConnectFailureReason> {
        let descriptor = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return .failure(SystemError.connectReason(errno)) }
        var one: Int32 = 1
        if address.family != AF_UNIX {
            setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, address.length) }
        }
        if result != 0 && errno != EINPROGRESS {
            let failure = SystemError.connectReason(errno)
            Glibc.close(descriptor)
            return .failure(failure)
        }
        if result != 0 {
            let deadline = MonotonicClock.now() + timeout
            var pollEntry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            while true {
                let wait = MonotonicClock.milliseconds(until: deadline, from: MonotonicClock.now()) ?? -1
                let ready = poll(&pollEntry, 1, Int32(wait))
                if ready < 0, errno == EINTR { continue }
                if ready == 0 {
                    Glibc.close(descriptor)
                    return .failure(.timedOut)
                }
                break
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                Glibc.close(descriptor)
                return .failure(SystemError.connectReason(error))
            }
        }
        return .success(TCPSocket(descriptor: descriptor, remote: address))
    }

    /// Asks the kernel to acknowledge the next segments at once instead of delaying the ACK.
    /// A client that waits for a reply has nothing to piggyback the ACK on, and a server that
    /// wrote two small segments (a TLS 1.3 session ticket, then its EHLO reply) holds the second
    /// under Nagle until that ACK: 40 ms per exchange otherwise. Linux re-arms delayed ACKs on
    /// its own, hence before every wait that no write of ours has acknowledged.
    static func acknowledgeQuickly(_ descriptor: Int32) {
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// The local end, for an address-literal EHLO name.
    var localAddress: (sockaddr_storage, socklen_t)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return result == 0 ? (storage, length) : nil
    }

    /// Waits until readable (or `deadline`), then reads what is there into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: SMTPInstant?) -> ReadResult {
        // What was read since our last write has not been acknowledged by a segment of ours:
        // acknowledge it now rather than after the delayed-ACK timer. After a write the ACK
        // went with it (the usual exchange), and the system call is saved.
        if !wroteSinceRead { Self.acknowledgeQuickly(descriptor) }
        guard waitFor(Int16(POLLIN), deadline: deadline) else { return .timedOut }
        return readAvailable(into: buffer)
    }

    func readAvailable(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        var received = 0
        repeat {
            received = recv(descriptor, buffer.baseAddress, buffer.count, 0)
        } while received < 0 && errno == EINTR
        if received > 0 {
            wroteSinceRead = false
            return .data(received)
        }
        if received == 0 { return .closed }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .data(0) }
        return .failed(SystemError.transportFailure(errno))
    }

    /// Writes all of `bytes` before `deadline()`, which is asked again at every wait: no write
    /// blocks past it. While the peer does not read, whatever it sends goes to `onReadable`, so
    /// a reply that arrives while the body streams is seen at once; when that reply ends the
    /// session (`onReadable` returns false), the rest is dropped.
    func writeAll(_ bytes: [UInt8], deadline: () -> SMTPInstant?, onReadable: () -> Bool) -> WriteResult {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { raw in
                send(descriptor, raw.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
                wroteSinceRead = true
                continue
            }
            if sent < 0, errno == EINTR { continue }
            guard sent < 0, errno == EAGAIN || errno == EWOULDBLOCK else {
                return .failed(SystemError.transportFailure(errno))
            }
            guard let due = deadline() else { return .abandoned }
            var entry = pollfd(fd: descriptor, events: Int16(POLLOUT | POLLIN), revents: 0)
            let wait = MonotonicClock.milliseconds(until: due, from: MonotonicClock.now()) ?? 0
            let ready = poll(&entry, 1, Int32(wait))
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            if entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0, !onReadable() { return .abandoned }
        }
        return .done
    }

    private func waitFor(_ events: Int16, deadline: SMTPInstant?) -> Bool {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let wait = MonotonicClock.milliseconds(until: deadline, from: MonotonicClock.now()) ?? -1
            let ready = poll(&entry, 1, Int32(wait))
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }
}
