import COpenSSL
import Glibc

/// The identifiers a server certificate presents (subjectAltName DNS and IP entries, and the
/// subject CN), read to explain a name mismatch in words: OpenSSL only says "hostname mismatch".
struct CertificateNames {
    var dnsNames: [String] = []
    var addresses: [String] = []
    var commonName: String?

    /// The leaf the server sent (still readable after a failed verification), nil if none.
    init?(peerOf ssl: OpaquePointer) {
        guard let chain = SSL_get_peer_cert_chain(ssl), smtp_sk_X509_num(chain) > 0,
              let leaf = smtp_sk_X509_value(chain, 0) else { return nil }
        if let names = smtp_X509_subject_alt_names(leaf) {
            defer { GENERAL_NAMES_free(names) }
            for index in 0..<smtp_sk_GENERAL_NAME_num(names) {
                guard let name = smtp_sk_GENERAL_NAME_value(names, index) else { continue }
                switch name.pointee.type {
                case GEN_DNS: dnsNames.append(Self.text(name.pointee.d.dNSName))
                case GEN_IPADD: addresses.append(Self.address(name.pointee.d.iPAddress))
                default: break
                }
            }
        }
        if let subject = X509_get_subject_name(leaf) {
            let index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1)
            if index >= 0, let entry = X509_NAME_get_entry(subject, index) {
                commonName = Self.text(X509_NAME_ENTRY_get_data(entry))
            }
        }
    }

    /// Why a certificate does not match `name`, for the line after "certificate is not valid for ...".
    func mismatch(for name: TLSPeerName) -> String {
        if dnsNames.isEmpty && addresses.isEmpty {
            guard let commonName else { return "the certificate names no host at all" }
            if commonName.lowercased() == name.text.lowercased() {
                return "the certificate names its host only in the subject CN (\(commonName)), which is not accepted"
            }
            return "the certificate has no subjectAltName (its subject CN \(commonName) is never matched)"
        }
        if !name.isAddress, let partial = dnsNames.first(where: { Self.isPartialWildcard($0) && Self.partialWildcard($0, matches: name.text) }) {
            return "the certificate's wildcard name \(partial) is partial, which is not accepted"
        }
        let all = dnsNames + addresses
        let shown = all.prefix(5).joined(separator: ", ") + (all.count > 5 ? " and \(all.count - 5) more" : "")
        return "the certificate names only \(shown)"
    }

    /// A '*' anywhere but as the whole left-most label ("w*.example", "*w.example", "a.*.example").
    static func isPartialWildcard(_ pattern: String) -> Bool {
        guard pattern.contains("*") else { return false }
        let labels = pattern.split(separator: ".", omittingEmptySubsequences: false)
        return !(labels.first == "*" && !labels.dropFirst().contains { $0.contains("*") })
    }

    /// Whether the partial wildcard would have matched if partial wildcards were allowed (one '*'
    /// within the left-most label, the other labels equal): only then is it the reason to name.
    static func partialWildcard(_ pattern: String, matches host: String) -> Bool {
        let patternLabels = pattern.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        let hostLabels = host.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        guard patternLabels.count == hostLabels.count, let first = patternLabels.first, let label = hostLabels.first,
              Array(patternLabels.dropFirst()) == Array(hostLabels.dropFirst()) else { return false }
        let parts = first.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return label.count >= parts[0].count + parts[1].count && label.hasPrefix(parts[0]) && label.hasSuffix(parts[1])
    }

    /// An ASN.1 string's bytes with anything but printable ASCII shown as '?': these come from
    /// the peer and end up on a terminal.
    static func text(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let bytes = ASN1_STRING_get0_data(string) else { return "" }
        let count = Int(ASN1_STRING_length(string))
        return String(UnsafeBufferPointer(start: bytes, count: max(0, min(count, 255))).map {
            (0x21...0x7E).contains($0) ? Character(UnicodeScalar($0)) : "?"
        })
    }

    static func address(_ string: UnsafeMutablePointer<ASN1_STRING>?) -> String {
        guard let string, let bytes = ASN1_STRING_get0_data(string) else { return "" }
        let count = Int(ASN1_STRING_length(string))
        guard count == 4 || count == 16 else { return "(an address of \(count) bytes)" }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(count == 4 ? AF_INET : AF_INET6, bytes, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
