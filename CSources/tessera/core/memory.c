/* Aligned allocation. */
#include <stdlib.h>

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
