import COpenSSL

/// Sole owners of OpenSSL objects: each frees its object exactly once, in deinit, so a set-up
/// step can throw at any point without freeing anything by hand.
final class SSLContextOwner {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { SSL_CTX_free(pointer) }
}

final class SSLOwner {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    /// Also frees the BIOs handed over with SSL_set_bio.
    deinit { SSL_free(pointer) }
}
