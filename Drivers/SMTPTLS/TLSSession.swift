import COpenSSL
import Glibc
import SMTPCore

/// One client-side TLS session with no I/O of its own: ciphertext goes in and out through two
/// memory BIOs, plaintext through `readPlaintext`/`writePlaintext`. Any driver can feed and drain
/// it, so the blocking and the libuv drivers share this one implementation.
///
/// Call order: `feedNetwork` whatever arrives from the socket, `advanceHandshake` until `.done`
/// (writing `drainNetwork` output after every step), then `writePlaintext`/`readPlaintext`, and
/// `shutdown` at the end. Not thread-safe.
public final class TLSSession {
    /// Where the handshake stands after `advanceHandshake()`.
    public enum HandshakeStatus: Equatable {
        /// The handshake is complete: plaintext may flow.
        case done
        /// Write what `drainNetwork(into:)` gives, then call again once more ciphertext arrived.
        case needsMoreInput
        /// The handshake failed; pass the failure to `SMTPMachine.tlsFailed(_:at:)`.
        case failed(TLSFailure)
    }

    /// What `readPlaintext(into:)` found besides the plaintext it appended.
    public enum ReadStatus: Equatable {
        /// Plaintext was appended (possibly none yet).
        case ok
        /// The peer sent close_notify.
        case closed
        /// A record error: the session cannot go on.
        case failed(TLSRecordError)
    }

    private let owner: SSLOwner
    private var ssl: OpaquePointer { owner.pointer }
    private let networkIn: OpaquePointer
    private let networkOut: OpaquePointer
    private let context: TLSClientContext
    private let peerName: TLSPeerName
    /// The name or address the certificate must match (a trailing dot removed).
    public var host: String { peerName.text }
    /// Whether `advanceHandshake()` has returned `.done`.
    public private(set) var isHandshakeComplete = false
    /// The handshake resumed a session kept in the context (no certificate was sent: it was
    /// verified when that session was made).
    public private(set) var isResumed = false
    /// Where this session's resumable sessions are filed in the context's cache.
    private let cacheKey: TLSSessionCache.Key
    /// The copy of a kept session offered in the ClientHello (owned), until the handshake ends.
    private var offered: TLSSessionCache.Offer?
    /// Scratch for decrypting and for draining ciphertext, reused for every call.
    private var scratch = [UInt8](repeating: 0, count: 16 * 1024)

    /// A session for a connection to `host` (and `port`, which only tells peers apart for
    /// resumption), verified against the context's trust store; the name checked is the
    /// configuration's `serverName` when set. Throws when that name cannot be verified as RFC
    /// 9525 says, or OpenSSL cannot create the session.
    public init(context: TLSClientContext, host: String, port: UInt16 = 0) throws(TLSSetupError) {
        self.context = context
        let verifying = !context.configuration.insecure
        peerName = try TLSPeerName(context.configuration.serverName ?? host, verifying: verifying)
        cacheKey = TLSSessionCache.Key(name: peerName.text, host: host, port: port)
        guard let ssl = SSL_new(context.context) else {
            throw TLSSetupError(.openSSL, "cannot create TLS session: \(OpenSSLErrors.drain())")
        }
        // From here on the owner frees the session (and the BIOs once handed over), once.
        owner = SSLOwner(ssl)
        guard let networkIn = BIO_new(BIO_s_mem()) else {
            throw TLSSetupError(.openSSL, "cannot create memory BIOs")
        }
        guard let networkOut = BIO_new(BIO_s_mem()) else {
            BIO_free(networkIn)
            throw TLSSetupError(.openSSL, "cannot create memory BIOs")
        }
        // An empty input BIO means "want more", not end of file.
        _ = smtp_BIO_set_mem_eof_return(networkIn, -1)
        _ = smtp_BIO_set_mem_eof_return(networkOut, -1)
        SSL_set_bio(ssl, networkIn, networkOut)
        self.networkIn = networkIn
        self.networkOut = networkOut

        if verifying {
            // RFC 9525: never the subject CN (§6.3), a wildcard only as the whole left-most label (§6.3).
            let parameters = SSL_get0_param(ssl)
            X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            if peerName.isAddress {
                guard X509_VERIFY_PARAM_set1_ip_asc(parameters, peerName.text) == 1 else {
                    throw TLSSetupError(.host, "cannot verify against address \(peerName.text): \(OpenSSLErrors.drain())")
                }
            } else {
                guard SSL_set1_host(ssl, peerName.text) == 1 else {
                    throw TLSSetupError(.host, "cannot verify against host \(peerName.text): \(OpenSSLErrors.drain())")
                }
            }
        }
        // SNI carries host names only (RFC 6066 §3), without the trailing dot.
        if !peerName.isAddress { _ = smtp_SSL_set_tlsext_host_name(ssl, peerName.text) }
        SSL_set_connect_state(ssl)
        if context.configuration.resumeSessions {
            SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
            if let offer = context.sessionCache.take(for: cacheKey) {
                if SSL_set_session(ssl, offer.session) == 1 { offered = offer } else { SSL_SESSION_free(offer.session) }
            }
        }
    }

    deinit {
        SSL_set_ex_data(ssl, 0, nil)
        if let offered { SSL_SESSION_free(offered.session) }
    }

    /// A new session from the server (the context's callback): filed under this peer when the
    /// certificate was verified (or verification is off). True: the cache took the reference.
    func keep(_ session: OpaquePointer) -> Bool {
        guard context.configuration.insecure || SSL_get_verify_result(ssl) == X509_V_OK else { return false }
        context.sessionCache.store(session, for: cacheKey)
        return true
    }

    /// The handshake ended (`resumed` only when it succeeded): counts it, and forgets an offered
    /// session the server did not take.
    private func handshakeEnded(resumed: Bool) {
        guard let offer = offered else { return }
        offered = nil
        if !resumed { context.sessionCache.discard(serial: offer.serial, for: cacheKey) }
        SSL_SESSION_free(offer.session)
    }

    /// Ciphertext from the network.
    public func feedNetwork(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let written = BIO_write(networkIn, base + offset, Int32(min(bytes.count - offset, Int(Int32.max))))
            guard written > 0 else { break }
            offset += Int(written)
        }
    }

    /// Ciphertext to send, appended to `buffer`.
    public func drainNetwork(into buffer: inout [UInt8]) {
        while smtp_BIO_pending(networkOut) > 0 {
            let read = scratch.withUnsafeMutableBytes { raw in
                BIO_read(networkOut, raw.baseAddress, Int32(raw.count))
            }
            guard read > 0 else { return }
            scratch.withUnsafeBytes { raw in
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<Int(read)]))
            }
        }
    }

    /// Whether ciphertext is waiting for `drainNetwork(into:)`.
    public var hasNetworkOutput: Bool { smtp_BIO_pending(networkOut) > 0 }

    /// Runs the handshake as far as the input allows.
    public func advanceHandshake() -> HandshakeStatus {
        if isHandshakeComplete { return .done }
        OpenSSLErrors.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isHandshakeComplete = true
            isResumed = SSL_session_reused(ssl) == 1
            context.sessionCache.noteHandshake(resumed: isResumed)
            handshakeEnded(resumed: isResumed)
            return .done
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            return .needsMoreInput
        }
        handshakeEnded(resumed: false)
        return .failed(failure())
    }

    /// Why the handshake failed, in words a user understands.
    private func failure() -> TLSFailure {
        let verify = SSL_get_verify_result(ssl)
        let reasons = OpenSSLErrors.drain()
        if verify != X509_V_OK {
            var why = Self.describe(verification: Int32(verify), host: host)
            if verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH,
               let names = CertificateNames(peerOf: ssl) {
                why += ": " + names.mismatch(for: peerName)
            }
            return .certificate(why)
        }
        var text = reasons.isEmpty ? "the server ended the handshake" : reasons
        if reasons.contains("wrong version number") || reasons.contains("packet length too long")
            || reasons.contains("record layer failure") || reasons.contains("unknown protocol") {
            text += " (is the server speaking TLS on this port?)"
        }
        return .handshake(text)
    }

    static func describe(verification code: Int32, host: String) -> String {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate has expired"
        case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid"
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return "self-signed certificate"
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return "self-signed certificate in the chain"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            return "certificate signed by an unknown authority"
        case X509_V_ERR_HOSTNAME_MISMATCH: return "certificate is not valid for host \(host)"
        case X509_V_ERR_IP_ADDRESS_MISMATCH: return "certificate is not valid for address \(host)"
        case X509_V_ERR_CERT_REVOKED: return "certificate has been revoked"
        default:
            guard let text = X509_verify_cert_error_string(Int(code)) else { return "certificate verification error \(code)" }
            return String(cString: text)
        }
    }

    /// Encrypts all of `bytes` into the network BIO (memory BIOs never refuse a write).
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws(TLSRecordError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            OpenSSLErrors.clear()
            let chunk = Int32(min(bytes.count - offset, 1 << 30))
            let written = SSL_write(ssl, base + offset, chunk)
            guard written > 0 else {
                let (code, why) = OpenSSLErrors.drainWithCode()
                throw TLSRecordError(code: code, reason: why.isEmpty ? "write failed" : why)
            }
            offset += Int(written)
        }
    }

    /// Decrypts whatever complete records are buffered, appending plaintext to `buffer`.
    public func readPlaintext(into buffer: inout [UInt8]) -> ReadStatus {
        while true {
            OpenSSLErrors.clear()
            let read = scratch.withUnsafeMutableBytes { raw in
                SSL_read(ssl, raw.baseAddress, Int32(raw.count))
            }
            if read > 0 {
                scratch.withUnsafeBytes { raw in
                    buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<Int(read)]))
                }
                continue
            }
            let error = SSL_get_error(ssl, read)
            switch error {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .ok
            case SSL_ERROR_ZERO_RETURN: return .closed
            default:
                let (code, why) = OpenSSLErrors.drainWithCode()
                return .failed(TLSRecordError(code: code == 0 ? Int(error) : code, reason: why.isEmpty ? "read error \(error)" : why))
            }
        }
    }

    /// Queues close_notify.
    public func shutdown() {
        OpenSSLErrors.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrors.clear()
    }

    /// "TLSv1.3", once the handshake is done.
    public var protocolVersion: String {
        guard let name = SSL_get_version(ssl) else { return "" }
        return String(cString: name)
    }

    /// The negotiated cipher suite.
    public var cipher: String {
        guard let current = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(current) else { return "" }
        return String(cString: name)
    }
}

/// A TLS failure after the handshake: a fatal alert from the peer or a record that does not
/// decrypt. `code` is OpenSSL's packed error code, `reason` its words.
public struct TLSRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    /// OpenSSL's packed error code.
    public var code: Int
    /// OpenSSL's words for the error.
    public var reason: String
    /// A record error with this code and reason.
    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }
    /// The reason.
    public var description: String { reason }
}
