import SMTPCore

/// A transcript test script, one step per line:
///
///     S: 250 text        server sends the line (CRLF added)
///     R: bytes\r\n       server sends raw bytes (\r \n \t \0 \\ and \xNN escapes), no CRLF added
///     C: MAIL FROM:<a>   client must have written the line (CRLF added)
///     X: bytes           client must have written these raw bytes (escapes as for R:)
///     TLS                client must have asked for TLS; the handshake succeeds
///     TLSFAIL text       client must have asked for TLS; the handshake fails
///     CERTFAIL text      client must have asked for TLS; the certificate is refused
///     EOF                server closes the connection
///     WAIT seconds       the virtual clock advances; the engine is told
///     CANCEL n [deadline|shutdown] the application cancels transaction #n (reason
///                        `.cancelled`, `.deadlineExceeded` with "deadline", `.shutdown` with "shutdown")
///     RESET              the application asks for a reset before the next transaction
///
/// Blank lines and lines starting with "#" are ignored.
struct Script {
    enum Step: Equatable {
        case server([UInt8])
        case client([UInt8])
        case tls(TLSFailure?)
        case eof
        case wait(seconds: Int)
        case cancel(TransactionID, CancelReason)
        case reset
    }

    var steps: [Step]

    init(_ text: String) {
        steps = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            let trimmed = line.trimmingLeadingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("S: ") || trimmed == "S:" {
                steps.append(.server(Array(trimmed.dropFirst(3).utf8) + [13, 10]))
            } else if trimmed.hasPrefix("R: ") {
                steps.append(.server(Script.unescape(String(trimmed.dropFirst(3)))))
            } else if trimmed.hasPrefix("C: ") || trimmed == "C:" {
                steps.append(.client(Array(trimmed.dropFirst(3).utf8) + [13, 10]))
            } else if trimmed.hasPrefix("X: ") {
                steps.append(.client(Script.unescape(String(trimmed.dropFirst(3)))))
            } else if trimmed == "TLS" {
                steps.append(.tls(nil))
            } else if trimmed.hasPrefix("TLSFAIL ") {
                steps.append(.tls(.handshake(String(trimmed.dropFirst(8)))))
            } else if trimmed.hasPrefix("CERTFAIL ") {
                steps.append(.tls(.certificate(String(trimmed.dropFirst(9)))))
            } else if trimmed == "EOF" {
                steps.append(.eof)
            } else if trimmed.hasPrefix("CANCEL ") {
                let words = trimmed.split(separator: " ")
                let reason: CancelReason = switch words.count > 2 ? words[2] : "" {
                case "deadline": .deadlineExceeded
                case "shutdown": .shutdown
                default: .cancelled
                }
                steps.append(.cancel(TransactionID(rawValue: UInt64(words[1])!), reason))
            } else if trimmed == "RESET" {
                steps.append(.reset)
            } else if trimmed.hasPrefix("WAIT ") {
                steps.append(.wait(seconds: Int(trimmed.dropFirst(5))!))
            } else {
                fatalError("bad script line: \(line)")
            }
        }
    }

    static func unescape(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let byte = bytes.popFirst() {
            guard byte == UInt8(ascii: "\\"), let next = bytes.popFirst() else {
                out.append(byte)
                continue
            }
            switch next {
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "0"): out.append(0)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "x"):
                let hex = String(decoding: [bytes.popFirst()!, bytes.popFirst()!], as: UTF8.self)
                out.append(UInt8(hex, radix: 16)!)
            default: fatalError("bad escape \\\(Character(UnicodeScalar(next)))")
            }
        }
        return out
    }
}

extension String {
    func trimmingLeadingSpaces() -> String {
        String(drop(while: { $0 == " " }))
    }
}
