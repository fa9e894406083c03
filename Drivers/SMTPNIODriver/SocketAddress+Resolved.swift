import Glibc
import NIOCore
import SMTPConnection

extension SocketAddress {
    /// The address the project's resolver gave (IPv4, IPv6 or a Unix-domain socket), for
    /// `ClientBootstrap.connect(to:)`.
    init(resolved address: ResolvedAddress) throws {
        if let path = address.unixPath {
            try self.init(unixDomainSocketPath: path)
            return
        }
        var storage = address.storage
        switch address.family {
        case AF_INET:
            let inet = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            self.init(inet, host: "")
        case AF_INET6:
            let inet6 = withUnsafeBytes(of: &storage) { $0.loadUnaligned(as: sockaddr_in6.self) }
            self.init(inet6, host: "")
        default:
            throw SocketAddressError.unsupported
        }
    }

    /// The address as the C structure `LocalName.heloName` reads (the EHLO address literal).
    var sockaddrStorage: (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        let length = withSockAddr { pointer, size in
            withUnsafeMutableBytes(of: &storage) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: min(size, target.count)))
            }
            return socklen_t(size)
        }
        return (storage, length)
    }
}
