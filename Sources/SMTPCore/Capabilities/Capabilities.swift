/// What a server said it supports in its EHLO (or LHLO) reply, as typed values.
///
/// Flags are one bit set; SIZE is a number; the AUTH list keeps mechanism names (upper case,
/// RFC 4422 syntax checked) because mechanisms are pluggable. A reply to HELO yields the empty set
/// with `isExtended == false`: no ESMTP parameter may then be used.
public struct Capabilities: Hashable, Sendable {
    /// The extensions that take no parameter the engine needs, as one bit set.
    public struct Flags: OptionSet, Hashable, Sendable {
        /// The bits, one per extension.
        public let rawValue: UInt16
        /// A set from its bits.
        public init(rawValue: UInt16) { self.rawValue = rawValue }

        /// SIZE (RFC 1870): the server takes a size declaration, and may state a limit.
        public static let size = Flags(rawValue: 1 << 0)
        /// PIPELINING (RFC 2920): commands may be sent without waiting for each reply.
        public static let pipelining = Flags(rawValue: 1 << 1)
        /// 8BITMIME (RFC 6152): bodies of 8-bit text are accepted.
        public static let eightBitMIME = Flags(rawValue: 1 << 2)
        /// SMTPUTF8 (RFC 6531): addresses and headers in UTF-8.
        public static let smtpUTF8 = Flags(rawValue: 1 << 3)
        /// STARTTLS (RFC 3207).
        public static let startTLS = Flags(rawValue: 1 << 4)
        /// AUTH (RFC 4954), with the mechanisms in `Capabilities/authMechanisms`.
        public static let auth = Flags(rawValue: 1 << 5)
        /// CHUNKING (RFC 3030): BDAT instead of DATA.
        public static let chunking = Flags(rawValue: 1 << 6)
        /// BINARYMIME (RFC 3030): binary bodies, sent with BDAT.
        public static let binaryMIME = Flags(rawValue: 1 << 7)
        /// DSN (RFC 3461): delivery status notification parameters.
        public static let dsn = Flags(rawValue: 1 << 8)
        /// ENHANCEDSTATUSCODES (RFC 2034): replies carry codes such as 5.1.1.
        public static let enhancedStatusCodes = Flags(rawValue: 1 << 9)
    }

    /// The extensions offered.
    public var flags: Flags
    /// The SIZE limit in octets; nil when the server gave none or 0 (no fixed limit).
    public var maxMessageSize: Int?
    /// AUTH mechanisms in the server's order, upper case, without duplicates.
    public var authMechanisms: [String]
    /// True after EHLO/LHLO, false after HELO.
    public var isExtended: Bool

    /// Capabilities given directly (tests, or a server known in advance).
    public init(flags: Flags = [], maxMessageSize: Int? = nil, authMechanisms: [String] = [], isExtended: Bool = true) {
        self.flags = flags
        self.maxMessageSize = maxMessageSize
        self.authMechanisms = authMechanisms
        self.isExtended = isExtended
    }

    /// What a server that answered HELO supports: nothing.
    public static let basic = Capabilities(isExtended: false)

    /// Whether the server offers every extension in `flag`.
    public func contains(_ flag: Flags) -> Bool { flags.contains(flag) }

    /// Whether the server offers this AUTH mechanism (the name compared in upper case).
    public func offersAuthMechanism(_ name: String) -> Bool {
        authMechanisms.contains { $0 == name.uppercased() }
    }

    /// Reads an EHLO reply. The first line names the server and is skipped; every other line is
    /// `keyword *(SP param)`. Unknown keywords and malformed parameters are ignored.
    public init(ehloReply reply: SMTPReply) {
        self.init()
        var first = true
        reply.forEachLine { line in
            if first { first = false; return }
            parseLine(line)
        }
    }

    private mutating func parseLine(_ line: ArraySlice<UInt8>) {
        // Split into the keyword and the parameters, on spaces (and "=" for the old "AUTH=" form).
        var keywordEnd = line.startIndex
        while keywordEnd < line.endIndex, line[keywordEnd] != UInt8(ascii: " "), line[keywordEnd] != UInt8(ascii: "=") {
            keywordEnd += 1
        }
        let keyword = line[line.startIndex..<keywordEnd]
        let params = keywordEnd < line.endIndex ? line[(keywordEnd + 1)...] : line[line.endIndex...]
        guard !keyword.isEmpty, keyword.count <= 32 else { return }

        func matches(_ name: StaticString) -> Bool {
            guard keyword.count == name.utf8CodeUnitCount else { return false }
            return name.withUTF8Buffer { expected in
                zip(keyword, expected).allSatisfy { Self.upper($0) == $1 }
            }
        }

        if matches("PIPELINING") { flags.insert(.pipelining) }
        else if matches("8BITMIME") { flags.insert(.eightBitMIME) }
        else if matches("SMTPUTF8") { flags.insert(.smtpUTF8) }
        else if matches("STARTTLS") { flags.insert(.startTLS) }
        else if matches("CHUNKING") { flags.insert(.chunking) }
        else if matches("BINARYMIME") { flags.insert(.binaryMIME) }
        else if matches("DSN") { flags.insert(.dsn) }
        else if matches("ENHANCEDSTATUSCODES") { flags.insert(.enhancedStatusCodes) }
        else if matches("SIZE") {
            flags.insert(.size)
            maxMessageSize = Self.parseSize(params)
        } else if matches("AUTH") {
            for name in Self.words(params) {
                guard let mechanism = Self.mechanismName(name) else { continue }
                if !authMechanisms.contains(mechanism) { authMechanisms.append(mechanism) }
            }
            if !authMechanisms.isEmpty { flags.insert(.auth) }
        }
    }

    private static func upper(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
    }

    private static func words(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
    }

    /// A SIZE parameter: decimal digits; absent, zero, malformed or absurd means "no fixed limit".
    private static func parseSize(_ params: ArraySlice<UInt8>) -> Int? {
        guard let first = words(params).first, !first.isEmpty, first.count <= 18 else { return nil }
        var value = 0
        for byte in first {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value > 0 ? value : nil
    }

    /// RFC 4422 §3.1: 1-20 of upper-case letters, digits, "-" and "_" (lower case folded).
    private static func mechanismName(_ bytes: ArraySlice<UInt8>) -> String? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var name: [UInt8] = []
        name.reserveCapacity(bytes.count)
        for byte in bytes {
            let up = upper(byte)
            let ok = (up >= UInt8(ascii: "A") && up <= UInt8(ascii: "Z")) || (up >= UInt8(ascii: "0") && up <= UInt8(ascii: "9"))
                || up == UInt8(ascii: "-") || up == UInt8(ascii: "_")
            guard ok else { return nil }
            name.append(up)
        }
        return String(decoding: name, as: UTF8.self)
    }
}
