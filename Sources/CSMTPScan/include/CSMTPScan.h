// The reply parser's line-break scan, sixteen bytes per compare. Header-only, and no includes:
// clang's vector extensions and SSE2 builtins (baseline on x86-64), no C library, so SMTPCore
// still links nothing. Other architectures use the parser's Swift word-at-a-time scan.
#ifndef CSMTPSCAN_H
#define CSMTPSCAN_H

#if defined(__x86_64__) && !defined(_WIN32)
typedef char csmtp_bytes16 __attribute__((vector_size(16)));

/// The index of the first CR (13) or LF (10) in base[start..<count], or -1: sixteen bytes per
/// compare while sixteen remain, then byte by byte. Reads nothing outside base[start..<count].
static inline long csmtp_first_line_break(const unsigned char *base, long start, long count) {
    const csmtp_bytes16 cr = {13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13};
    const csmtp_bytes16 lf = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
    long index = start;
    while (index + 16 <= count) {
        csmtp_bytes16 block;
        __builtin_memcpy(&block, base + index, 16); // an unaligned load
        const csmtp_bytes16 hits = (csmtp_bytes16)((block == cr) | (block == lf));
        const int mask = __builtin_ia32_pmovmskb128(hits);
        if (mask != 0) return index + __builtin_ctz((unsigned)mask);
        index += 16;
    }
    for (; index < count; index++) {
        const unsigned char byte = base[index];
        if (byte == 13 || byte == 10) return index;
    }
    return -1;
}
#endif

#endif
