/* Builds the per-ISA kernel tables of an area (the pattern of tsr_kernels.h). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "tsr_kernels.h"

static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;

void tsr_kernels_build(tsr_kernel_registry *r) {
    pthread_mutex_lock(&build_lock);
    if (!atomic_load_explicit(&r->built, memory_order_relaxed)) {
        const tsr_isa top = tsr_isa_supported();
        char *t = r->tables;
        memcpy(t, r->reference, r->table_bytes);
        for (int isa = 1; isa < TSR_ISA_COUNT; isa++) {
            char *level = t + (size_t)isa * r->table_bytes;
            memcpy(level, level - r->table_bytes, r->table_bytes);
            tsr_kernel_head *h = (tsr_kernel_head *)(void *)level;
            h->isa = (tsr_isa)isa;
            if (isa > (int)top) continue;  /* never selected; stays the supported level */
            for (const void *const *o = r->overrides; o && *o; o++) {
                const tsr_kernel_head *oh = *o;
                if ((int)oh->isa != isa || (oh->usable && !oh->usable())) continue;
                r->overlay(level, *o);
                h->name = oh->name;
            }
        }
        if (tsr_getenv("TESSERA_ISA_DEBUG")) {
            for (int isa = 0; isa <= (int)top; isa++)
                fprintf(stderr, "tessera: %s kernels at %s: %s\n", r->area, tsr_isa_name((tsr_isa)isa),
                        ((const tsr_kernel_head *)(const void *)(t + (size_t)isa * r->table_bytes))->name);
        }
        atomic_store_explicit(&r->built, 1, memory_order_release);
    }
    pthread_mutex_unlock(&build_lock);
}
