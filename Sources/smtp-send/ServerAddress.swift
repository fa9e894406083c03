/// SERVER as the command line gives it: host, host:port, [v6addr] or [v6addr]:port.
struct ServerAddress: Equatable {
    var host: String
    var port: UInt16?

    /// nil when the text is not one of the four forms.
    init?(_ text: String) {
        guard !text.isEmpty, !text.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 32 } ?? false }) else { return nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let inner = String(text[text.index(after: text.startIndex)..<close])
            guard !inner.isEmpty, inner.contains(":") else { return nil }
            host = inner
            let rest = text[text.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else {
                guard rest.hasPrefix(":"), let value = ServerAddress.port(rest.dropFirst()) else { return nil }
                port = value
            }
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            host = text
            port = nil
        case 2:
            guard !parts[0].isEmpty, let value = ServerAddress.port(parts[1]) else { return nil }
            host = String(parts[0])
            port = value
        default:
            return nil // a bare IPv6 address needs brackets
        }
    }

    private static func port(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCII), let value = UInt16(text), value > 0 else { return nil }
        return value
    }
}
