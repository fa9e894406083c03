import COpenSSL
import SMTPTLS

/// The server side of a TLS handshake, in memory: an OpenSSL server over two memory BIOs that a
/// test pumps against a client `TLSSession`, with no socket and no thread.
final class InMemoryTLSServer {
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let fromClient: OpaquePointer
    private let toClient: OpaquePointer

    /// `maximumVersion` (e.g. TLS1_2_VERSION) and `ciphers` (a TLS 1.2 cipher list) restrict what
    /// the server offers.
    init(certificate: String, key: String, maximumVersion: Int32? = nil, ciphers: String? = nil) {
        context = SSL_CTX_new(TLS_server_method())!
        precondition(SSL_CTX_use_certificate_chain_file(context, certificate) == 1, "server certificate \(certificate)")
        precondition(SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1, "server key \(key)")
        if let maximumVersion {
            precondition(SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(maximumVersion), nil) == 1)
        }
        if let ciphers {
            SSL_CTX_set_security_level(context, 0)
            precondition(SSL_CTX_set_cipher_list(context, ciphers) == 1, "cipher list \(ciphers)")
        }
        ssl = SSL_new(context)!
        fromClient = BIO_new(BIO_s_mem())!
        toClient = BIO_new(BIO_s_mem())!
        _ = BIO_ctrl(fromClient, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        _ = BIO_ctrl(toClient, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, fromClient, toClient)
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// The name the client sent as SNI, if any.
    var serverNameIndication: String? {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    /// Runs the handshake between `client` and this server until the client finishes or fails,
    /// or neither side has anything more to say.
    func handshake(with client: TLSSession) -> TLSSession.HandshakeStatus {
        var bytes: [UInt8] = []
        for _ in 0..<50 {
            let status = client.advanceHandshake()
            bytes.removeAll()
            client.drainNetwork(into: &bytes)
            if !bytes.isEmpty { _ = bytes.withUnsafeBytes { BIO_write(fromClient, $0.baseAddress, Int32($0.count)) } }
            if status != .needsMoreInput { return status }
            _ = SSL_do_handshake(ssl)
            ERR_clear_error()
            var fromServer = [UInt8](repeating: 0, count: 64 * 1024)
            let read = fromServer.withUnsafeMutableBytes { BIO_read(toClient, $0.baseAddress, Int32($0.count)) }
            if read > 0 { fromServer.withUnsafeBytes { client.feedNetwork(UnsafeRawBufferPointer(rebasing: $0[0..<Int(read)])) } }
            if read <= 0 && bytes.isEmpty { return status }
        }
        return .needsMoreInput
    }
}
