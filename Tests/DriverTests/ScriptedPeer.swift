import Foundation
import Glibc

/// A real TCP listener on 127.0.0.1 that plays a fixed part, for connection-level failures
/// (server gone, server silent). It runs on its own thread and records what it read.
final class ScriptedPeer: @unchecked Sendable {
    enum Step {
        /// Send these bytes.
        case send(String)
        /// Read until this text has arrived after what the previous `expect` matched (or the
        /// client closes).
        case expect(String)
        /// Close the connection.
        case close
        /// Say nothing until the client goes away.
        case silence
    }

    let port: UInt16
    private let listener: Int32
    private let steps: [Step]
    /// Connections after the first: accepted and held open, silent, until the client leaves.
    private let silentLaterConnections: Bool
    private let lock = NSLock()
    private var receivedText = ""
    /// Every step ran (a client that left early cuts an `expect` short).
    private var playedOut = false
    private let finished = DispatchSemaphore(value: 0)

    init(_ steps: [Step], silentLaterConnections: Bool = false) throws {
        self.steps = steps
        self.silentLaterConnections = silentLaterConnections
        // Close-on-exec: a child another test spawns meanwhile (certs.py) must not hold our sockets.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR)) // wakes a thread blocked in accept()
        Glibc.close(listener)
    }

    var received: String {
        lock.lock()
        defer { lock.unlock() }
        return receivedText
    }

    /// Waits (bounded) for the peer to finish its part: false when it did not finish in time,
    /// or when the client left before an `expect` was met (the script was not played out).
    func waitUntilDone(timeout: TimeInterval = 30) -> Bool {
        guard finished.wait(timeout: .now() + timeout) == .success else { return false }
        lock.lock()
        defer { lock.unlock() }
        return playedOut
    }

    private func markPlayedOut() {
        lock.lock()
        playedOut = true
        lock.unlock()
    }

    private func serve() {
        defer { finished.signal() }
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        defer { Glibc.close(client) }
        if silentLaterConnections {
            Thread { [listener] in
                while true {
                    let later = accept(listener, nil, nil)
                    guard later >= 0 else { return }
                    _ = fcntl(later, F_SETFD, FD_CLOEXEC)
                    Thread {
                        var buffer = [UInt8](repeating: 0, count: 512)
                        while recv(later, &buffer, buffer.count, 0) > 0 {}
                        Glibc.close(later)
                    }.start()
                }
            }.start()
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var matched = 0 // characters of `received` consumed by `expect` steps
        for step in steps {
            switch step {
            case .send(let text):
                _ = text.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            case .expect(let text):
                while true {
                    let all = received
                    if let match = all.range(of: text, range: all.index(all.startIndex, offsetBy: matched)..<all.endIndex) {
                        matched = all.distance(from: all.startIndex, to: match.upperBound)
                        break
                    }
                    let count = recv(client, &buffer, buffer.count, 0)
                    if count <= 0 { return }
                    lock.lock()
                    receivedText += String(decoding: buffer[0..<count], as: UTF8.self)
                    lock.unlock()
                }
            case .close:
                markPlayedOut()
                return
            case .silence:
                while recv(client, &buffer, buffer.count, 0) > 0 {}
                markPlayedOut()
                return
            }
        }
        markPlayedOut()
    }
}
