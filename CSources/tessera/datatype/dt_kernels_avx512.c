/*
 * dt_kernels_avx512.c — AVX-512 override of the pack microkernels (every slot): qword permutes
 * for 8-byte blocks at short strides, 128/256-bit lanes gathered into full 64-byte stores for
 * 16/32-byte blocks (pack), gathers/scatters for 4- and 8-byte blocks,
 * two overlapping unmasked moves for other blocks of 9..64 bytes, one masked 64-byte move
 * for smaller blocks and for segments, 64-byte moves plus a masked tail for wide blocks.
 * Runs that pack more than a quarter of the L3 write the lanes, permute and 8-byte gather
 * results with streaming stores (stream_head below).
 */
#include <string.h>

#include "dt_kernels_body.h"

#if TSR_X86
#include <immintrin.h>

/* Far strides prefetch PFD blocks ahead (dt_kernels_body.h) into L2 (T1): a cold 3-D face reads
 * one line per block, and T1 at distance 48 measured 25-30 % faster cold than T0 at 16 on Zen 4. */
#define PF(p) _mm_prefetch((const char *)(p), _MM_HINT_T1)

static inline __mmask64 TSR_TARGET_AVX512 tail_mask(int64_t n) {
    return n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
}

/* One 64-byte store of packed output: streaming (non-temporal, `nt`, d 64-byte aligned) or not. */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) void store64(char *d, __m512i v, int nt) {
    if (nt) _mm512_stream_si512((void *)d, v);
    else _mm512_storeu_si512(d, v);
}

TSR_TARGET_AVX512 static inline void copy_masked(char *d, const char *s, __mmask64 k) {
    _mm512_mask_storeu_epi8(d, k, _mm512_maskz_loadu_epi8(k, s));
}

/* n bytes, 8 < n <= 64, as two possibly overlapping unmasked moves of the largest power
 * of two not above n (the classic memcpy tail): exactly bytes [0, n) are read and written.
 * Faster than one byte-masked 64-byte move on Zen 4: the 24-byte runs of a 3-layer z-face
 * (256^3 doubles, one thread) pack in 0.37-0.38 ms instead of 0.58-0.63 ms hot, 0.91 instead
 * of 1.22 ms cold (bench_pack, alternated with MPI_Pack). */
TSR_TARGET_AVX512 static inline void copy_two(char *d, const char *s, int64_t n) {
    if (n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8); memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8); memcpy(d + n - 8, &b, 8);
    } else if (n <= 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)s), b = _mm_loadu_si128((const __m128i *)(s + n - 16));
        _mm_storeu_si128((__m128i *)d, a);
        _mm_storeu_si128((__m128i *)(d + n - 16), b);
    } else {
        __m256i a = _mm256_loadu_si256((const __m256i *)s), b = _mm256_loadu_si256((const __m256i *)(s + n - 32));
        _mm256_storeu_si256((__m256i *)d, a);
        _mm256_storeu_si256((__m256i *)(d + n - 32), b);
    }
}

TSR_TARGET_AVX512 static inline void copy_wide(char *d, const char *s, int64_t n) {
    int64_t o = 0;
    for (; o + 256 <= n; o += 256) {
        __m512i a = _mm512_loadu_si512(s + o), b = _mm512_loadu_si512(s + o + 64);
        __m512i c = _mm512_loadu_si512(s + o + 128), e = _mm512_loadu_si512(s + o + 192);
        _mm512_storeu_si512(d + o, a);
        _mm512_storeu_si512(d + o + 64, b);
        _mm512_storeu_si512(d + o + 128, c);
        _mm512_storeu_si512(d + o + 192, e);
    }
    for (; o + 64 <= n; o += 64) _mm512_storeu_si512(d + o, _mm512_loadu_si512(s + o));
    if (o < n) copy_masked(d + o, s + o, tail_mask(n - o));
}

/*
 * Byte compress/expand (AVX512-VBMI2): several small blocks share one 64-byte window, or a
 * whole record fits in one. One masked load, one vpcompressb, one masked store moves them
 * all; unpack is the mirror (vpexpandb + masked store, which leaves the holes untouched).
 */
#define DT_TARGET_VBMI2 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,bmi2")))

static int has_vbmi2(void) {
    static int v = -1;
    if (v < 0) v = __builtin_cpu_supports("avx512vbmi2") ? 1 : 0;
    return v;
}

/* Blocks of B bytes at stride s, s | 64, B < s: the selection mask of one window. */
static inline uint64_t window_mask(int64_t B, int64_t s) {
    uint64_t m = 0, blk = (B >= 64) ? ~0ull : ((1ull << B) - 1);
    for (int64_t o = 0; o < 64; o += s) m |= blk << o;
    return m;
}

DT_TARGET_VBMI2 static int64_t pack_window(char *packed, const char *mem, int64_t B, int64_t s, int64_t m) {
    const int64_t k = 64 / s;
    const __mmask64 sel = window_mask(B, s), ld = tail_mask((k - 1) * s + B), st = tail_mask(k * B);
    int64_t i = 0;
    for (; i + k <= m; i += k) {
        __m512i v = _mm512_maskz_loadu_epi8(ld, mem + i * s);
        _mm512_mask_storeu_epi8(packed + i * B, st, _mm512_maskz_compress_epi8(sel, v));
    }
    return i;
}

DT_TARGET_VBMI2 static int64_t unpack_window(const char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const int64_t k = 64 / s;
    const __mmask64 sel = window_mask(B, s), st = tail_mask(k * B);
    int64_t i = 0;
    for (; i + k <= m; i += k) {
        __m512i v = _mm512_maskz_loadu_epi8(st, packed + i * B);
        _mm512_mask_storeu_epi8(mem + i * s, sel, _mm512_maskz_expand_epi8(sel, v));
    }
    return i;
}

/* Records whose segments ascend inside one 64-byte span: their byte mask, or 0. */
static uint64_t record_mask(const int64_t *off, const int64_t *len, int64_t nseg) {
    uint64_t m = 0;
    int64_t end = 0;
    for (int64_t j = 0; j < nseg; j++) {
        if (off[j] < end || off[j] + len[j] > 64) return 0;
        m |= (len[j] >= 64 ? ~0ull : ((1ull << len[j]) - 1)) << off[j];
        end = off[j] + len[j];
    }
    return m;
}

DT_TARGET_VBMI2 static void pack_records(char *packed, const char *mem, int64_t s, int64_t m, uint64_t sel,
                                         int64_t body) {
    const __mmask64 st = tail_mask(body);
    for (int64_t i = 0; i < m; i++, mem += s)
        _mm512_mask_storeu_epi8(packed + i * body, st, _mm512_maskz_compress_epi8(sel, _mm512_maskz_loadu_epi8(sel, mem)));
}

DT_TARGET_VBMI2 static void unpack_records(const char *packed, char *mem, int64_t s, int64_t m, uint64_t sel,
                                           int64_t body) {
    const __mmask64 ld = tail_mask(body);
    for (int64_t i = 0; i < m; i++, mem += s)
        _mm512_mask_storeu_epi8(mem, sel, _mm512_maskz_expand_epi8(sel, _mm512_maskz_loadu_epi8(ld, packed + i * body)));
}

/*
 * Qword permutes: blocks of 8 bytes at a stride s (a multiple of 8) such that the
 * 64/B blocks of one 64-byte output span at most 128 source bytes ((64/B - 1) s + B <= 128).
 * Two loads (the second masked to the window's last block, so nothing past it is read), one
 * vpermt2q and one full store move 64 packed bytes: a copy-speed path with no per-block work.
 * Unpack is the mirror: two vpermq and two masked stores that leave the gaps untouched.
 */
typedef struct qperm { __m512i idx, inv0, inv1; __mmask8 ld1, st0, st1; int64_t k; } qperm;

static inline int qperm_ok(int64_t B, int64_t s, int64_t m) {
    if (B != 8 || s <= B || (s & 7)) return 0;
    const int64_t k = 64 / B;
    return (k - 1) * s + B <= 128 && m >= k;
}

TSR_TARGET_AVX512 static qperm qperm_make(int64_t B, int64_t s) {
    qperm q;
    int64_t src[8], inv[16];
    const int64_t k = 64 / B, w = B / 8, end = ((k - 1) * s + B) / 8;
    for (int j = 0; j < 16; j++) inv[j] = 0;
    uint32_t used = 0;
    for (int64_t j = 0; j < 8; j++) {
        src[j] = (j / w) * (s / 8) + j % w;  /* source qword of packed qword j */
        inv[src[j]] = j;
        used |= 1u << src[j];
    }
    q.idx = _mm512_set_epi64(src[7], src[6], src[5], src[4], src[3], src[2], src[1], src[0]);
    q.inv0 = _mm512_set_epi64(inv[7], inv[6], inv[5], inv[4], inv[3], inv[2], inv[1], inv[0]);
    q.inv1 = _mm512_set_epi64(inv[15], inv[14], inv[13], inv[12], inv[11], inv[10], inv[9], inv[8]);
    q.ld1 = (__mmask8)((1u << (end - 8)) - 1);
    q.st0 = (__mmask8)(used & 0xff);
    q.st1 = (__mmask8)(used >> 8);
    q.k = k;
    return q;
}

TSR_TARGET_AVX512 static inline __attribute__((always_inline)) int64_t pack_qperm(char *packed, const char *mem, int64_t B,
                                                                                  int64_t s, int64_t m, int nt) {
    const qperm q = qperm_make(B, s);
    const int64_t k = q.k, step = k * s;
    int64_t i = 0;
    for (; i + 2 * k <= m; i += 2 * k, mem += 2 * step) {
        __m512i a0 = _mm512_loadu_si512(mem), b0 = _mm512_maskz_loadu_epi64(q.ld1, mem + 64);
        __m512i a1 = _mm512_loadu_si512(mem + step), b1 = _mm512_maskz_loadu_epi64(q.ld1, mem + step + 64);
        store64(packed + i * B, _mm512_permutex2var_epi64(a0, q.idx, b0), nt);
        store64(packed + (i + k) * B, _mm512_permutex2var_epi64(a1, q.idx, b1), nt);
    }
    for (; i + k <= m; i += k, mem += step) {
        __m512i a = _mm512_loadu_si512(mem), b = _mm512_maskz_loadu_epi64(q.ld1, mem + 64);
        store64(packed + i * B, _mm512_permutex2var_epi64(a, q.idx, b), nt);
    }
    return i;
}

TSR_TARGET_AVX512 static int64_t unpack_qperm(const char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const qperm q = qperm_make(B, s);
    const int64_t k = q.k, step = k * s;
    int64_t i = 0;
    for (; i + k <= m; i += k, mem += step) {
        __m512i v = _mm512_loadu_si512(packed + i * B);
        _mm512_mask_storeu_epi64(mem, q.st0, _mm512_permutexvar_epi64(q.inv0, v));
        _mm512_mask_storeu_epi64(mem + 64, q.st1, _mm512_permutexvar_epi64(q.inv1, v));
    }
    return i;
}

/*
 * 16- and 32-byte blocks at any stride: 64/B blocks loaded as 128/256-bit lanes into one
 * register, one full 64-byte store. A 1 MiB pack of 16-byte blocks at stride 32 from L3 reads
 * 3 MiB through the L2 (2 MiB source + 1 MiB destination fill); this form reaches that bound:
 * 32.0 us against 35.8 us for one 16-byte move per block and 33.2 us for a two-line qword
 * permute (stand-alone loop, same cache state, 41 alternated rounds, load 14).
 */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) int64_t pack_lanes(char *packed, const char *mem, int64_t B,
                                                                                  int64_t s, int64_t m, int pf, int nt) {
    int64_t i = 0;
    if (B == 16) {
        for (; i + 4 <= m; i += 4) {
            const char *p = mem + i * s;
            if (pf) for (int u = 0; u < 4; u++) PF(p + (PFD + u) * s);
            __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)p));
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + s)), 1);
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * s)), 2);
            v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * s)), 3);
            store64(packed + i * 16, v, nt);
        }
    } else {
        for (; i + 2 <= m; i += 2) {
            const char *p = mem + i * s;
            if (pf) for (int u = 0; u < 2; u++) PF(p + (PFD + u) * s);
            __m512i v = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p));
            v = _mm512_inserti64x4(v, _mm256_loadu_si256((const __m256i *)(p + s)), 1);
            store64(packed + i * 32, v, nt);
        }
    }
    return i;
}

static inline int window_ok(int64_t B, int64_t s, int64_t m) {
    return s > B && s <= 32 && (64 % s) == 0 && m >= 64 / s && has_vbmi2();
}

/* 8-byte blocks at any stride |s| <= 2^40: one 8-lane gather, one 64-byte store. */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) int64_t pack_gather8(char *packed, const char *mem, int64_t s,
                                                                                    int64_t m, int pf, int nt) {
    const __m512i idx = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(s));
    int64_t i = 0;
    for (; i + 8 <= m; i += 8) {
        if (pf) for (int u = 0; u < 8; u++) PF(mem + (i + PFD + u) * s);
        store64(packed + i * 8, _mm512_i64gather_epi64(idx, (const void *)(mem + i * s), 1), nt);
    }
    return i;
}

/*
 * Streaming stores for long runs (dt_stream_min_bytes, dt_internal.h). They need 64-byte aligned
 * destinations: the first blocks up to the first aligned one are copied one by one (at most
 * 64/B - 1 of them; a destination that never aligns, B not dividing its offset, keeps normal
 * stores). Measured on the 2-core Zen 4 box, 16-byte blocks at stride 32, repeated packs into
 * two alternating destinations, one thread: 1-2 MiB packed is 1.4x slower with streaming
 * stores (46 vs 33 us per MiB) and reading the result back is 2x slower (it comes from DRAM);
 * at 4 MiB the pack gains 12 % but pack + read loses 38 %; from 8 MiB (a quarter of the L3) the
 * pack takes 0.67-0.72x the time and pack + read 0.75-0.86x.
 */
static int64_t stream_head(const char *packed, int64_t B, int64_t m) {
    if (m * B < DT_STREAM_MIN_RUN || m * B < dt_stream_min_bytes()) return -1;
    for (int64_t i = 0; i < 64 && i < m; i++)
        if (((uintptr_t)(packed + i * B) & 63) == 0) return i;
    return -1;
}

TSR_TARGET_AVX512 static void pack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const int pf = s >= 128 || s <= -128;
    int64_t i = 0;
    const int full_stores = ((B == 16 || B == 32) && (s > B || s < -B)) || qperm_ok(B, s, m) ||
                            (B == 8 && !window_ok(B, s, m) && s >= -(1ll << 40) && s <= (1ll << 40));
    const int64_t h = full_stores ? stream_head(packed, B, m) : -1;
    if (h >= 0) {
        /* the same kernels from the first aligned block, with streaming stores */
        for (; i < h; i++) memcpy(packed + i * B, mem + i * s, (size_t)B);
        char *pk = packed + h * B, *mm = mem + h * s;
        const int64_t n = m - h;
        int64_t j;
        if (B == 16 || B == 32) j = pack_lanes(pk, mm, B, s, n, pf, 1);
        else if (qperm_ok(B, s, n)) j = pack_qperm(pk, mm, B, s, n, 1);
        else j = pack_gather8(pk, mm, s, n, pf, 1);
        _mm_sfence();  /* streaming stores are weakly ordered: done before the caller (or pool) sees them */
        for (; j < n; j++) memcpy(pk + j * B, mm + j * s, (size_t)B);
        return;
    }
    if ((B == 16 || B == 32) && (s > B || s < -B)) {
        i = pack_lanes(packed, mem, B, s, m, pf, 0);
        for (; i < m; i++) memcpy(packed + i * B, mem + i * s, (size_t)B);
        return;
    }
    if (qperm_ok(B, s, m)) {
        i = pack_qperm(packed, mem, B, s, m, 0);
        for (; i < m; i++) memcpy(packed + i * B, mem + i * s, (size_t)B);
        return;
    }
    if (window_ok(B, s, m)) {
        i = pack_window(packed, mem, B, s, m);
        for (; i < m; i++) memcpy(packed + i * B, mem + i * s, (size_t)B);
        return;
    }
    if (B == 8 && s >= -(1ll << 40) && s <= (1ll << 40)) {
        i = pack_gather8(packed, mem, s, m, pf, 0);
        for (; i < m; i++) memcpy(packed + i * 8, mem + i * s, 8);
        return;
    }
    if (B == 4 && s >= -(1ll << 40) && s <= (1ll << 40)) {
        const __m512i idx = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(s));
        for (; i + 8 <= m; i += 8) {
            if (pf) for (int u = 0; u < 8; u++) PF(mem + (i + PFD + u) * s);
            __m256i v = _mm512_i64gather_epi32(idx, (const void *)(mem + i * s), 1);
            _mm256_storeu_si256((__m256i *)(packed + i * 4), v);
        }
        for (; i < m; i++) memcpy(packed + i * 4, mem + i * s, 4);
        return;
    }
    if (B > 8 && B <= 64) {
        for (; i < m; i++) {
            if (pf) PF(mem + (i + PFD) * s);
            copy_two(packed + i * B, mem + i * s, B);
        }
        return;
    }
    if (B <= 64) {
        const __mmask64 k = tail_mask(B);
        for (; i < m; i++) {
            if (pf) PF(mem + (i + PFD) * s);
            copy_masked(packed + i * B, mem + i * s, k);
        }
        return;
    }
    for (; i < m; i++) {
        if (pf) PF(mem + (i + 4) * s);
        copy_wide(packed + i * B, mem + i * s, B);
    }
}

TSR_TARGET_AVX512 static void unpack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const int pf = s >= 128 || s <= -128;
    int64_t i = 0;
    if ((B == 16 || B == 32) && (s > B || s < -B)) {
        dt_unpack_strided_body(packed, mem, B, s, m);
        return;
    }
    if (qperm_ok(B, s, m)) {
        i = unpack_qperm(packed, mem, B, s, m);
        for (; i < m; i++) memcpy(mem + i * s, packed + i * B, (size_t)B);
        return;
    }
    if (window_ok(B, s, m)) {
        i = unpack_window(packed, mem, B, s, m);
        for (; i < m; i++) memcpy(mem + i * s, packed + i * B, (size_t)B);
        return;
    }
    if (B == 8 && s >= -(1ll << 40) && s <= (1ll << 40) && (s >= 8 || s <= -8)) {
        /* scatter lanes must not overlap (|s| >= 8), or later lanes would win arbitrarily */
        const __m512i idx = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi64(s));
        for (; i + 8 <= m; i += 8) {
            if (pf) for (int u = 0; u < 8; u++) PF(mem + (i + PFD + u) * s);
            _mm512_i64scatter_epi64((void *)(mem + i * s), idx, _mm512_loadu_si512(packed + i * 8), 1);
        }
        for (; i < m; i++) memcpy(mem + i * s, packed + i * 8, 8);
        return;
    }
    if (B > 8 && B <= 64) {
        for (; i < m; i++) {
            if (pf) PF(mem + (i + PFD) * s);
            copy_two(mem + i * s, packed + i * B, B);
        }
        return;
    }
    if (B <= 64) {
        const __mmask64 k = tail_mask(B);
        for (; i < m; i++) {
            if (pf) PF(mem + (i + PFD) * s);
            copy_masked(mem + i * s, packed + i * B, k);
        }
        return;
    }
    for (; i < m; i++) {
        if (pf) PF(mem + (i + 4) * s);
        copy_wide(mem + i * s, packed + i * B, B);
    }
}

TSR_TARGET_AVX512 static void pack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off,
                                            const int64_t *len, int64_t nseg, int64_t body) {
    uint64_t sel = nseg <= 64 && has_vbmi2() ? record_mask(off, len, nseg) : 0;
    if (sel) { pack_records(packed, mem, s, m, sel, body); return; }
    for (int64_t i = 0; i < m; i++, mem += s) {
        char *p = packed + i * body;
        for (int64_t j = 0; j < nseg; j++) {
            copy_masked(p, mem + off[j], tail_mask(len[j]));
            p += len[j];
        }
    }
}

TSR_TARGET_AVX512 static void unpack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off,
                                              const int64_t *len, int64_t nseg, int64_t body) {
    uint64_t sel = nseg <= 64 && has_vbmi2() ? record_mask(off, len, nseg) : 0;
    if (sel) { unpack_records(packed, mem, s, m, sel, body); return; }
    for (int64_t i = 0; i < m; i++, mem += s) {
        const char *p = packed + i * body;
        for (int64_t j = 0; j < nseg; j++) {
            copy_masked(mem + off[j], p, tail_mask(len[j]));
            p += len[j];
        }
    }
}

const dt_kernels dt_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .pack_strided = pack_strided,
    .unpack_strided = unpack_strided,
    .pack_segments = pack_segments,
    .unpack_segments = unpack_segments,
};
#endif
