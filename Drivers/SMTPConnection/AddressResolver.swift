import Glibc

/// One resolved address to connect to.
package struct ResolvedAddress: Sendable, CustomStringConvertible {
    package var family: Int32
    package var storage: sockaddr_storage
    package var length: socklen_t

    /// The path of a Unix-domain socket address.
    package var unixPath: String? {
        guard family == AF_UNIX else { return nil }
        var copy = storage
        return withUnsafeBytes(of: &copy) { raw in String(decoding: raw[2...].prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// "192.0.2.1:25", "[2001:db8::1]:25", or "unix:/path".
    package var description: String {
        if let unixPath { return "unix:\(unixPath)" }
        let host = Self.numericHost(storage, length)
        var copy = storage
        let port: UInt16 = withUnsafeBytes(of: &copy) { raw in
            // sin_port and sin6_port sit at the same offset, in network order.
            UInt16(raw[2]) << 8 | UInt16(raw[3])
        }
        return family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func numericHost(_ storage: sockaddr_storage, _ length: socklen_t) -> String {
        var copy = storage
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let result = withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard result == 0 else { return "?" }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

package struct ResolutionError: Error, Hashable, Sendable, CustomStringConvertible {
    package var message: String
    package var description: String { message }
    package init(message: String) { self.message = message }
}

/// Name resolution with getaddrinfo: IPv4 and IPv6, in the resolver's preferred order.
package enum AddressResolver {
    /// The address of a Unix-domain socket (LMTP servers listen on one).
    package static func unixSocket(_ path: String) throws(ResolutionError) -> ResolvedAddress {
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw ResolutionError(message: "invalid Unix socket path \(path) (1 to \(capacity - 1) octets)")
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: &address) { target.copyMemory(from: $0) }
        }
        return ResolvedAddress(family: AF_UNIX, storage: storage,
                               length: socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1))
    }

    /// Where to connect for `options`: its Unix socket, or its host's addresses.
    package static func resolve(_ options: ClientOptions) throws(ResolutionError) -> [ResolvedAddress] {
        if let path = options.unixSocketPath { return [try unixSocket(path)] }
        return try resolve(host: options.host, port: options.port)
    }

    package static func resolve(host: String, port: UInt16) throws(ResolutionError) -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        // An address literal is its own answer: parsed, with no lookup of the host's interfaces
        // (AI_ADDRCONFIG opens a netlink socket for that on every call) and no name service.
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        if getaddrinfo(host, String(port), &hints, &list) == 0 { return collect(list) }
        list = nil
        hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV
        let status = getaddrinfo(host, String(port), &hints, &list)
        if status != 0 {
            // Loopback-only machines: AI_ADDRCONFIG can hide every address; try once without it.
            hints.ai_flags = AI_NUMERICSERV
            list = nil
            if getaddrinfo(host, String(port), &hints, &list) == 0 { return collect(list) }
        }
        guard status == 0 else {
            throw ResolutionError(message: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        return collect(list)
    }

    private static func collect(_ list: UnsafeMutablePointer<addrinfo>?) -> [ResolvedAddress] {
        defer { if let list { freeaddrinfo(list) } }
        var result: [ResolvedAddress] = []
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen)))
                }
                result.append(ResolvedAddress(family: entry.pointee.ai_family, storage: storage, length: entry.pointee.ai_addrlen))
            }
            cursor = entry.pointee.ai_next
        }
        return result
    }
}

/// The EHLO name when none is given: this machine's fully qualified name, or else an address
/// literal for the local end of the connection (RFC 5321 §4.1.4 allows one when the client has
/// no domain name). The name is gethostname() when that is qualified, or else the canonical name
/// /etc/hosts gives it (as on Debian: "127.0.1.1 host.example.org host"). It is read once, and
/// never through DNS: a resolver lookup of our own name can block for seconds outside every
/// deadline.
package enum LocalName {
    package static func heloName(localAddress: sockaddr_storage?, length: socklen_t) -> String {
        if let name = qualifiedHostName { return name }
        // A Unix socket has no address to name: the loopback literal stands in.
        guard let localAddress, Int32(localAddress.ss_family) != AF_UNIX else { return "[127.0.0.1]" }
        let text = ResolvedAddress.numericHost(localAddress, length)
        return Int32(localAddress.ss_family) == AF_INET6 ? "[IPv6:\(text.split(separator: "%").first ?? "")]" : "[\(text)]"
    }

    static let qualifiedHostName: String? = {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count) == 0 else { return nil }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if isPlausibleFQDN(host) { return host }
        return canonicalName(of: host, hostsFile: String(decoding: SmallFile.contents(of: "/etc/hosts", limit: 256 * 1024) ?? [], as: UTF8.self))
    }()

    /// The first name on the /etc/hosts line that lists `host`, when it is qualified.
    static func canonicalName(of host: String, hostsFile: String) -> String? {
        let wanted = host.lowercased()
        for line in hostsFile.split(whereSeparator: { $0 == "\n" }) {
            let fields = line.prefix { $0 != "#" }.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard fields.count >= 2 else { continue }
            let names = fields.dropFirst()
            if names.contains(where: { $0.lowercased() == wanted }), isPlausibleFQDN(String(names.first!)) {
                return String(names.first!)
            }
        }
        return nil
    }

    static func isPlausibleFQDN(_ name: String) -> Bool {
        guard name.contains("."), !name.hasSuffix("."), name.utf8.count <= 255, !name.hasSuffix(".localdomain") else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
    }
}
