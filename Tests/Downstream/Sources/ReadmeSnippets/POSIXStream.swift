import Glibc
import SMTPConnection
import SMTPCore

/// A minimal blocking TCP `ByteStream` for running the snippets against the rig (not part of the
/// README: any socket or event loop of the user's own fills this role).
final class POSIXStream: ByteStream {
    private let descriptor: Int32
    private var open = true

    init(port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw StreamError(message: "cannot connect to 127.0.0.1:\(port)") }
    }

    deinit { close() }

    var now: SMTPInstant { MonotonicClock.now() }

    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw StreamError(message: "write failed") }
            offset += sent
        }
    }

    func read(until deadline: SMTPInstant?) throws -> [UInt8]? {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let wait = MonotonicClock.milliseconds(until: deadline, from: now) ?? -1
        guard poll(&entry, 1, Int32(wait)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    func close() {
        if open { Glibc.close(descriptor) }
        open = false
    }
}

struct StreamError: Error { var message: String }
