/// The command lines the client sends, as pure functions (h11's `_writers.py` is the model):
/// each appends one line, without its CRLF, to `out`. They decide nothing; every choice (which
/// parameters apply, whether SIZE= is offered) is the session machine's, passed in. Addresses and
/// parameters were validated before they get here (no CR, LF or NUL can reach a line).
enum CommandWriters {
    static func hello(_ command: SMTPMachine.HelloCommand, name: String, into out: inout [UInt8]) {
        switch command {
        case .ehlo: out.appendASCII("EHLO ")
        case .lhlo: out.appendASCII("LHLO ")
        case .helo: out.appendASCII("HELO ")
        }
        out.appendUTF8(name)
    }

    /// `MAIL FROM:<sender>` with SIZE= (when `size` is given), BODY=, SMTPUTF8, RET= and ENVID=.
    static func mail(_ envelope: Envelope, size: Int?, smtpUTF8: Bool, into out: inout [UInt8]) {
        out.appendASCII("MAIL FROM:<")
        out.appendUTF8(envelope.sender)
        out.appendASCII(">")
        if let size {
            out.appendASCII(" SIZE=")
            out.appendDecimal(size)
        }
        switch envelope.bodyType {
        case .sevenBit: break
        case .eightBitMIME: out.appendASCII(" BODY=8BITMIME")
        case .binaryMIME: out.appendASCII(" BODY=BINARYMIME")
        }
        if smtpUTF8 { out.appendASCII(" SMTPUTF8") }
        if let ret = envelope.dsnReturn {
            out.appendASCII(" RET=")
            out.appendUTF8(ret.rawValue)
        }
        if let envid = envelope.dsnEnvelopeID {
            out.appendASCII(" ENVID=")
            AddressSyntax.appendXText(envid, to: &out)
        }
    }

    /// `RCPT TO:<address>` with NOTIFY= and ORCPT=.
    static func recipient(_ recipient: Recipient, into out: inout [UInt8]) {
        out.appendASCII("RCPT TO:<")
        out.appendUTF8(recipient.address)
        out.appendASCII(">")
        if let notify = recipient.notify {
            out.appendASCII(" NOTIFY=")
            switch notify {
            case .never:
                out.appendASCII("NEVER")
            case .on(let success, let failure, let delay):
                var first = true
                for (wanted, word) in [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")] where wanted {
                    if !first { out.append(UInt8(ascii: ",")) }
                    out.appendUTF8(word)
                    first = false
                }
                if first { out.appendASCII("NEVER") }
            }
        }
        if let original = recipient.originalRecipient {
            out.appendASCII(" ORCPT=rfc822;")
            AddressSyntax.appendXText(original, to: &out)
        }
    }

    /// `BDAT size[ LAST]` (the chunk's octets follow the line).
    static func bdat(size: Int, last: Bool, into out: inout [UInt8]) {
        out.appendASCII("BDAT ")
        out.appendDecimal(size)
        if last { out.appendASCII(" LAST") }
    }

    /// `AUTH mechanism[ initial-response]`; an empty initial response is "=" (RFC 4954 §4).
    static func auth(mechanism: String, initialResponse: [UInt8]?, into out: inout [UInt8]) {
        out.appendASCII("AUTH ")
        out.appendUTF8(mechanism)
        if let initialResponse {
            out.append(UInt8(ascii: " "))
            if initialResponse.isEmpty { out.append(UInt8(ascii: "=")) } else { Base64.encode(initialResponse, into: &out) }
        }
    }
}
