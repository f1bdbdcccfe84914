/*
 * fuzz_quant.c — quantized weights: tsr_quantize on rows with any float values
 * (subnormals, ±3e38, 1e7, 6e5, NaN, ±inf), weight descriptors with fuzzed shapes,
 * strides and buffer lengths (tsr_quant_matrix_check, tsr_qgemm_plan_create), and the
 * product Y = X·Wᵀ (+ bias) on every ISA level of this machine.
 *
 * Input (first byte % 4 = mode):
 *   0  quantize: [fmt][n][k blocks][ld pad][short dst?][values (fz_f32)...][gemm bytes]
 *   1  raw weight bytes: [fmt][n][k blocks][stride pad][short buffer?][gemm bytes][weight bytes...]
 *   2  extreme descriptor: [fmt][n fz_i64][k fz_i64][row_stride fz_i64][data_bytes lo, hi][gemm bytes]
 *   3  format helpers: [ggml id fz_i64][name bytes...]
 *   gemm bytes = [m][ldx pad][ldy pad][bias?][workspace mode][wild x?][x values...]
 *
 * Properties:
 *   - quantize: invalid format / short destination / a non-finite value -> an error,
 *     and the destination is untouched; TSR_ERANGE (a scale the format cannot hold)
 *     leaves it zero-filled; TSR_OK -> the result dequantizes to finite values (a scale
 *     that overflows fp16 must not be stored as inf), the statistics are finite, F32
 *     round-trips exactly, blocks of subnormal values (max < 1e-38) come back as zeros,
 *     and blocks whose largest |x| lies in [1e-3, 1e3] within 0.6·max|x| of the input;
 *   - a descriptor accepted by tsr_quant_matrix_check covers only the bytes given
 *     (the buffer is exactly data_bytes long: ASan sees any read past it);
 *     plan_create fails whenever matrix_check does;
 *   - plan: info matches the descriptor; plan_dequantize equals tsr_dequantize bit for bit;
 *   - execute: every ISA level gives the same bits; row i of an M-row call equals the
 *     M = 1 call on that row (batch invariance); columns past n and rows past m are not
 *     written; a short workspace is refused; with finite, moderate weights and X the
 *     result is within the activation-quantization bound of a float64 reference; rows of
 *     X holding NaN/inf give non-finite rows of Y; the one-shot tsr_qgemm gives the
 *     same bits as the plan.
 */
#include "fuzz_common.h"

#define MAXK 1024

static int traits_of(tsr_quant_format f, tsr_quant_traits *t) {
    memset(t, 0, sizeof *t);
    t->size = sizeof *t;
    return tsr_quant_traits_get(f, t) == TSR_OK;
}

/* The bound of Tests/c/test_quant.c (activation quantization + f32 accumulation). */
static int within_bound(const tsr_quant_traits *t, const float *wf, int64_t k, const float *x, const float *bias,
                        int64_t r, double got, double *ref_out, double *bound_out) {
    const int ab = t->act_block;
    double ref = bias ? bias[r] : 0.0, mag = 0.0, bound = 0.0;
    for (int64_t j = 0; j < k; j++) {
        ref += (double)wf[r * k + j] * x[j];
        mag += fabs((double)wf[r * k + j] * x[j]);
    }
    if (ab > 0)
        for (int64_t g0 = 0; g0 < k; g0 += ab) {
            double amax = 0, sw = 0;
            for (int j = 0; j < ab && g0 + j < k; j++) {
                amax = fmax(amax, fabs(x[g0 + j]));
                sw += fabs(wf[r * k + g0 + j]);
            }
            bound += sw * amax / 127.0 * 0.5 * 1.0001;
        }
    bound += 2e-6 * (mag + (bias ? fabs(bias[r]) : 0.0) + 1.0) * (1 + k / 256.0);
    *ref_out = ref;
    *bound_out = bound;
    return fabs(got - ref) <= bound;
}

/* Plan, execute on every ISA, compare. `tame` = weights known finite and moderate. */
static void gemm_checks(fz_in *in, const tsr_quant_matrix *w) {
    tsr_status cs = tsr_quant_matrix_check(w);
    FZ_CHECK_ERROR(cs);
    tsr_qgemm_plan_t *plan = NULL;
    tsr_status st = tsr_qgemm_plan_create(NULL, w, NULL, &plan);
    FZ_CHECK_ERROR(st);
    if (cs != TSR_OK) FZ_CHECK(st != TSR_OK, "plan_create accepted a descriptor matrix_check refuses (%s)", tsr_status_string(cs));
    if (st != TSR_OK) return;
    FZ_CHECK(plan != NULL, "TSR_OK without a plan");
    const int64_t n = w->n, k = w->k;
    tsr_quant_traits t;
    FZ_CHECK(traits_of(w->format, &t), "traits of an accepted format");
    size_t rb = 0;
    FZ_CHECK(tsr_quant_row_bytes(w->format, k, &rb) == TSR_OK, "row bytes");

    tsr_qgemm_plan_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    FZ_CHECK(tsr_qgemm_plan_info_get(plan, &info) == TSR_OK, "plan info");
    FZ_CHECK(info.format == w->format && info.n == n && info.k == k && info.source_bytes == (size_t)n * rb,
             "plan info: format %d n %lld k %lld source %zu", (int)info.format, (long long)info.n, (long long)info.k,
             info.source_bytes);
    FZ_CHECK(memchr(info.kernel, 0, sizeof info.kernel) != NULL, "kernel name not terminated");

    /* dequantized weights: plan and source agree bit for bit */
    float *wf = malloc(sizeof(float) * (size_t)(n * k)), *wp = malloc(sizeof(float) * (size_t)(n * k));
    FZ_CHECK(tsr_dequantize(NULL, w, wf, k) == TSR_OK, "dequantize an accepted matrix");
    FZ_CHECK(tsr_qgemm_plan_dequantize(plan, wp, k) == TSR_OK, "plan dequantize");
    FZ_CHECK(memcmp(wf, wp, sizeof(float) * (size_t)(n * k)) == 0, "plan dequantize differs from tsr_dequantize");
    FZ_CHECK(tsr_qgemm_plan_dequantize(plan, wp, k - 1) == TSR_EINVAL, "plan dequantize with ld < k accepted");
    double wmax = 0;
    int wfinite = 1;
    for (int64_t i = 0; i < n * k; i++) {
        wfinite &= isfinite(wf[i]);
        if (fabs(wf[i]) > wmax) wmax = fabs(wf[i]);
    }

    const int64_t m = 1 + fz_u8(in) % 17;
    const int64_t ldx = k + fz_u8(in) % 3, ldy = n + fz_u8(in) % 3;
    const int use_bias = fz_u8(in) & 1;
    const uint8_t wsmode = fz_u8(in) % 3;  /* 0 NULL, 1 exact, 2 one byte short */
    const int wild = (fz_u8(in) % 8) == 0;
    float *x = malloc(sizeof(float) * (size_t)(m * ldx)), *bias = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < m * ldx; i++) x[i] = wild ? fz_f32(in) : fz_fill_f32(in, (size_t)i);
    for (int64_t i = 0; i < n; i++) bias[i] = fz_fill_f32(in, (size_t)(i + 7));
    const float *b = use_bias ? bias : NULL;

    size_t need = 0;
    FZ_CHECK(tsr_qgemm_workspace_size(plan, m, &need) == TSR_OK, "workspace size");
    FZ_CHECK(tsr_qgemm_workspace_size(plan, 0, &need) == TSR_EINVAL, "workspace size for m = 0 accepted");
    FZ_CHECK(tsr_qgemm_workspace_size(plan, m, &need) == TSR_OK, "workspace size");
    size_t wbytes = wsmode == 2 && need > 0 ? need - 1 : need;
    void *ws = wsmode ? malloc(wbytes ? wbytes : 1) : NULL;

    tsr_isa isas[TSR_ISA_COUNT];
    const int nisa = fz_isa_list(isas);
    const int64_t ylen = (m + 1) * ldy;  /* one spare row: must stay untouched */
    float *y[TSR_ISA_COUNT];
    for (int ii = 0; ii < nisa; ii++) {
        FZ_CHECK(tsr_isa_force(isas[ii]) == TSR_OK, "force %s", tsr_isa_name(isas[ii]));
        y[ii] = malloc(sizeof(float) * (size_t)ylen);
        for (int64_t i = 0; i < ylen; i++) y[ii][i] = -777.0f;
        st = tsr_qgemm_execute(NULL, plan, m, x, ldx, b, y[ii], ldy, ws, wbytes);
        if (wsmode == 2 && need > 0) {
            FZ_CHECK(st == TSR_EINVAL, "execute with a workspace one byte short: %s", tsr_status_string(st));
            for (int64_t i = 0; i < ylen; i++) FZ_CHECK(y[ii][i] == -777.0f, "refused execute wrote y");
            st = tsr_qgemm_execute(NULL, plan, m, x, ldx, b, y[ii], ldy, NULL, 0);
        }
        FZ_CHECK(st == TSR_OK, "execute on %s: %s", tsr_isa_name(isas[ii]), tsr_status_string(st));
        for (int64_t i = 0; i <= m; i++)
            for (int64_t r = 0; r < ldy; r++)
                if (i == m || r >= n)
                    FZ_CHECK(y[ii][i * ldy + r] == -777.0f, "execute wrote y[%lld][%lld] outside m x n", (long long)i,
                             (long long)r);
    }
    for (int ii = 1; ii < nisa; ii++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t r = 0; r < n; r++)
                FZ_CHECK(fz_same_f32(y[ii][i * ldy + r], y[0][i * ldy + r]),
                         "%s: y[%lld][%lld] = %.9g, scalar %.9g (format %s n %lld k %lld m %lld)", tsr_isa_name(isas[ii]),
                         (long long)i, (long long)r, (double)y[ii][i * ldy + r], (double)y[0][i * ldy + r],
                         tsr_quant_format_name(w->format), (long long)n, (long long)k, (long long)m);
    /* batch invariance on the active ISA: the last row alone */
    float *y1 = malloc(sizeof(float) * (size_t)n);
    FZ_CHECK(tsr_qgemm_execute(NULL, plan, 1, x + (m - 1) * ldx, ldx, b, y1, n, NULL, 0) == TSR_OK, "execute m = 1");
    for (int64_t r = 0; r < n; r++)
        FZ_CHECK(fz_same_f32(y1[r], y[nisa - 1][(m - 1) * ldy + r]),
                 "batch invariance: row %lld of the m = %lld call %.9g, alone %.9g (n %lld, col %lld, %s)", (long long)(m - 1),
                 (long long)m, (double)y[nisa - 1][(m - 1) * ldy + r], (double)y1[r], (long long)n, (long long)r,
                 tsr_quant_format_name(w->format));
    /* the one-shot call equals the plan */
    FZ_CHECK(tsr_qgemm(NULL, w, 1, x + (m - 1) * ldx, ldx, b, y1, n) == TSR_OK, "one-shot qgemm");
    for (int64_t r = 0; r < n; r++)
        FZ_CHECK(fz_same_f32(y1[r], y[nisa - 1][(m - 1) * ldy + r]), "tsr_qgemm differs from the plan at column %lld",
                 (long long)r);
    free(y1);
    FZ_CHECK(tsr_qgemm_execute(NULL, plan, 0, x, ldx, b, y[0], ldy, NULL, 0) == TSR_EINVAL, "execute m = 0 accepted");
    FZ_CHECK(tsr_qgemm_execute(NULL, plan, m, x, k - 1, b, y[0], ldy, NULL, 0) == TSR_EINVAL, "execute ldx < k accepted");
    tsr_isa_force(tsr_isa_supported());

    /* the reference, for finite moderate data */
    const float *yy = y[nisa - 1];
    for (int64_t i = 0; i < m; i++) {
        int xfinite = 1;
        double xmax = 0;
        for (int64_t j = 0; j < k; j++) {
            xfinite &= isfinite(x[i * ldx + j]);
            xmax = fmax(xmax, fabs(x[i * ldx + j]));
        }
        for (int64_t r = 0; r < n; r++) {
            double got = yy[i * ldy + r], ref, bound;
            if (!xfinite) {
                FZ_CHECK(!isfinite(got), "row %lld of X holds NaN/inf but y[%lld][%lld] = %g", (long long)i, (long long)i,
                         (long long)r, got);
                continue;
            }
            if (!wfinite || wmax > 1e6 || xmax > 1e6) continue;
            FZ_CHECK(within_bound(&t, wf, k, x + i * ldx, b, r, got, &ref, &bound),
                     "y[%lld][%lld] = %.9g, reference %.9g, bound %.3g (format %s n %lld k %lld m %lld)", (long long)i,
                     (long long)r, got, ref, bound, tsr_quant_format_name(w->format), (long long)n, (long long)k,
                     (long long)m);
        }
    }
    for (int ii = 0; ii < nisa; ii++) free(y[ii]);
    free(ws);
    free(x);
    free(bias);
    free(wf);
    free(wp);
    tsr_qgemm_plan_destroy(plan);
}

static void quantize_mode(fz_in *in) {
    tsr_quant_format fmt = (tsr_quant_format)(fz_u8(in) % (TSR_QUANT_FORMAT_COUNT + 1));
    tsr_quant_traits t;
    const int valid = traits_of(fmt, &t);
    const int be = valid ? t.block_elems : 32;
    const int64_t n = 1 + fz_u8(in) % 4;
    int64_t kb = 1 + fz_u8(in) % 4;
    while (kb > 1 && kb * be > MAXK) kb--;
    const int64_t k = kb * be, ld = k + fz_u8(in) % 3;
    const int short_dst = (fz_u8(in) % 8) == 0;
    float *src = malloc(sizeof(float) * (size_t)(n * ld));
    int finite = 1;
    for (int64_t i = 0; i < n * ld; i++) {
        src[i] = (i == 0 || fz_left(in)) ? fz_f32(in) : src[0];  /* a short input repeats its first value */
        if (i % ld < k) finite &= isfinite(src[i]);
    }
    size_t rb = 0;
    if (valid) FZ_CHECK(tsr_quant_row_bytes(fmt, k, &rb) == TSR_OK, "row bytes");
    size_t bytes = (size_t)n * (rb ? rb : 18);
    size_t dst_bytes = short_dst ? bytes - 1 : bytes;
    uint8_t *dst = malloc(bytes);
    memset(dst, 0x5A, bytes);
    tsr_quant_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.size = sizeof stats;
    tsr_status st = tsr_quantize(NULL, fmt, src, n, k, ld, dst, dst_bytes, &stats);
    FZ_CHECK_ERROR(st);
    if (!valid || short_dst || !finite) {
        FZ_CHECK(st != TSR_OK, "quantize accepted %s", !valid ? "an unknown format" : short_dst ? "a short destination" : "a non-finite value");
        for (size_t i = 0; i < bytes; i++) FZ_CHECK(dst[i] == 0x5A, "refused quantize wrote byte %zu", i);
        free(src);
        free(dst);
        return;
    }
    if (st == TSR_ERANGE) {  /* a scale the format cannot hold: refused, dst zero-filled (quant.h) */
        for (size_t i = 0; i < bytes; i++) FZ_CHECK(dst[i] == 0, "quantize refused with TSR_ERANGE but left byte %zu = %u", i, dst[i]);
    }
    if (st != TSR_OK) { free(src); free(dst); return; }
    FZ_CHECK(isfinite(stats.max_abs_error) && isfinite(stats.rms_error) && isfinite(stats.max_abs_value) &&
                 isfinite(stats.rms_value),
             "stats not finite: max err %g rms err %g max %g rms %g", stats.max_abs_error, stats.rms_error,
             stats.max_abs_value, stats.rms_value);
    tsr_quant_matrix w = {sizeof w, fmt, n, k, dst, 0, bytes};
    float *deq = malloc(sizeof(float) * (size_t)(n * k));
    FZ_CHECK(tsr_dequantize(NULL, &w, deq, k) == TSR_OK, "dequantize");
    for (int64_t r = 0; r < n; r++)
        for (int64_t b0 = 0; b0 < k; b0 += be) {
            double amax = 0;
            for (int j = 0; j < be; j++) amax = fmax(amax, fabs(src[r * ld + b0 + j]));
            for (int j = 0; j < be; j++) {
                const float xv = src[r * ld + b0 + j], dv = deq[r * k + b0 + j];
                FZ_CHECK(isfinite(dv), "quantize returned TSR_OK but %s dequantizes x[%lld][%lld] = %g to %g",
                         t.name, (long long)r, (long long)(b0 + j), (double)xv, (double)dv);
                if (fmt == TSR_QUANT_F32) FZ_CHECK(fz_same_f32(xv, dv), "f32 round trip %g -> %g", (double)xv, (double)dv);
                /* a block too small for its scale to be inverted is stored as zeros (quant.h) */
                if (be > 1 && amax < 1e-38)
                    FZ_CHECK(dv == 0.0f, "%s: block of max %g (subnormal) dequantizes x = %g to %g, not 0", t.name, amax,
                             (double)xv, (double)dv);
                if (amax >= 1e-3 && amax <= 1e3)
                    FZ_CHECK(fabs((double)xv - dv) <= 0.6 * amax, "%s: x[%lld][%lld] = %g comes back as %g (block max %g)",
                             t.name, (long long)r, (long long)(b0 + j), (double)xv, (double)dv, amax);
            }
        }
    free(deq);
    gemm_checks(in, &w);
    free(src);
    free(dst);
}

static void raw_mode(fz_in *in) {
    tsr_quant_format fmt = (tsr_quant_format)(fz_u8(in) % TSR_QUANT_FORMAT_COUNT);
    tsr_quant_traits t;
    FZ_CHECK(traits_of(fmt, &t), "traits");
    const int64_t n = 1 + fz_u8(in) % 40;
    int64_t kb = 1 + fz_u8(in) % 4;
    while (kb > 1 && kb * t.block_elems > MAXK) kb--;
    const int64_t k = kb * t.block_elems;
    size_t rb;
    FZ_CHECK(tsr_quant_row_bytes(fmt, k, &rb) == TSR_OK, "row bytes");
    const uint8_t sp = fz_u8(in) % 6;
    const size_t stride = sp == 0 ? 0 : sp == 5 ? rb - 1 : rb + sp - 1;  /* rb - 1 is too short */
    const int shortbuf = (fz_u8(in) % 8) == 0;
    const size_t need = (size_t)(n - 1) * (stride ? stride : rb) + rb;
    const size_t dbytes = shortbuf ? need - 1 : need;
    /* the gemm parameters come first, the weight bytes are the rest of the input */
    uint8_t gemm[24];
    for (int i = 0; i < 24; i++) gemm[i] = fz_u8(in);
    uint8_t *data = malloc(dbytes ? dbytes : 1);
    for (size_t i = 0; i < dbytes; i++) data[i] = fz_left(in) ? fz_u8(in) : (uint8_t)(i * 167u + 13u);
    /* fp16/f32 scales from raw bytes can be NaN or inf: allowed, only the bound is skipped */
    tsr_quant_matrix w = {sizeof w, fmt, n, k, data, stride, dbytes};
    tsr_status cs = tsr_quant_matrix_check(&w);
    if (shortbuf || sp == 5) FZ_CHECK(cs != TSR_OK, "matrix_check accepted %s", shortbuf ? "a short buffer" : "a short stride");
    fz_in g = fz_make(gemm, sizeof gemm);
    gemm_checks(&g, &w);
    free(data);
}

static void extreme_mode(fz_in *in) {
    tsr_quant_format fmt = (tsr_quant_format)(fz_u8(in) % TSR_QUANT_FORMAT_COUNT);
    int64_t n = fz_i64(in), k = fz_i64(in);
    size_t stride = (size_t)fz_i64(in);
    size_t dbytes = fz_u8(in);
    dbytes |= (size_t)(fz_u8(in) % 32) << 8;  /* <= 8 KiB */
    size_t rb;
    tsr_status st = tsr_quant_row_bytes(fmt, k, &rb);
    FZ_CHECK_ERROR(st);
    if (k <= 0) FZ_CHECK(st == TSR_EINVAL, "row_bytes for k = %lld accepted", (long long)k);
    uint8_t *data = malloc(dbytes ? dbytes : 1);
    for (size_t i = 0; i < dbytes; i++) data[i] = (uint8_t)(i * 37u + 1u) & 0x3F;  /* small fp16 scales */
    tsr_quant_matrix w = {sizeof w, fmt, n, k, data, stride, dbytes};
    tsr_status cs = tsr_quant_matrix_check(&w);
    FZ_CHECK_ERROR(cs);
    if (cs == TSR_OK) {
        /* accepted: it must fit in the bytes given */
        size_t s = stride ? stride : rb;
        FZ_CHECK(n > 0 && k > 0 && (__int128)(n - 1) * s + rb <= (__int128)dbytes,
                 "matrix_check accepted n %lld k %lld stride %zu for %zu bytes", (long long)n, (long long)k, stride, dbytes);
        gemm_checks(in, &w);
    } else {
        tsr_qgemm_plan_t *plan = NULL;
        st = tsr_qgemm_plan_create(NULL, &w, NULL, &plan);
        FZ_CHECK(st != TSR_OK && plan == NULL, "plan_create accepted a descriptor matrix_check refuses");
        float y[4];
        FZ_CHECK(tsr_dequantize(NULL, &w, y, 4) != TSR_OK, "dequantize accepted a descriptor matrix_check refuses");
    }
    free(data);
}

static void helpers_mode(fz_in *in) {
    int32_t id = (int32_t)fz_i64(in);
    tsr_quant_format f = TSR_QUANT_F32;
    tsr_status st = tsr_quant_format_from_ggml(id, &f);
    FZ_CHECK_ERROR(st);
    if (st == TSR_OK) {
        tsr_quant_traits t;
        FZ_CHECK(traits_of(f, &t) && t.ggml_type == id, "from_ggml(%d) gave %d whose ggml id is %d", id, (int)f,
                 t.ggml_type);
    }
    if (id < 0) FZ_CHECK(st == TSR_EINVAL, "from_ggml(%d): %s", id, tsr_status_string(st));
    char name[24];
    size_t len = 0;
    while (len < sizeof name - 1 && fz_left(in)) name[len++] = (char)fz_u8(in);
    name[len] = 0;
    st = tsr_quant_format_parse(name, &f);
    FZ_CHECK_ERROR(st);
    if (st == TSR_OK) {
        FZ_CHECK((int)f >= 0 && f < TSR_QUANT_FORMAT_COUNT, "parse gave format %d", (int)f);
        const char *back = tsr_quant_format_name(f);
        FZ_CHECK(strlen(back) == strlen(name), "parse('%s') -> %s", name, back);
    }
    for (int i = -2; i <= TSR_QUANT_FORMAT_COUNT + 1; i++) {
        FZ_CHECK(tsr_quant_format_name((tsr_quant_format)i) != NULL, "format_name(%d) is NULL", i);
        tsr_quant_traits t;
        memset(&t, 0, sizeof t);
        t.size = sizeof t - 1;
        FZ_CHECK(tsr_quant_traits_get((tsr_quant_format)i, &t) != TSR_OK, "traits_get with a short size accepted");
    }
}

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = fz_make(data, size);
    switch (fz_u8(&in) % 4) {
    case 0: quantize_mode(&in); break;
    case 1: raw_mode(&in); break;
    case 2: extreme_mode(&in); break;
    default: helpers_mode(&in); break;
    }
    return 0;
}
