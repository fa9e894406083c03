import Foundation
import Glibc

/// A scripted SMTP server on 127.0.0.1 for the pool's tests: it takes any number of
/// connections (a thread each), answers like a plain server by default, and lets a test change
/// any answer (by connection number and command). It records, with timestamps, every
/// connection, every command line, every message body and every close, and lets a test await a
/// condition on that record (woken by each new entry: no polling, no sleeps).
final class PoolTestServer: @unchecked Sendable {
    enum Answer {
        /// Send this reply (CRLF added to each line).
        case reply(String)
        /// Answer nothing from now on (the connection stays open until the client leaves).
        case hold
        /// Send this reply, then close the connection.
        case replyAndClose(String)
        /// Reset the connection (RST: SO_LINGER 0, then close), answering nothing.
        case reset
        /// Send this reply only once the client has written a command line beginning with
        /// `prefix` (before that command is answered; recorded as "<deferred-reply>"): proof
        /// that the client wrote that command without waiting for this reply.
        case replyOnceClientSends(String, prefix: String)
    }

    struct Command {
        let connection: Int
        let line: String
        let at: ContinuousClock.Instant
    }

    struct Record {
        var accepted = 0
        var commands: [Command] = []
        /// Each message's content (dot-unstuffed, without the final dot), in arrival order.
        var messages: [String] = []
        /// Connections the client closed, or that the server closed.
        var closed = 0
        /// When the server saw each of those connections end (its own threads, so a busy
        /// cooperative pool in the test process does not delay the reading).
        var closedAt: [ContinuousClock.Instant] = []

        func lines(_ verb: String) -> [Command] { commands.filter { $0.line.uppercased().hasPrefix(verb.uppercased()) } }
    }

    /// Called for every command (and "<connect>" for the greeting, "<end-of-data>" for the final
    /// dot); nil means the default answer.
    typealias Script = (_ connection: Int, _ command: String) -> Answer?

    let port: UInt16
    private let listener: Int32
    private let script: Script
    private let extensions: [String]
    private let lock = NSLock()
    private var record = Record()
    private var waiters: [(id: Int, predicate: (Record) -> Bool, continuation: CheckedContinuation<Bool, Never>)] = []
    private var nextWaiter = 0

    init(extensions: [String] = ["ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME"], script: @escaping Script = { _, _ in nil }) throws {
        self.script = script
        self.extensions = extensions
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 256) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in acceptLoop() }.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    /// What was recorded so far.
    var snapshot: Record { lock.withLock { record } }

    /// Waits until `predicate` holds for the record (checked now and after every new entry), at
    /// most `timeout`; returns whether it held.
    func waitUntil(timeout: Duration = .seconds(20), _ predicate: @escaping @Sendable (Record) -> Bool) async -> Bool {
        await withCheckedContinuation { continuation in
            lock.lock()
            if predicate(record) {
                lock.unlock()
                continuation.resume(returning: true)
                return
            }
            nextWaiter += 1
            let id = nextWaiter
            waiters.append((id, predicate, continuation))
            lock.unlock()
            let (seconds, attoseconds) = timeout.components
            DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18) { [self] in
                lock.lock()
                let index = waiters.firstIndex { $0.id == id }
                let expired = index.map { waiters.remove(at: $0) }
                lock.unlock()
                expired?.continuation.resume(returning: false)
            }
        }
    }

    private func update(_ change: (inout Record) -> Void) {
        lock.lock()
        change(&record)
        var ready: [CheckedContinuation<Bool, Never>] = []
        waiters.removeAll { waiter in
            guard waiter.predicate(record) else { return false }
            ready.append(waiter.continuation)
            return true
        }
        lock.unlock()
        for continuation in ready { continuation.resume(returning: true) }
    }

    private func acceptLoop() {
        var number = 0
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            number += 1
            let connection = number
            update { $0.accepted += 1 }
            Thread { [self] in serve(client, connection) }.start()
        }
    }

    private func serve(_ fd: Int32, _ connection: Int) {
        defer {
            Glibc.close(fd)
            update {
                $0.closed += 1
                $0.closedAt.append(.now)
            }
        }
        var held = false
        var inData = false
        var hasSender = false
        var hasRecipient = false
        var body = ""
        var deferred: (text: String, prefix: String)?
        /// Answers; false when the connection is to close. `positive`: the reply began with `prefix`.
        func answer(_ command: String, _ fallback: String, positive prefix: String = "") -> (goOn: Bool, positive: Bool) {
            guard !held else { return (true, false) }
            switch script(connection, command) ?? .reply(fallback) {
            case .reply(let text):
                write(fd, text)
                return (true, text.hasPrefix(prefix))
            case .hold:
                held = true
                return (true, false)
            case .replyAndClose(let text):
                write(fd, text)
                return (false, false)
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                return (false, false)
            case .replyOnceClientSends(let text, let prefix):
                deferred = (text, prefix)
                return (true, true)
            }
        }
        guard answer("<connect>", "220 pool.test ESMTP").goOn else { return }
        var pending = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { return }
            pending.append(contentsOf: buffer[0..<count])
            while let end = pending.range(of: Data("\r\n".utf8)) {
                let line = String(decoding: pending[pending.startIndex..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(pending.startIndex..<end.upperBound)
                if inData {
                    if line == "." {
                        inData = false
                        let content = body
                        body = ""
                        update { $0.messages.append(content) }
                        update { $0.commands.append(Command(connection: connection, line: "<end-of-data>", at: .now)) }
                        guard answer("<end-of-data>", "250 2.0.0 Ok: queued as Q\(connection)").goOn else { return }
                    } else {
                        body += (line.hasPrefix(".") ? String(line.dropFirst()) : line) + "\r\n"
                    }
                    continue
                }
                update { $0.commands.append(Command(connection: connection, line: line, at: .now)) }
                if let waiting = deferred, line.uppercased().hasPrefix(waiting.prefix.uppercased()) {
                    deferred = nil
                    write(fd, waiting.text)
                    update { $0.commands.append(Command(connection: connection, line: "<deferred-reply>", at: .now)) }
                }
                let verb = line.prefix(4).uppercased()
                let fallback: String
                switch verb {
                case "EHLO": fallback = (["250-pool.test"] + extensions.dropLast().map { "250-\($0)" } + ["250 \(extensions.last ?? "HELP")"])
                    .joined(separator: "\r\n")
                case "MAIL": fallback = "250 2.1.0 Ok"
                case "RCPT": fallback = hasSender ? "250 2.1.5 Ok" : "503 5.5.1 Error: need MAIL command"
                case "DATA": fallback = hasRecipient ? "354 End data with <CR><LF>.<CR><LF>" : "503 5.5.1 Error: need RCPT command"
                case "QUIT": fallback = "221 2.0.0 Bye"
                default: fallback = "250 2.0.0 Ok"
                }
                let (goOn, positive) = answer(line, fallback, positive: verb == "DATA" ? "354" : "250")
                switch verb {
                case "MAIL": hasSender = positive
                case "RCPT": hasRecipient = hasRecipient || positive
                case "DATA":
                    inData = positive
                    hasSender = false
                    hasRecipient = false
                case "RSET":
                    hasSender = false
                    hasRecipient = false
                default: break
                }
                if !goOn || verb == "QUIT" && !held { return }
            }
        }
    }

    private func write(_ fd: Int32, _ text: String) {
        let bytes = Array((text + "\r\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
