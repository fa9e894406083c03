/// Syntax checks for what the client puts on a command line: mailboxes (RFC 5321 §4.1.2, with
/// RFC 6531's UTF-8 extension), EHLO names, and xtext (RFC 3461 §4).
///
/// Anything that could end or split a command line (CR, LF, NUL, other controls) or change its
/// meaning (angle brackets, spaces outside a quoted local part) is refused outright. The checks
/// run over the string's own UTF-8 storage and allocate nothing.
enum AddressSyntax {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    struct Checked {
        /// The address holds non-ASCII octets: SMTPUTF8 is needed.
        var isUTF8: Bool
    }

    static func checkMailbox(_ address: String, allowPostmaster: Bool = false) -> Result<Checked, AddressProblem> {
        withUTF8(address) { checkMailbox($0, allowPostmaster: allowPostmaster) }
    }

    /// An EHLO/HELO argument: an ASCII domain or an address literal (RFC 5321 §4.1.1.1).
    static func isValidHeloName(_ name: String) -> Bool {
        withUTF8(name) { bytes in
            !bytes.isEmpty && bytes.count <= 255 && (isDomain(bytes, allowUTF8: false) || isAddressLiteral(bytes))
        }
    }

    /// Runs `body` over the string's UTF-8, copying only for a non-contiguous (bridged) string.
    static func withUTF8<R>(_ string: String, _ body: (Bytes) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(string.utf8).withUnsafeBufferPointer(body)
    }

    private static func checkMailbox(_ bytes: Bytes, allowPostmaster: Bool) -> Result<Checked, AddressProblem> {
        guard !bytes.isEmpty else { return .failure(.empty) }
        var isUTF8 = false
        var at = -1
        for (index, byte) in bytes.enumerated() {
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") {
                return .failure(.forbiddenCharacter(byte))
            }
            if byte >= 0x80 { isUTF8 = true }
            if byte == UInt8(ascii: "@") { at = index }
        }
        guard bytes.count <= 254 else { return .failure(.pathTooLong) }
        if allowPostmaster, equalsIgnoringCase(bytes, "postmaster") {
            return .success(Checked(isUTF8: false))
        }
        guard at >= 0 else { return .failure(.missingAtSign) }
        let local = Bytes(rebasing: bytes[..<at])
        let domain = Bytes(rebasing: bytes[(at + 1)...])
        guard !local.isEmpty else { return .failure(.invalidLocalPart) }
        guard local.count <= 64 else { return .failure(.localPartTooLong) }
        guard !domain.isEmpty else { return .failure(.invalidDomain) }
        guard domain.count <= 255 else { return .failure(.domainTooLong) }
        if local[0] == UInt8(ascii: "\"") {
            guard isQuotedString(local) else { return .failure(.invalidLocalPart) }
        } else {
            if local.contains(UInt8(ascii: " ")) { return .failure(.forbiddenCharacter(UInt8(ascii: " "))) }
            guard isDotString(local) else { return .failure(.invalidLocalPart) }
        }
        if domain.contains(UInt8(ascii: " ")) { return .failure(.forbiddenCharacter(UInt8(ascii: " "))) }
        guard isDomain(domain, allowUTF8: true) || isAddressLiteral(domain) else { return .failure(.invalidDomain) }
        return .success(Checked(isUTF8: isUTF8))
    }

    private static func equalsIgnoringCase(_ bytes: Bytes, _ word: StaticString) -> Bool {
        guard bytes.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { ($0 | 0x20) == ($1 | 0x20) }
        }
    }

    // atext (RFC 5322 §3.2.3), plus any UTF-8 octet (RFC 6531 §3.3).
    private static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), 0x80...0xFF:
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
             UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
             UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func isDotString(_ bytes: Bytes) -> Bool {
        var previousWasDot = true // no leading dot
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousWasDot { return false }
                previousWasDot = true
            } else {
                guard isAtext(byte) else { return false }
                previousWasDot = false
            }
        }
        return !previousWasDot // no trailing dot
    }

    private static func isQuotedString(_ bytes: Bytes) -> Bool {
        guard bytes.count >= 2, bytes[bytes.count - 1] == UInt8(ascii: "\"") else { return false }
        var index = 1
        let end = bytes.count - 1
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                index += 1
                guard index < end, (32...126).contains(bytes[index]) else { return false }
            } else if byte == UInt8(ascii: "\"") || byte < 32 || byte == 127 {
                return false
            }
            index += 1
        }
        return true
    }

    private static func isLetDig(_ byte: UInt8, allowUTF8: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return allowUTF8 && byte >= 0x80
        }
    }

    /// sub-domain *("." sub-domain), each label 1-63 octets of letters, digits and inner hyphens.
    private static func isDomain(_ bytes: Bytes, allowUTF8: Bool) -> Bool {
        guard !bytes.isEmpty else { return false }
        var labelStart = 0
        for index in 0...bytes.count {
            guard index == bytes.count || bytes[index] == UInt8(ascii: ".") else { continue }
            let length = index - labelStart
            guard length >= 1, length <= 63,
                  isLetDig(bytes[labelStart], allowUTF8: allowUTF8),
                  isLetDig(bytes[index - 1], allowUTF8: allowUTF8) else { return false }
            for position in labelStart..<index {
                let byte = bytes[position]
                guard isLetDig(byte, allowUTF8: allowUTF8) || byte == UInt8(ascii: "-") else { return false }
            }
            labelStart = index + 1
        }
        return true
    }

    /// "[" (IPv4 / "IPv6:" IPv6 / tag ":" dcontent) "]".
    private static func isAddressLiteral(_ bytes: Bytes) -> Bool {
        guard bytes.count >= 3, bytes[0] == UInt8(ascii: "["), bytes[bytes.count - 1] == UInt8(ascii: "]") else {
            return false
        }
        let inner = Bytes(rebasing: bytes[1..<(bytes.count - 1)])
        if isIPv4(inner) { return true }
        guard let colon = inner.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        let tag = Bytes(rebasing: inner[..<colon])
        let content = Bytes(rebasing: inner[(colon + 1)...])
        guard !content.isEmpty else { return false }
        if equalsIgnoringCase(tag, "IPv6") {
            var colons = 0
            for byte in content {
                if byte == UInt8(ascii: ":") { colons += 1 } else if byte != UInt8(ascii: "."), !isHexDigit(byte) { return false }
            }
            return colons >= 2
        }
        // General-address-literal: Standardized-tag ":" 1*dcontent.
        return isDomain(tag, allowUTF8: false) && content.allSatisfy { (33...90).contains($0) || (94...126).contains($0) }
    }

    private static func isIPv4(_ bytes: Bytes) -> Bool {
        var parts = 0
        var value = 0
        var digits = 0
        for index in 0...bytes.count {
            if index == bytes.count || bytes[index] == UInt8(ascii: ".") {
                guard digits >= 1, value <= 255 else { return false }
                parts += 1
                value = 0
                digits = 0
                continue
            }
            let byte = bytes[index]
            guard byte >= 48, byte <= 57, digits < 3 else { return false }
            value = value * 10 + Int(byte - 48)
            digits += 1
        }
        return parts == 4
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
    }

    /// Appends `value` as xtext: "+" and "=" and every octet outside 33-126 become "+HH".
    static func appendXText(_ value: String, to output: inout [UInt8]) {
        for byte in value.utf8 {
            if byte >= 33, byte <= 126, byte != UInt8(ascii: "+"), byte != UInt8(ascii: "=") {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "+"))
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
