/* winograd_body.h — the body of the Winograd F(2×2, 3×3) row transforms, included by each
 * ISA file with WG_TARGET (its target attribute) and WG_NAME(x) (its function names) defined.
 * Additions and subtractions in a fixed order only: the same bits whatever the compiler
 * vectorises. Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], Aᵀ = [1 1 1 0; 0 1 −1 −1]. */
#include <string.h>

WG_TARGET static void WG_NAME(input_row)(const float *const r[4], int64_t w, float *v, int64_t vs) {
    const int64_t tw = (w + 1) / 2;
    for (int64_t tx0 = 0; tx0 < tw; tx0 += WG_BLOCK) {
        const int64_t nt = tw - tx0 < WG_BLOCK ? tw - tx0 : WG_BLOCK;
        const int64_t xs = 2 * tx0 - 1, n = 2 * nt + 2;  /* columns xs .. xs + n − 1 */
        float d[4][2 * WG_BLOCK + 2], t[4][2 * WG_BLOCK + 2];
        for (int j = 0; j < 4; j++) {
            memset(d[j], 0, sizeof d[j]);
            if (!r[j]) continue;
            const int64_t a = xs < 0 ? 0 : xs, b = xs + n > w ? w : xs + n;
            if (b > a) memcpy(d[j] + (a - xs), r[j] + a, (size_t)(b - a) * sizeof(float));
        }
        for (int64_t k = 0; k < n; k++) {
            t[0][k] = d[0][k] - d[2][k];
            t[1][k] = d[1][k] + d[2][k];
            t[2][k] = d[2][k] - d[1][k];
            t[3][k] = d[1][k] - d[3][k];
        }
        for (int i = 0; i < 4; i++) {
            const float *ti = t[i];
            float *v0 = v + (4 * i) * vs + tx0, *v1 = v0 + vs, *v2 = v1 + vs, *v3 = v2 + vs;
            for (int64_t k = 0; k < nt; k++) {
                const float a = ti[2 * k], b = ti[2 * k + 1], c = ti[2 * k + 2], e = ti[2 * k + 3];
                v0[k] = a - c;
                v1[k] = b + c;
                v2[k] = c - b;
                v3[k] = b - e;
            }
        }
    }
}

WG_TARGET static void WG_NAME(output_row)(const float *m, int64_t ms, int64_t w, float bias, float *out0, float *out1) {
    const int64_t tw = (w + 1) / 2;
    for (int64_t tx0 = 0; tx0 < tw; tx0 += WG_BLOCK) {
        const int64_t nt = tw - tx0 < WG_BLOCK ? tw - tx0 : WG_BLOCK;
        float y0[2 * WG_BLOCK], y1[2 * WG_BLOCK];
        const float *p = m + tx0;
        for (int64_t k = 0; k < nt; k++) {
            float s0[4], s1[4];
            for (int a = 0; a < 4; a++) {
                const float *q = p + (4 * a) * ms + k;
                s0[a] = (q[0] + q[ms]) + q[2 * ms];
                s1[a] = (q[ms] - q[2 * ms]) - q[3 * ms];
            }
            y0[2 * k] = ((s0[0] + s0[1]) + s0[2]) + bias;
            y0[2 * k + 1] = ((s1[0] + s1[1]) + s1[2]) + bias;
            y1[2 * k] = ((s0[1] - s0[2]) - s0[3]) + bias;
            y1[2 * k + 1] = ((s1[1] - s1[2]) - s1[3]) + bias;
        }
        const int64_t x0 = 2 * tx0, cols = x0 + 2 * nt > w ? w - x0 : 2 * nt;
        memcpy(out0 + x0, y0, (size_t)cols * sizeof(float));
        if (out1) memcpy(out1 + x0, y1, (size_t)cols * sizeof(float));
    }
}
