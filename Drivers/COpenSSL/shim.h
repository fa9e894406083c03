// The OpenSSL 3 functions the TLS layer uses, plus static inline wrappers for the macros Swift
// cannot import. Nothing here holds logic beyond the macro it wraps.
#ifndef SMTP_COPENSSL_SHIM_H
#define SMTP_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

static inline int smtp_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long smtp_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline int smtp_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline size_t smtp_BIO_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

static inline long smtp_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}

static inline const long SMTP_SSL_MODE_ENABLE_PARTIAL_WRITE(void) { return SSL_MODE_ENABLE_PARTIAL_WRITE; }
static inline const long SMTP_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void) { return SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; }
static inline const unsigned long long SMTP_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline const unsigned long long SMTP_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }

/* Client-side session caching through the new-session callback only (no internal store). */
static inline long smtp_SSL_CTX_set_client_session_cache(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}

static inline int smtp_ERR_GET_LIB(unsigned long code) { return ERR_GET_LIB(code); }
static inline int smtp_ERR_GET_REASON(unsigned long code) { return ERR_GET_REASON(code); }

/* Typed stacks (macros and generated inline functions). */
static inline int smtp_sk_X509_num(STACK_OF(X509) *stack) { return sk_X509_num(stack); }
static inline X509 *smtp_sk_X509_value(STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }
static inline int smtp_sk_GENERAL_NAME_num(GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
static inline GENERAL_NAME *smtp_sk_GENERAL_NAME_value(GENERAL_NAMES *names, int index) { return sk_GENERAL_NAME_value(names, index); }

/* X509_get_ext_d2i for the subjectAltName extension, typed; free with GENERAL_NAMES_free. */
static inline GENERAL_NAMES *smtp_X509_subject_alt_names(X509 *certificate) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
}

#endif
