/*
 * fuzz_randproj.c — random projections: plan parameters (D, d, kind, s, seed — any
 * value, huge D·d included), entries, materialisation, and the dense and CSR
 * transforms on small inputs.
 *
 * Input: [D fz_i64][d fz_i64 (as int32)][kind byte % 3][s: byte (+fz_f32)][seed 8 bytes]
 *        [n byte][ldx pad][ldy pad][materialize mode][csr mode][data...]
 *
 * Properties:
 *   - tsr_rp_create refuses D < 1, d < 1, a bad kind, s < 1 (other than 0 = auto) or a
 *     non-finite s, and accepts everything else; describe matches the parameters;
 *   - tsr_rp_entry refuses indices out of range; entries are finite, and for the sparse
 *     kind are 0 or ±scale;
 *   - tsr_rp_materialize, asked for D·d <= 2^16 or for an R larger than this machine
 *     (D >= INT32_MAX, or the size estimate of randproj.h above 1.5 x physical memory),
 *     returns promptly: an error for the latter (refused before allocating: the
 *     campaign's malloc limit catches an attempt), and for the former a CSR view whose
 *     rows ascend and whose values are the entries;
 *   - dense transforms (D·d <= 2^16, n <= 8) match a float64 reference built from
 *     tsr_rp_entry (the tolerance of Tests/c/test_randproj.c) and leave the padding alone;
 *     materialised and not give the same result;
 *   - CSR transforms with sorted columns give the dense result bit for bit; with
 *     unsorted or repeated columns they match the reference (any D, 2^40 included:
 *     a CSR input is never densified); a column outside [0, D) gives TSR_ERANGE and a
 *     decreasing indptr TSR_EINVAL.
 */
#include <unistd.h>

#include "fuzz_common.h"

#define SMALL_DD (1 << 16)

typedef __int128 i128;

static double read_s(fz_in *in) {
    uint8_t b = fz_u8(in);
    switch (b % 8) {
    case 0: return TSR_RP_S_AUTO;
    case 1: return 1.0;
    case 2: return TSR_RP_S_ACHLIOPTAS;
    case 3: return (double)fz_f32(in);  /* anything: NaN, inf, 1e-40, -1, 3e38 */
    case 4: return 0.5;
    default: return 1.0 + (double)(b >> 3);
    }
}

/* Reference Y = X·R in float64 from tsr_rp_entry; returns |X|·|R| per output in mag. */
static void reference(const tsr_rp_t *rp, int64_t n, int64_t D, int32_t d, const double *x, int64_t ldx, double *ref,
                      double *mag) {
    double *R = malloc(sizeof(double) * (size_t)(D * d));
    for (int64_t j = 0; j < D; j++)
        for (int32_t k = 0; k < d; k++) FZ_CHECK(tsr_rp_entry(rp, j, k, &R[j * d + k]) == TSR_OK, "entry");
    for (int64_t i = 0; i < n; i++)
        for (int32_t k = 0; k < d; k++) {
            double r = 0, m = 0;
            for (int64_t j = 0; j < D; j++) {
                r += x[i * ldx + j] * R[j * d + k];
                m += fabs(x[i * ldx + j] * R[j * d + k]);
            }
            ref[i * d + k] = r;
            mag[i * d + k] = m;
        }
    free(R);
}

static void check_csr_view(const tsr_rp_t *rp, int64_t D, int32_t d, const tsr_rp_info *info) {
    const int64_t *indptr;
    const int32_t *idx;
    const float *v32;
    const double *v64;
    int64_t nnz;
    FZ_CHECK(tsr_rp_csr(rp, &indptr, &idx, &v32, &v64, &nnz) == TSR_OK, "csr view of a materialised plan");
    FZ_CHECK(indptr[0] == 0 && indptr[D] == nnz && nnz >= 0, "indptr[0] %lld indptr[D] %lld nnz %lld",
             (long long)indptr[0], (long long)indptr[D], (long long)nnz);
    for (int64_t j = 0; j < D; j++) {
        FZ_CHECK(indptr[j + 1] >= indptr[j], "indptr falls at row %lld", (long long)j);
        for (int64_t e = indptr[j]; e < indptr[j + 1]; e++) {
            FZ_CHECK(idx[e] >= 0 && idx[e] < d && (e == indptr[j] || idx[e] > idx[e - 1]),
                     "row %lld: column %d out of order or range", (long long)j, idx[e]);
            double want;
            FZ_CHECK(tsr_rp_entry(rp, j, idx[e], &want) == TSR_OK, "entry");
            FZ_CHECK(v64[e] == want && v32[e] == (float)want, "R[%lld,%d]: stored %g / %g, entry %g", (long long)j,
                     idx[e], v64[e], (double)v32[e], want);
            if (info->kind == TSR_RP_SPARSE) FZ_CHECK(want != 0.0, "R[%lld,%d]: a stored zero", (long long)j, idx[e]);
        }
    }
}

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = fz_make(data, size);
    const int64_t D = fz_i64(&in);
    const int64_t d64 = fz_i64(&in);
    const int32_t d = (int32_t)d64;
    tsr_rp_params p;
    tsr_rp_params_default(&p);
    p.kind = (tsr_rp_kind)(fz_u8(&in) % 3);
    p.s = read_s(&in);
    p.seed = fz_raw(&in, 8);
    const int valid = D >= 1 && d >= 1 && (int)p.kind < TSR_RP_KIND_COUNT &&
                      (p.kind == TSR_RP_GAUSSIAN || (isfinite(p.s) && (p.s == 0.0 || p.s >= 1.0)));
    tsr_rp_t *rp = NULL;
    tsr_status st = tsr_rp_create(D, d, &p, &rp);
    FZ_CHECK_ERROR(st);
    if (!valid) {
        FZ_CHECK(st != TSR_OK && rp == NULL, "create accepted D %lld d %d kind %d s %g", (long long)D, d, (int)p.kind, p.s);
        return 0;
    }
    FZ_CHECK(st == TSR_OK && rp != NULL, "create refused D %lld d %d kind %d s %g: %s", (long long)D, d, (int)p.kind, p.s,
             tsr_status_string(st));
    tsr_rp_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    FZ_CHECK(tsr_rp_info_get(rp, &info) == TSR_OK, "describe");
    FZ_CHECK(info.in_dim == D && info.out_dim == d && info.kind == p.kind && info.seed == p.seed && !info.materialized &&
                 info.s >= 1.0 && isfinite(info.scale) && info.scale > 0,
             "describe: D %lld d %d kind %d s %g scale %g", (long long)info.in_dim, info.out_dim, (int)info.kind, info.s,
             info.scale);

    /* entries, in and out of range */
    for (int t = 0; t < 4; t++) {
        int64_t row = t < 2 ? (int64_t)(fz_raw(&in, 8) % (uint64_t)D) : fz_i64(&in);
        int64_t col64 = t < 2 ? (int64_t)(fz_raw(&in, 4) % (uint32_t)d) : fz_i64(&in);
        int32_t col = (int32_t)col64;
        double v = NAN;
        tsr_status es = tsr_rp_entry(rp, row, col, &v);
        if (row < 0 || row >= D || col < 0 || col >= d) {
            FZ_CHECK(es == TSR_ERANGE, "entry(%lld, %d) out of range: %s", (long long)row, col, tsr_status_string(es));
            continue;
        }
        FZ_CHECK(es == TSR_OK && isfinite(v), "entry(%lld, %d) = %g: %s", (long long)row, col, v, tsr_status_string(es));
        if (p.kind == TSR_RP_SPARSE)
            FZ_CHECK(v == 0.0 || fabs(v) == info.scale, "sparse entry %g, scale %g", v, info.scale);
    }

    const int64_t n = 1 + fz_u8(&in) % 8, ldx_pad = fz_u8(&in) % 3, ldy_pad = fz_u8(&in) % 3;
    const uint8_t mat = fz_u8(&in), csrmode = fz_u8(&in);
    const i128 dd = (i128)D * d;
    const int small = dd <= SMALL_DD;

    /* materialise: small plans, and plans whose R cannot fit in this machine (randproj.h:
     * about 32·D·d/s bytes, 16·D·d for Gaussian, plus 8·D; refused beyond half of the
     * physical memory, before anything is allocated or generated). Plans in between may
     * legitimately take gigabytes and are not asked for. */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    const double phys = pages > 0 && psz > 0 ? (double)pages * (double)psz : 16e9;
    const double rbytes = (p.kind == TSR_RP_GAUSSIAN ? 16.0 * (double)D * d : 32.0 * (double)D * d / info.s) + 8.0 * (double)D;
    const int impossible = D >= INT32_MAX || rbytes > 1.5 * phys;
    if ((small && (mat & 1)) || impossible) {
        tsr_status ms = tsr_rp_materialize(NULL, rp);
        FZ_CHECK_ERROR(ms);
        if (impossible)
            FZ_CHECK(ms != TSR_OK, "materialize of D %lld x d %d (s %g, about %.3g bytes) succeeded", (long long)D, d,
                     info.s, rbytes);
        if (ms == TSR_OK) {
            FZ_CHECK(tsr_rp_materialize(NULL, rp) == TSR_OK, "materialize is idempotent");
            FZ_CHECK(tsr_rp_info_get(rp, &info) == TSR_OK && info.materialized == 1, "describe after materialize");
            check_csr_view(rp, D, d, &info);
        }
    }

    const int32_t dout = d;
    if (dout > 4096) { tsr_rp_destroy(rp); return 0; }
    const int64_t ldy = dout + ldy_pad;
    float *y = malloc(sizeof(float) * (size_t)(n * ldy)), *yc = malloc(sizeof(float) * (size_t)(n * ldy));
    double *y64 = malloc(sizeof(double) * (size_t)(n * ldy)), *yc64 = malloc(sizeof(double) * (size_t)(n * ldy));

    if (small) {
        const int64_t ldx = D + ldx_pad;
        float *x = malloc(sizeof(float) * (size_t)(n * ldx));
        double *x64 = malloc(sizeof(double) * (size_t)(n * ldx));
        double *ref = malloc(sizeof(double) * (size_t)(n * dout)), *mag = malloc(sizeof(double) * (size_t)(n * dout));
        for (int64_t i = 0; i < n * ldx; i++) { x[i] = fz_fill_f32(&in, (size_t)i); x64[i] = x[i]; }
        for (int64_t i = 0; i < n * ldy; i++) { y[i] = -7.0f; y64[i] = -7.0; }
        FZ_CHECK(tsr_rp_transform_f32(NULL, rp, n, x, ldx, y, ldy) == TSR_OK, "dense f32");
        FZ_CHECK(tsr_rp_transform_f64(NULL, rp, n, x64, ldx, y64, ldy) == TSR_OK, "dense f64");
        reference(rp, n, D, dout, x64, ldx, ref, mag);
        for (int64_t i = 0; i < n; i++) {
            for (int32_t k = 0; k < dout; k++) {
                const double r = ref[i * dout + k], m = mag[i * dout + k];
                FZ_CHECK(fabs(y[i * ldy + k] - r) <= 2e-6 * sqrt((double)D) * m + 1e-30, "f32 y[%lld][%d] = %.9g, reference %.9g",
                         (long long)i, k, (double)y[i * ldy + k], r);
                FZ_CHECK(fabs(y64[i * ldy + k] - r) <= 1e-14 * sqrt((double)D) * m + 1e-300, "f64 y[%lld][%d] = %.17g, reference %.17g",
                         (long long)i, k, y64[i * ldy + k], r);
            }
            for (int64_t k = dout; k < ldy; k++)
                FZ_CHECK(y[i * ldy + k] == -7.0f && y64[i * ldy + k] == -7.0, "transform wrote padding");
        }
        FZ_CHECK(tsr_rp_transform_f32(NULL, rp, n, x, D - 1, y, ldy) == TSR_EINVAL, "ldx < D accepted");
        FZ_CHECK(tsr_rp_transform_f32(NULL, rp, -1, x, ldx, y, ldy) == TSR_EINVAL, "n < 0 accepted");
        FZ_CHECK(tsr_rp_transform_f32(NULL, rp, 0, x, ldx, y, ldy) == TSR_OK, "n = 0 is a no-op");
        /* CSR of the same X (sorted columns, zeros dropped): the same bits */
        int64_t *indptr = malloc(sizeof(int64_t) * (size_t)(n + 1)), *idx = malloc(sizeof(int64_t) * (size_t)(n * D + 1));
        float *val = malloc(sizeof(float) * (size_t)(n * D + 1));
        double *val64 = malloc(sizeof(double) * (size_t)(n * D + 1));
        int64_t q = 0;
        indptr[0] = 0;
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < D; j++)
                if (x[i * ldx + j] != 0) { idx[q] = j; val[q] = x[i * ldx + j]; val64[q] = val[q]; q++; }
            indptr[i + 1] = q;
        }
        for (int64_t i = 0; i < n * ldy; i++) { yc[i] = -7.0f; yc64[i] = -7.0; }
        FZ_CHECK(tsr_rp_transform_csr_f32(NULL, rp, n, indptr, idx, val, yc, ldy) == TSR_OK, "csr f32");
        FZ_CHECK(tsr_rp_transform_csr_f64(NULL, rp, n, indptr, idx, val64, yc64, ldy) == TSR_OK, "csr f64");
        for (int64_t i = 0; i < n * ldy; i++)
            FZ_CHECK(fz_same_f32(yc[i], y[i]) && (yc64[i] == y64[i] || (yc64[i] != yc64[i] && y64[i] != y64[i])),
                     "CSR (sorted) differs from dense at %lld: %.9g vs %.9g", (long long)i, (double)yc[i], (double)y[i]);
        /* materialised or not: the same result */
        if (!(mat & 1) && (mat & 2)) {
            FZ_CHECK(tsr_rp_materialize(NULL, rp) == TSR_OK, "materialize a small plan");
            float *y2 = malloc(sizeof(float) * (size_t)(n * ldy));
            for (int64_t i = 0; i < n * ldy; i++) y2[i] = -7.0f;
            FZ_CHECK(tsr_rp_transform_f32(NULL, rp, n, x, ldx, y2, ldy) == TSR_OK, "dense f32 after materialize");
            for (int64_t i = 0; i < n; i++)
                for (int32_t k = 0; k < dout; k++) {
                    const double m = mag[i * dout + k];
                    FZ_CHECK(fabs((double)y2[i * ldy + k] - y[i * ldy + k]) <= 4e-6 * sqrt((double)D) * m + 1e-30,
                             "materialised result %.9g, before %.9g", (double)y2[i * ldy + k], (double)y[i * ldy + k]);
                }
            free(y2);
        }
        free(indptr); free(idx); free(val); free(val64);
        free(x); free(x64); free(ref); free(mag);
    }

    /* CSR with arbitrary columns (any D: never densified) */
    {
        const int64_t nnz = fz_u8(&in) % 12;
        int64_t indptr[10], idx[12];
        float val[12];
        double val64[12];
        for (int64_t e = 0; e < nnz; e++) {
            uint8_t c = fz_u8(&in);
            idx[e] = c < 0xF0 ? (int64_t)(fz_raw(&in, 8) % (uint64_t)D) : c == 0xF0 ? D - 1 : c == 0xF1 ? D : c == 0xF2 ? -1 : fz_i64(&in);
            val[e] = fz_small_f32(&in);
            val64[e] = val[e];
        }
        /* split the entries over the rows, in order */
        const int64_t rows = 1 + (int64_t)(csrmode % (uint8_t)n);
        indptr[0] = 0;
        for (int64_t i = 1; i <= rows; i++) indptr[i] = i == rows ? nnz : (nnz * i) / rows;
        int bad_col = 0;
        for (int64_t e = 0; e < nnz; e++) bad_col |= idx[e] < 0 || idx[e] >= D;
        const int decreasing = (csrmode & 0x80) && rows > 1 && nnz > 0;
        if (decreasing) { indptr[1] = nnz; indptr[rows] = 0; }
        for (int64_t i = 0; i < n * ldy; i++) { yc[i] = -7.0f; yc64[i] = -7.0; }
        tsr_status cs = tsr_rp_transform_csr_f32(NULL, rp, rows, indptr, idx, val, yc, ldy);
        tsr_status cs64 = tsr_rp_transform_csr_f64(NULL, rp, rows, indptr, idx, val64, yc64, ldy);
        FZ_CHECK_ERROR(cs);
        FZ_CHECK(cs == cs64, "csr f32 %s, f64 %s", tsr_status_string(cs), tsr_status_string(cs64));
        if (decreasing) FZ_CHECK(cs != TSR_OK, "a decreasing indptr was accepted");
        else if (bad_col) FZ_CHECK(cs == TSR_ERANGE, "a column outside [0, %lld) gave %s", (long long)D, tsr_status_string(cs));
        else {
            FZ_CHECK(cs == TSR_OK, "csr transform: %s", tsr_status_string(cs));
            for (int64_t i = 0; i < rows; i++)
                for (int32_t k = 0; k < dout; k++) {
                    double r = 0, m = 0;
                    for (int64_t e = indptr[i]; e < indptr[i + 1]; e++) {
                        double rv;
                        FZ_CHECK(tsr_rp_entry(rp, idx[e], k, &rv) == TSR_OK, "entry");
                        r += val64[e] * rv;
                        m += fabs(val64[e] * rv);
                    }
                    FZ_CHECK(fabs(yc[i * ldy + k] - r) <= 1e-5 * m + 1e-30 && fabs(yc64[i * ldy + k] - r) <= 1e-13 * m + 1e-300,
                             "csr y[%lld][%d] = %.9g / %.17g, reference %.17g", (long long)i, k, (double)yc[i * ldy + k],
                             yc64[i * ldy + k], r);
                }
        }
    }
    free(y); free(yc); free(y64); free(yc64);
    tsr_rp_destroy(rp);
    return 0;
}
