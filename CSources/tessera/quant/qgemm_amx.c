/*
 * AMX-INT8 path of the integer qgemm kernel, for blocks of 16 activation rows.
 * TDPBSUD multiplies a tile of 16 signed int8 activation rows (A: 16 × ks bytes, read
 * in place from the activation buffer) by the unsigned weights in VNNI layout (B: ks/4
 * rows of 16 lanes × 4 k) — which is exactly the packed panel chunk layout (8-bit: used
 * in place; 4-bit: each chunk splits into its low and high nibble planes = two B rows).
 * The int32 group sums it produces are the same exact integers as vpdpbusd's, and the
 * float step is the shared epilogue, so results are bit-identical to the VNNI kernel
 * (and so batch invariant across the M = 1 VNNI / M >= 16 AMX switch).
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

/* 16 activation rows × one panel. Tiles: 0 = C (16 × 16 int32), 1 = A, 2 = B. */
AMX static void amx16(const tsr_qkernel_desc *d, const uint8_t *panel, const int8_t *act, int64_t as,
                      const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias, int32_t nvalid,
                      uint8_t *bbuf, int32_t *cbuf) {
    const int g = d->group, ng = d->ngroups, ks = g < 64 ? g : 64, steps = g / ks;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512 acc[16];
    for (int m = 0; m < 16; m++) acc[m] = _mm512_setzero_ps();
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        _tile_zero(0);
        for (int st = 0; st < steps; st++) {
            const uint8_t *b;
            if (d->bits == 4) {
                const uint8_t *src = rec + 64 * (st * ks / 8);
                for (int j = 0; j < ks / 8; j++) {
                    const __m512i w = _mm512_loadu_si512((const void *)(src + 64 * j));
                    _mm512_store_si512((void *)(bbuf + 128 * j), _mm512_and_si512(w, m4));
                    _mm512_store_si512((void *)(bbuf + 128 * j + 64), _mm512_and_si512(_mm512_srli_epi16(w, 4), m4));
                }
                b = bbuf;
            } else {
                b = rec + 64 * (st * ks / 4);
            }
            _tile_loadd(1, ag + st * ks, as);
            _tile_loadd(2, b, 64);
            _tile_dpbsud(0, 1, 2);
        }
        _tile_stored(0, cbuf, 64);
        __m512i is[16];
        for (int m = 0; m < 16; m++) is[m] = _mm512_load_si512((const void *)(cbuf + 16 * m));
        tsr_qepilogue512(d, rec, 16, is, meta + gi, ng, acc);
    }
    const __mmask16 km = (__mmask16)((1u << nvalid) - 1u);
    const __m512 bv = bias ? _mm512_maskz_loadu_ps(km, bias) : _mm512_setzero_ps();
    for (int m = 0; m < 16; m++) _mm512_mask_storeu_ps(y + m * ldy, km, bias ? _mm512_add_ps(acc[m], bv) : acc[m]);
}

AMX void tsr_qkernel_amx(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act, int64_t as,
                         const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    const int64_t full = mt / 16 * 16;
    if (full > 0) {
        const int ks = d->group < 64 ? d->group : 64;
        amx_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette = 1;
        cfg.rows[0] = 16; cfg.colsb[0] = 64;                  /* C: 16 rows × 16 int32 */
        cfg.rows[1] = 16; cfg.colsb[1] = (uint16_t)ks;        /* A: 16 rows × ks int8 */
        cfg.rows[2] = (uint8_t)(ks / 4); cfg.colsb[2] = 64;   /* B: ks/4 quads × 16 lanes × 4 */
        _tile_loadconfig(&cfg);
        _Alignas(64) uint8_t bbuf[1024];
        _Alignas(64) int32_t cbuf[256];
        for (int64_t m0 = 0; m0 < full; m0 += 16)
            amx16(d, panel, act + m0 * as, as, meta + m0 * d->ngroups, y + m0 * ldy, ldy, bias, nvalid, bbuf, cbuf);
        _tile_release();
    }
    if (mt > full)
        tsr_qkernel_avx512vnni(d, panel, mt - full, act + full * as, as, meta + full * d->ngroups, y + full * ldy, ldy,
                               bias, nvalid);
}
#else
int tsr_qamx_available(void) { return 0; }
#endif
