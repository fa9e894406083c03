import COpenSSL

/// An OpenSSL client context: protocol floor, cipher policy, trust store, optional client
/// certificate. One context serves any number of sessions (the libuv driver shares one across
/// connections). With `configuration.resumeSessions` it keeps the sessions servers give and
/// offers each to the same server again (`TLSSessionCache`), from any thread.
public final class TLSClientContext: @unchecked Sendable {
    private let owner: SSLContextOwner
    var context: OpaquePointer { owner.pointer }
    /// The configuration the context was made from.
    public let configuration: TLSConfiguration
    let sessionCache = TLSSessionCache()

    /// Handshakes completed with this context so far: full ones, and resumed ones.
    public var handshakeCounts: TLSHandshakeCounts { sessionCache.handshakeCounts }

    /// TLS 1.2 suites: forward secrecy (ECDHE) and an AEAD cipher only. TLS 1.3 suites are all
    /// AEAD with (EC)DHE and stay OpenSSL's default.
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// Creates the context: TLS 1.2 or newer at security level 2, the trust store (`caFile` or the system's) unless `insecure`, and the client certificate when given. Throws `TLSSetupError` naming the file and the cause.
    public init(configuration: TLSConfiguration) throws(TLSSetupError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSSetupError(.openSSL, "cannot create TLS context: \(OpenSSLErrors.drain())")
        }
        // From here on the owner frees the context, once, whatever throws below.
        owner = SSLContextOwner(context)
        self.configuration = configuration
        try Self.applyPolicy(context)
        if !configuration.insecure {
            try Self.loadTrust(context, caFile: configuration.caFile)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        if let certificate = configuration.clientCertificateFile {
            try Self.loadClientIdentity(context, certificate: certificate, key: configuration.clientKeyFile ?? certificate)
        }
        if configuration.resumeSessions {
            // Every new session (at the end of a TLS 1.2 handshake, or each TLS 1.3 ticket read
            // after it) goes to the session that made it, which files it under its peer.
            _ = smtp_SSL_CTX_set_client_session_cache(context)
            SSL_CTX_sess_set_new_cb(context) { ssl, session in
                guard let ssl, let session, let raw = SSL_get_ex_data(ssl, 0) else { return 0 }
                return Unmanaged<TLSSession>.fromOpaque(raw).takeUnretainedValue().keep(session) ? 1 : 0
            }
        }
    }

    /// TLS 1.2 or newer, security level 2, the cipher list above, no compression, no
    /// renegotiation, and no pass-phrase prompt on the terminal for an encrypted key.
    private static func applyPolicy(_ context: OpaquePointer) throws(TLSSetupError) {
        guard smtp_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw TLSSetupError(.openSSL, "cannot require TLS 1.2: \(OpenSSLErrors.drain())")
        }
        SSL_CTX_set_security_level(context, 2)
        guard SSL_CTX_set_cipher_list(context, tls12Ciphers) == 1 else {
            throw TLSSetupError(.openSSL, "cannot set the TLS 1.2 cipher list: \(OpenSSLErrors.drain())")
        }
        SSL_CTX_set_options(context, UInt64(SMTP_SSL_OP_NO_COMPRESSION() | SMTP_SSL_OP_NO_RENEGOTIATION()))
        _ = smtp_SSL_CTX_set_mode(context, SMTP_SSL_MODE_ENABLE_PARTIAL_WRITE() | SMTP_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
        SSL_CTX_set_default_passwd_cb(context) { _, _, _, _ in 0 }
    }

    private static func loadTrust(_ context: OpaquePointer, caFile: String?) throws(TLSSetupError) {
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard let caFile else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw TLSSetupError(.systemTrustStore, "cannot load the system trust store: \(OpenSSLErrors.drain())")
            }
            return
        }
        switch PEMFile.read(caFile) {
        case .failure(.unreadable(let why)):
            throw TLSSetupError(.caFileUnreadable, "cannot read CA file \(caFile): \(why)")
        case .failure(.notPEM):
            throw TLSSetupError(.caFileNotPEM, "CA file \(caFile) is not PEM (no -----BEGIN line)")
        case .success(let file) where file.certificateCount == 0:
            throw TLSSetupError(.caFileHasNoCertificates,
                                "CA file \(caFile) holds no certificate (only \(file.labels.joined(separator: ", ")))")
        case .success:
            OpenSSLErrors.clear()
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw TLSSetupError(.caFileInvalid, "cannot load CA file \(caFile): \(OpenSSLErrors.drain())")
            }
        }
    }

    private static func loadClientIdentity(_ context: OpaquePointer, certificate: String, key: String) throws(TLSSetupError) {
        switch PEMFile.read(certificate) {
        case .failure(.unreadable(let why)):
            throw TLSSetupError(.clientCertificateUnreadable, "cannot read client certificate \(certificate): \(why)")
        case .failure(.notPEM):
            throw TLSSetupError(.clientCertificateInvalid, "client certificate \(certificate) is not PEM (no -----BEGIN line)")
        case .success(let file) where file.certificateCount == 0:
            throw TLSSetupError(.clientCertificateInvalid,
                                "client certificate \(certificate) holds no certificate (only \(file.labels.joined(separator: ", ")))")
        case .success:
            OpenSSLErrors.clear()
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                throw TLSSetupError(.clientCertificateInvalid, "cannot use client certificate \(certificate): \(OpenSSLErrors.drain())")
            }
        }
        switch PEMFile.read(key) {
        case .failure(.unreadable(let why)):
            throw TLSSetupError(.clientKeyUnreadable, "cannot read client key \(key): \(why)")
        case .failure(.notPEM):
            throw TLSSetupError(.clientKeyInvalid, "client key \(key) is not PEM (no -----BEGIN line)")
        case .success(let file) where file.labels.contains("ENCRYPTED PRIVATE KEY"):
            throw TLSSetupError(.clientKeyInvalid, "client key \(key) is encrypted, and no pass-phrase can be given")
        case .success(let file) where !file.labels.contains(where: { $0.hasSuffix("PRIVATE KEY") }):
            throw TLSSetupError(.clientKeyInvalid, "client key \(key) holds no private key (only \(file.labels.joined(separator: ", ")))")
        case .success:
            break
        }
        OpenSSLErrors.clear()
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
            let mismatch = OpenSSLErrors.isKeyMismatch(ERR_peek_last_error())
            let why = OpenSSLErrors.drain()
            if mismatch {
                throw TLSSetupError(.clientKeyMismatch, "client key \(key) does not match client certificate \(certificate): \(why)")
            }
            throw TLSSetupError(.clientKeyInvalid, "cannot use client key \(key): \(why)")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSSetupError(.clientKeyMismatch,
                                "client key \(key) does not match client certificate \(certificate): \(OpenSSLErrors.drain())")
        }
    }
}
