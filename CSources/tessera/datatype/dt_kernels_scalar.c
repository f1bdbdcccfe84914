/*
 * dt_kernels_scalar.c — the reference table of the pack microkernels: the portable bodies
 * of dt_kernels_body.h. Every slot filled; TESSERA_ISA=scalar.
 */
#include "dt_kernels_body.h"

static void pack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    dt_pack_strided_body(packed, mem, B, s, m);
}

static void unpack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    dt_unpack_strided_body(packed, mem, B, s, m);
}

static void pack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off, const int64_t *len,
                          int64_t nseg, int64_t body) {
    dt_pack_segments_body(packed, mem, s, m, off, len, nseg, body);
}

static void unpack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off, const int64_t *len,
                            int64_t nseg, int64_t body) {
    dt_unpack_segments_body(packed, mem, s, m, off, len, nseg, body);
}

const dt_kernels dt_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .pack_strided = pack_strided,
    .unpack_strided = unpack_strided,
    .pack_segments = pack_segments,
    .unpack_segments = unpack_segments,
};
