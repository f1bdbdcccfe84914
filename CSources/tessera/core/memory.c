/* Aligned allocation, and the bound on what one request may claim. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "tsr_internal.h"

void *tsr_malloc_aligned(size_t bytes, size_t alignment) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) {
        tsr_error(TSR_EINVAL, "tsr_malloc_aligned: alignment %zu is not a power of two >= %zu",
                  alignment, sizeof(void *));
        return NULL;
    }
    size_t rounded;
    if (tsr_add_size(bytes ? bytes : 1, alignment - 1, &rounded)) {
        tsr_error(TSR_ERANGE, "tsr_malloc_aligned: %zu bytes overflows", bytes);
        return NULL;
    }
    rounded &= ~(alignment - 1);
    /* sizes come from files and arguments: refuse what overcommit would grant and kill later */
    if (tsr_check_alloc("tsr_malloc_aligned", "the request", (double)rounded) != TSR_OK) return NULL;
    void *p = aligned_alloc(alignment, rounded);
    if (!p) tsr_error(TSR_ENOMEM, "tsr_malloc_aligned: cannot allocate %zu bytes", bytes);
    return p;
}

void *tsr_malloc(size_t bytes) { return tsr_malloc_aligned(bytes, TSR_ALIGNMENT); }

void *tsr_calloc(size_t count, size_t size) {
    size_t bytes;
    if (tsr_mul_size(count, size, &bytes)) {
        tsr_error(TSR_ERANGE, "tsr_calloc: %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = tsr_malloc(bytes);
    if (p) __builtin_memset(p, 0, bytes);
    return p;
}

void tsr_free(void *ptr) { free(ptr); }

/* Physical memory in bytes, 0 if unknown. */
/* Read once: sysconf(_SC_PHYS_PAGES) is a syscall, and tsr_malloc sits on per-call paths. */
static double g_physical_memory = -1;
static pthread_once_t g_physical_once = PTHREAD_ONCE_INIT;
static void read_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    g_physical_memory = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}
static double physical_memory(void) {
    pthread_once(&g_physical_once, read_physical_memory);
    return g_physical_memory;
}

bool tsr_alloc_fits(double bytes) {
    double phys = physical_memory();
    return phys == 0 || bytes <= phys / 2;
}

tsr_status tsr_check_alloc(const char *fn, const char *what, double bytes) {
    if (tsr_alloc_fits(bytes)) return TSR_OK;
    return tsr_error(TSR_ENOMEM, "%s: %s needs %.3g GB, more than half of this machine's %.3g GB of memory", fn, what,
                     bytes / 1e9, physical_memory() / 1e9);
}
