/*
 * tsr_kernels.h — the one kernel-selection pattern of every area (docs/KERNELS.md). Not public.
 *
 *   <area>_internal.h   typedef struct <area>_kernels { tsr_kernel_head head; slots... }
 *                        — microkernel pointers, each slot's contract written next to it
 *   <area>_scalar.c      the reference table: every slot filled, plain C, the oracle
 *   <area>_avx2.c, ...   override tables: only the slots that ISA accelerates; NULL = inherit
 *   <area> driver (.c)   the tile loops and schedules, and the one selector:
 *
 *       static const void *const overrides[] = { &x_avx2, &x_avx512, NULL };
 *       static x_kernels tables[TSR_ISA_COUNT];
 *       static tsr_kernel_registry registry =
 *           TSR_KERNEL_REGISTRY("x", x_kernels, &x_ref, overrides, overlay, tables);
 *       const x_kernels *K = tsr_kernels_select(&registry, tsr_isa_active());
 *
 * tsr_kernels_select builds the table of every ISA level once (on first use, thread-safe):
 * level SCALAR is the reference; level L starts as a copy of level L - 1 and then takes,
 * in list order, the non-NULL slots of every override whose head.isa is L and whose
 * head.usable() (a further CPU feature: VNNI, AMX) answers 1. Levels above
 * tsr_isa_supported() stay copies of the supported level (never used: tsr_isa_active()
 * cannot exceed it). After that, a selection is one acquire load and an index.
 *
 * The call through a table happens at microkernel or tile level — never per element.
 */
#ifndef TSR_KERNELS_H
#define TSR_KERNELS_H

#include <stdatomic.h>

#include "tsr_internal.h"

/** First member of every kernel table. */
typedef struct tsr_kernel_head {
    const char *name;      /* "scalar", "avx2", "avx512", "avx512vnni", ... */
    tsr_isa isa;           /* level the override applies from (SCALAR for the reference) */
    int (*usable)(void);   /* NULL: always at `isa`; else a further CPU check, 1 = use it */
} tsr_kernel_head;

/** Copies the non-NULL slots of override `src` into table `dst` (one per area). */
typedef void (*tsr_kernel_overlay_fn)(void *dst, const void *src);

/** One area's tables and how to build them. */
typedef struct tsr_kernel_registry {
    const char *area;                  /* "attention", "qgemm", ... (TESSERA_ISA_DEBUG=1 lists the tables) */
    size_t table_bytes;                /* sizeof(<area>_kernels) */
    const void *reference;             /* the reference table */
    const void *const *overrides;      /* NULL-terminated, lowest ISA first */
    tsr_kernel_overlay_fn overlay;
    void *tables;                      /* TSR_ISA_COUNT tables, filled by the first select */
    _Atomic int built;
} tsr_kernel_registry;

#define TSR_KERNEL_REGISTRY(area, type, reference, overrides, overlay, tables) \
    {(area), sizeof(type), (reference), (overrides), (overlay), (tables), 0}

/** Takes slot `f` of override `src` into `dst` when the override fills it. */
#define TSR_KERNEL_INHERIT(dst, src, f) \
    do { if ((src)->f) (dst)->f = (src)->f; } while (0)

TSR_INTERNAL void tsr_kernels_build(tsr_kernel_registry *r);

/** The table of level `isa` (tsr_isa_active(), or a plan's recorded level). */
static inline const void *tsr_kernels_select(tsr_kernel_registry *r, tsr_isa isa) {
    if (TSR_UNLIKELY(!atomic_load_explicit(&r->built, memory_order_acquire))) tsr_kernels_build(r);
    if (TSR_UNLIKELY((unsigned)isa >= TSR_ISA_COUNT)) isa = TSR_ISA_SCALAR;
    return (const char *)r->tables + (size_t)isa * r->table_bytes;
}

#endif /* TSR_KERNELS_H */
