/*
 * rp_csr_row_body.h — one row of a CSR input times R, precision-generic. No
 * include guard on purpose: rp_transform.c includes it once per element type
 * after defining
 *   RP_T      element type (float | double)
 *   RP_SFX    name suffix (f32 | f64)
 *   RP_FMA    fused multiply-add of that type (fmaf | fma)
 *   RP_ROWV   field of rp_matrix holding the row-major values (row_v32 | row_v64)
 *   RP_IDX    index type of indptr and indices (int64_t | int32_t)
 *   RP_ISFX   its name suffix (i64 | i32)
 * and defines csr_row_<RP_SFX>_<RP_ISFX>(c, i, ks, sg, acc): y[i, :] = Σ_p values[p] · R[indices[p], :]
 * over the stored entries of row i, in ascending p (so every path gives the same bits).
 * The row's column indices are checked (first, or as they are read): the function returns the position of the row's first index outside [0, D), leaving y[i, :]
 * zero, or -1 when all are in range.
 */
#define RP_NAME2_(a, b) a##_##b
#define RP_NAME2(a, b) RP_NAME2_(a, b)
#define RP_NAME3(a, b, c) a##_##b##_##c
#define RP_NAME(a, b, c) RP_NAME3(a, b, c)

static int64_t RP_NAME(csr_row, RP_SFX, RP_ISFX)(const csr_ctx *c, int64_t i, int32_t *ks, int8_t *sg,
                                                            void *acc_v) {
    const tsr_rp_t *rp = c->rp;
    const RP_IDX *indptr = c->indptr, *indices = c->indices;
    const rp_matrix *m = c->m;
    const int32_t d = rp->d;
    const int sparse = rp->kind == TSR_RP_SPARSE;
    const RP_T *vals = c->values;
    RP_T *yr = (RP_T *)c->y + i * c->ldy;
    const int64_t p0 = indptr[i], p1 = indptr[i + 1];
    const uint64_t D = (uint64_t)rp->D;
    if (m && m->slots) {
        /* very sparse R in memory: one slot word per stored entry (rp_internal.h), its four codes
         * added without a branch on the row's length (an absent code adds +0 to a spread column).
         * acc is in L1 and Y row i is written once, scaled. Per column the same adds in the same
         * (ascending p) order as every other path, so the same bits. Each column index is
         * checked as it is read (a prefetch of a bad one is harmless). */
        RP_T *acc = (RP_T *)acc_v;
        const uint64_t *slots = m->slots;
        memset(acc, 0, (size_t)d * sizeof(RP_T));
        RP_T vt[4] = {0, 0, 0, 0};
        /* rows of R expected to hold at most one entry (s = sqrt(D) at D >= d²): P(3 or more)
         * <= 8 %, so the branch past code 1 is well predicted; denser slot rows add all four */
        const int few = rp_slot_entries_expected(rp) <= 1.0;
        for (int64_t p = p0; p < p1; p++) {
            if (p + RP_SLOT_PREFETCH < p1) __builtin_prefetch(slots + indices[p + RP_SLOT_PREFETCH]);
            const int64_t j = indices[p];
            if (__builtin_expect((uint64_t)j >= D, 0)) {
                memset(yr, 0, (size_t)d * sizeof(RP_T));
                return p;
            }
            const uint64_t w = slots[j];
            vt[2] = vals[p];
            vt[3] = -vals[p];
            const uint32_t c0 = (uint32_t)w & 0xffffu, c1 = (uint32_t)(w >> 16) & 0xffffu;
            acc[c0 >> 3] += vt[c0 & 3];
            acc[c1 >> 3] += vt[c1 & 3];
            /* codes 2 and 3 only when the row has a third entry: with two codes always added,
             * a row of R (≈ d/s entries) rarely takes this branch, and half the adds of +0 are
             * gone (each a load-add-store into acc); skipping an add of +0 changes no bit */
            if (!few || ((uint32_t)(w >> 32) & 2u)) {
                const uint32_t c2 = (uint32_t)(w >> 32) & 0xffffu, c3 = (uint32_t)(w >> 48);
                acc[c2 >> 3] += vt[c2 & 3];
                acc[c3 >> 3] += vt[c3 & 3];
                if (__builtin_expect(c3 & RP_SLOT_MORE, 0))
                    for (int64_t e = m->row_ptr[j] + 4; e < m->row_ptr[j + 1]; e++)
                        acc[m->row_k[e]] += m->RP_ROWV[e] < 0 ? vt[3] : vt[2];
            }
        }
        RP_NAME2(store_row, RP_SFX)(yr, acc, (RP_T)rp->scale, d, c->stream);
        return -1;
    }
    for (int64_t p = p0; p < p1; p++)
        if ((uint64_t)(int64_t)indices[p] >= D) {
            memset(yr, 0, (size_t)d * sizeof(RP_T));
            return p;
        }
    memset(yr, 0, (size_t)d * sizeof(RP_T));
    for (int64_t p = p0; p < p1; p++) {
        int64_t j = indices[p];
        RP_T v = vals[p];
        if (m) {
            /* the loads behind an entry are a dependent chain (column -> row offset ->
             * entries of R): prefetch the offsets 8 entries ahead, the entries 4 ahead */
            if (p + 8 < p1) __builtin_prefetch(m->row_ptr + indices[p + 8]);
            if (p + 4 < p1) __builtin_prefetch(m->row_k + m->row_ptr[indices[p + 4]]);
            int64_t e0 = m->row_ptr[j], e1 = m->row_ptr[j + 1];
            if (sparse)
                for (int64_t e = e0; e < e1; e++) yr[m->row_k[e]] += m->RP_ROWV[e] < 0 ? -v : v;
            else
                for (int64_t e = e0; e < e1; e++) yr[m->row_k[e]] = RP_FMA(v, m->RP_ROWV[e], yr[m->row_k[e]]);
        } else {
            uint64_t rk = rp_row_key(rp->seedkey, (uint64_t)j);
            if (sparse) {
                int32_t cnt = c->kern->sparse_row(rk, d, rp->t, ks, sg);
                for (int32_t e = 0; e < cnt; e++) yr[ks[e]] += sg[e] < 0 ? -v : v;
            } else {
                for (int32_t k = 0; k < d; k++)
                    yr[k] = RP_FMA(v, (RP_T)(rp_gauss(rk, (uint32_t)k) * rp->scale), yr[k]);
            }
        }
    }
    if (sparse) {
        const RP_T sc = (RP_T)rp->scale;
        for (int32_t k = 0; k < d; k++) yr[k] = sc * yr[k];
    }
    return -1;
}

#undef RP_NAME
#undef RP_NAME3
#undef RP_NAME2
#undef RP_NAME2_
