// A malloc-counting interposer for the async client's malloc gate (LD_PRELOAD). It counts every
// call of malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign, in every thread,
// and forwards each to glibc's own implementation (__libc_*), so no dlsym bootstrapping is
// needed. PoolLoad reads the count through malloc_count_total().
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t total;

uint64_t malloc_count_total(void) { return __atomic_load_n(&total, __ATOMIC_RELAXED); }

static void counted(void) { __atomic_fetch_add(&total, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { counted(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { counted(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { counted(); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { counted(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { counted(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    counted();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
