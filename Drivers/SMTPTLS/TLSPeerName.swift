import Glibc

/// The name a server certificate must match, as RFC 9525 wants it: a DNS name without its
/// trailing dot, or an IP address in its canonical text form. An IPv4 address in any other form
/// inet_aton accepts ("127.1", "0x7f.0.0.1", "2130706433", "0177.0.0.1") is refused when
/// verifying: it is neither a DNS name (it must never be matched against a DNS-ID) nor written
/// as the dotted quad an IP-ID is compared with, so the user is asked to write the dotted quad.
struct TLSPeerName: Equatable {
    let text: String
    let isAddress: Bool

    init(_ host: String, verifying: Bool) throws(TLSSetupError) {
        var name = host
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, !name.hasSuffix(".") else {
            throw TLSSetupError(.host, "host \"\(host)\" has no name to verify the certificate against")
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1 {
            text = name
            isAddress = true
            return
        }
        if inet_aton(name, &v4) != 0 {
            guard !verifying else {
                var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                let quad = inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)).map { String(cString: $0) } ?? "?"
                throw TLSSetupError(.host, "host \(host) is an IPv4 address in a short form, which is not verified: "
                                    + "write it as \(quad) to verify it against the certificate's IP addresses")
            }
            text = name
            isAddress = true
            return
        }
        text = name
        isAddress = false
    }
}
