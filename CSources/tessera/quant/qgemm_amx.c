/*
 * AMX-INT8 path of the integer qgemm kernel, for blocks of 16 activation rows.
 * TDPBSUD multiplies a tile of 16 signed int8 activation rows (A: 16 × ks bytes, read
 * in place from the activation buffer) by the unsigned weights in VNNI layout (B: ks/4
 * rows of 16 lanes × 4 k) — which is exactly the packed panel chunk layout (8-bit: used
 * in place; 4-bit: each chunk splits into its low and high nibble planes = two B rows).
 * The int32 group sums it produces are the same exact integers as vpdpbusd's, and the
 * float step is the shared epilogue, so results are bit-identical to the VNNI kernel
 * (and so batch invariant across the M = 1 VNNI / M >= 16 AMX switch). Two-level (K-quant)
 * plans, whose sums fold per super-block, are handed to the VNNI kernel whole.
 * Linux needs a one-time arch_prctl(ARCH_REQ_XCOMP_PERM) to use the tile data state;
 * TESSERA_QUANT_AMX=0 disables this path.
 */
#include "quant_internal.h"

#if TSR_X86 && defined(__linux__)
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "qgemm_epilogue512.h"

#define AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))

static int amx_ok = 0;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_init(void) {
    const tsr_cpu_features *f = tsr_cpu();
    if (!f->amx_tile || !f->amx_int8 || !f->avx512_vnni) return;
    const char *e = tsr_getenv("TESSERA_QUANT_AMX");
    if (e && e[0] == '0') return;
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) return;
    amx_ok = 1;
}

int tsr_qamx_available(void) {
    pthread_once(&amx_once, amx_init);
    return amx_ok;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

/*
 * Up to 256 activation rows (a multiple of 16) × one panel. Per group: the weights become
 * B tiles once (tmm6, tmm7 for the two 64-k steps of g = 128), then groups of up to four
 * 16-row blocks accumulate in C tiles tmm0..3 with A tiles alternating in tmm4/tmm5; the
 * float accumulators live in `accm` (L1-resident), updated by the shared epilogue.
 */
#define AMX_DP(C, A, B) _tile_dpbsud(C, A, B)

AMX static void amx_rows(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mrows, const int8_t *act,
                         int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias,
                         int32_t nvalid, __m512 *accm) {
    const int g = d->group, ng = d->ngroups, ks = g < 64 ? g : 64, steps = g / ks;
    const int nblk = (int)(mrows / 16);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    _Alignas(64) uint8_t bbuf[2][1024];
    _Alignas(64) int32_t cbuf[4][256];
    for (int64_t m = 0; m < mrows; m++) accm[m] = _mm512_setzero_ps();
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        for (int st = 0; st < steps; st++) {
            const uint8_t *b;
            if (d->bits == 4) {
                const uint8_t *src = rec + 64 * (st * ks / 8);
                for (int j = 0; j < ks / 8; j++) {
                    const __m512i w = _mm512_loadu_si512((const void *)(src + 64 * j));
                    __m512i lo = _mm512_and_si512(w, m4), hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
                    if (d->hbits) {  /* complete the codes from the high plane */
                        lo = _mm512_or_si512(lo, tsr_qhplane512(d, rec, st * ks / 8 + j, 0));
                        hi = _mm512_or_si512(hi, tsr_qhplane512(d, rec, st * ks / 8 + j, 1));
                    }
                    if (d->lut) {  /* or look them up */
                        lo = _mm512_shuffle_epi8(tsr_qlut512(d), lo);
                        hi = _mm512_shuffle_epi8(tsr_qlut512(d), hi);
                    }
                    _mm512_store_si512((void *)(bbuf[st] + 128 * j), lo);
                    _mm512_store_si512((void *)(bbuf[st] + 128 * j + 64), hi);
                }
                b = bbuf[st];
            } else {
                b = rec + 64 * (st * ks / 4);
            }
            if (st == 0) _tile_loadd(6, b, 64); else _tile_loadd(7, b, 64);
        }
        for (int b0 = 0; b0 < nblk; b0 += 4) {
            const int nb = nblk - b0 < 4 ? nblk - b0 : 4;
            const int8_t *a0 = ag + (int64_t)b0 * 16 * as;
            const int64_t a16 = 16 * as;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            for (int st = 0; st < steps; st++) {
                const int8_t *a = a0 + st * ks;
                /* A tiles alternate between tmm4 and tmm5 so loads overlap the products */
                _tile_loadd(4, a, as);
                if (st == 0) AMX_DP(0, 4, 6); else AMX_DP(0, 4, 7);
                if (nb > 1) { _tile_loadd(5, a + a16, as); if (st == 0) AMX_DP(1, 5, 6); else AMX_DP(1, 5, 7); }
                if (nb > 2) { _tile_loadd(4, a + 2 * a16, as); if (st == 0) AMX_DP(2, 4, 6); else AMX_DP(2, 4, 7); }
                if (nb > 3) { _tile_loadd(5, a + 3 * a16, as); if (st == 0) AMX_DP(3, 5, 6); else AMX_DP(3, 5, 7); }
            }
            _tile_stored(0, cbuf[0], 64);
            if (nb > 1) _tile_stored(1, cbuf[1], 64);
            if (nb > 2) _tile_stored(2, cbuf[2], 64);
            if (nb > 3) _tile_stored(3, cbuf[3], 64);
            for (int q = 0; q < nb; q++) {
                __m512i is[16];
                for (int m = 0; m < 16; m++) is[m] = _mm512_load_si512((const void *)(cbuf[q] + 16 * m));
                const int64_t m0 = (int64_t)(b0 + q) * 16;
                tsr_qepilogue512(d, rec, 16, is, meta + m0 * ng + gi, ng, accm + m0);
            }
        }
    }
    const __mmask16 km = (__mmask16)((1u << nvalid) - 1u);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(km, bias) : _mm512_setzero_ps();
    for (int64_t m = 0; m < mrows; m++)
        _mm512_mask_storeu_ps(y + m * ldy, km, bias ? _mm512_add_ps(accm[m], bv) : accm[m]);
}

AMX static void qpanel_amx(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                           int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    /* Two-level (K-quant) plans fold their group sums per super-block (quant_internal.h); this
     * kernel applies the float step per group, so they run on the VNNI kernel, whose bits they
     * define. (Not measurable on the Zen 4 machines of round 8, which have no AMX.) */
    const int64_t full = d->two_level ? 0 : mt / 16 * 16;
    if (full > 0) {
        const int ks = d->group < 64 ? d->group : 64;
        amx_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        for (int t = 0; t < 4; t++) { cfg.rows[t] = 16; cfg.colsb[t] = 64; }       /* C: 16 × 16 int32 */
        for (int t = 4; t < 6; t++) { cfg.rows[t] = 16; cfg.colsb[t] = (uint16_t)ks; } /* A: 16 rows × ks int8 */
        for (int t = 6; t < 8; t++) { cfg.rows[t] = (uint8_t)(ks / 4); cfg.colsb[t] = 64; } /* B: VNNI quads */
        _tile_loadconfig(&cfg);
        _Alignas(64) __m512 accm[256];
        for (int64_t m0 = 0; m0 < full; m0 += 256) {
            const int64_t rows = full - m0 < 256 ? full - m0 : 256;
            amx_rows(d, panel, rows, act + m0 * as, as, meta + m0 * d->ngroups, y + m0 * ldy, ldy, bias, nvalid, accm);
        }
        _tile_release();
    }
    if (mt > full)
        tsr_qkernel_avx512vnni(d, panel, mt - full, act + full * as, as, meta + full * d->ngroups, y + full * ldy, ldy,
                               bias, nvalid);
}

/* Override: the integer panel at AVX-512 when AMX-INT8 may be used (act and the M = 1 pair
 * stay the VNNI ones, listed before this table). */
const tsr_qgemm_kernels tsr_qgemm_kernels_amx = {
    .head = {"amx", TSR_ISA_AVX512, tsr_qamx_available},
    .int_name = "avx512vnni+amx-int8",
    .qpanel = qpanel_amx,
};
#else
int tsr_qamx_available(void) { return 0; }
#if TSR_X86
const tsr_qgemm_kernels tsr_qgemm_kernels_amx = {.head = {"amx", TSR_ISA_AVX512, tsr_qamx_available}};
#endif
#endif
