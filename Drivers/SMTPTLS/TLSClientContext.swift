import COpenSSL

/// An OpenSSL client context: protocol floor, trust store, optional client certificate. One
/// context serves any number of sessions (the libuv driver shares one across connections).
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let configuration: TLSConfiguration

    public init(configuration: TLSConfiguration) throws(TLSSetupError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSSetupError("cannot create TLS context: \(OpenSSLErrors.drain())")
        }
        self.context = context
        self.configuration = configuration
        // TLS 1.2 or newer, no compression, no renegotiation.
        guard smtp_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(context)
            throw TLSSetupError("cannot require TLS 1.2: \(OpenSSLErrors.drain())")
        }
        SSL_CTX_set_options(context, UInt64(SMTP_SSL_OP_NO_COMPRESSION() | SMTP_SSL_OP_NO_RENEGOTIATION()))
        _ = smtp_SSL_CTX_set_mode(context, SMTP_SSL_MODE_ENABLE_PARTIAL_WRITE() | SMTP_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())

        if configuration.insecure {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let caFile = configuration.caFile {
                guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                    let why = OpenSSLErrors.drain()
                    SSL_CTX_free(context)
                    throw TLSSetupError("cannot load CA file \(caFile): \(why)")
                }
            } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                let why = OpenSSLErrors.drain()
                SSL_CTX_free(context)
                throw TLSSetupError("cannot load the system trust store: \(why)")
            }
        }
        if let certificate = configuration.clientCertificateFile {
            let key = configuration.clientKeyFile ?? certificate
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1,
                  SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(context) == 1 else {
                let why = OpenSSLErrors.drain()
                SSL_CTX_free(context)
                throw TLSSetupError("cannot use client certificate \(certificate): \(why)")
            }
        }
    }

    deinit {
        SSL_CTX_free(context)
    }
}
