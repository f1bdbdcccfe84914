/*
 * The reference table of the attention microkernels: plain loops, libm exp2f. Every slot
 * filled; always compiled; the oracle of the tests and the path of TESSERA_ISA=scalar.
 */
#include <math.h>

#include "attention_internal.h"

static void pack_kt_scalar(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                           int n, int npad, int d) {
    for (int j = 0; j < n; j++)
        for (int dd = 0; dd < d; dd++) kt[(size_t)dd * ldkt + j] = attn_load1(k, dt, j * kstride + dd);
    for (int dd = 0; dd < d; dd++)
        for (int j = n; j < npad; j++) kt[(size_t)dd * ldkt + j] = 0.0f;
}

static void pack_rows_scalar(float *dst, int ldd, const void *src, tsr_dtype dt, int64_t sstride,
                             int n, int d, float mul) {
    int dp = attn_round16(d);
    for (int j = 0; j < n; j++) {
        float *o = dst + (size_t)j * ldd;
        for (int e = 0; e < d; e++) o[e] = attn_load1(src, dt, j * sstride + e) * mul;
        for (int e = d; e < dp; e++) o[e] = 0.0f;
    }
}

static void qk_scalar(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
                      int m, int nc, int d) {
    for (int r = 0; r < m; r++) {
        float *sr = s + (size_t)r * lds;
        const float *qr = q + (size_t)r * ldq;
        for (int j = 0; j < nc; j++) sr[j] = 0.0f;
        for (int dd = 0; dd < d; dd++) {
            float qv = qr[dd];
            const float *kr = kt + (size_t)dd * ldkt;
            for (int j = 0; j < nc; j++) sr[j] = fmaf(qv, kr[j], sr[j]);
        }
    }
}

static void softmax_scalar(float *s, int lds, int rows, int n, int npad, float *m, float *l,
                           float *alpha) {
    for (int r = 0; r < rows; r++) {
        float *sr = s + (size_t)r * lds;
        float mx = -INFINITY;
        int nan = 0;
        for (int j = 0; j < n; j++) {
            if (sr[j] > mx) mx = sr[j];
            if (sr[j] != sr[j]) nan = 1;
        }
        float mn = m[r] > mx ? m[r] : mx;
        if (mn == -INFINITY && !nan) {          /* still no visible key */
            alpha[r] = 1.0f;
            for (int j = 0; j < npad; j++) sr[j] = 0.0f;
            continue;
        }
        if (nan) mn = NAN;
        alpha[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mn);
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            float p = exp2f(sr[j] - mn);
            sr[j] = p;
            sum += p;
        }
        for (int j = n; j < npad; j++) sr[j] = 0.0f;
        l[r] = l[r] * alpha[r] + sum;
        m[r] = mn;
    }
}

static void pv_scalar(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
                      const float *alpha, int m, int n, int nc) {
    for (int r = 0; r < m; r++) {
        float *ar = acc + (size_t)r * ldacc;
        const float *pr = p + (size_t)r * ldp;
        float a = alpha[r];
        if (a != 1.0f)
            for (int e = 0; e < nc; e++) ar[e] *= a;
        for (int j = 0; j < n; j++) {
            float pj = pr[j];
            const float *vr = v + (size_t)j * ldv;
            for (int e = 0; e < nc; e++) ar[e] = fmaf(pj, vr[e], ar[e]);
        }
    }
}

const attn_kernels tsr_attn_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .qk_mr = 4, .qk_nr = 64,
    .pv_mr = 4, .pv_nr = 64,
    .pack_kt = pack_kt_scalar,
    .pack_rows = pack_rows_scalar,
    .qk = qk_scalar,
    .softmax = softmax_scalar,
    .pv = pv_scalar,
};
