import COpenSSL

/// Reads and clears OpenSSL's error queue into one line of text.
enum OpenSSLErrors {
    static func drain() -> String { drainWithCode().reason }

    /// The error queue as one line, and the first error's packed OpenSSL code (0 when empty).
    static func drainWithCode() -> (code: Int, reason: String) {
        var messages: [String] = []
        var first = 0
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if first == 0 { first = Int(truncatingIfNeeded: code) }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // "error:0A00010B:SSL routines::wrong version number" -> "wrong version number"
            let reason = text.split(separator: ":", omittingEmptySubsequences: false).last.map(String.init) ?? text
            if !messages.contains(reason) { messages.append(reason) }
        }
        return (first, messages.joined(separator: "; "))
    }

    static func clear() { ERR_clear_error() }

    /// X509_check_private_key's refusal: the key is not the certificate's.
    static func isKeyMismatch(_ code: UInt) -> Bool {
        smtp_ERR_GET_LIB(code) == ERR_LIB_X509
            && (smtp_ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH || smtp_ERR_GET_REASON(code) == X509_R_KEY_TYPE_MISMATCH)
    }
}
