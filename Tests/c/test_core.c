/* Core ABI: statuses, errors, versions, dtypes, f16/bf16 conversion, CPU features, ISA dispatch, memory. */
#include <stdint.h>
#include <string.h>

#include "tsr_test.h"

TSR_TEST(test_status_strings) {
    for (int s = 0; s < TSR_STATUS_COUNT; s++) {
        const char *str = tsr_status_string((tsr_status)s);
        CHECK(str != NULL && strncmp(str, "TSR_", 4) == 0);
    }
    CHECK(strstr(tsr_status_string(TSR_EINVAL), "EINVAL") != NULL);
    CHECK(strstr(tsr_status_string((tsr_status)999), "unknown") != NULL);
    CHECK(strstr(tsr_status_string((tsr_status)-1), "unknown") != NULL);
}

TSR_TEST(test_version) {
    CHECK(tsr_version() == TSR_API_VERSION);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", TSR_VERSION_MAJOR, TSR_VERSION_MINOR, TSR_VERSION_PATCH);
    CHECK(strcmp(tsr_version_string(), want) == 0);
}

TSR_TEST(test_build_info) {
    tsr_build_info info = {0};
    CHECK_STATUS(tsr_build_info_get(NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_build_info_get(&info), TSR_EINVAL);   /* size not set */
    info.size = sizeof info;
    CHECK_STATUS(tsr_build_info_get(&info), TSR_OK);
#ifdef __OPTIMIZE__
    CHECK(info.optimized == 1);   /* the library and this test share CFLAGS */
#else
    CHECK(info.optimized == 0);
#endif
    CHECK(info.compiler && strlen(info.compiler) > 3);
}

TSR_TEST(test_last_error_is_thread_local_detail) {
    tsr_last_error_clear();
    CHECK(tsr_last_error()[0] == '\0');
    CHECK_STATUS(tsr_cpu_features_get(NULL), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "out") != NULL);  /* names the argument */
    tsr_cpu_features f = {0};
    f.size = 4;
    CHECK_STATUS(tsr_cpu_features_get(&f), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "size") != NULL);
}

TSR_TEST(test_dtypes) {
    CHECK(tsr_dtype_size(TSR_DTYPE_F32) == 4 && tsr_dtype_size(TSR_DTYPE_BF16) == 2);
    CHECK(tsr_dtype_size(TSR_DTYPE_F64) == 8 && tsr_dtype_size(TSR_DTYPE_I8) == 1);
    CHECK(tsr_dtype_size(TSR_DTYPE_COUNT) == 0 && tsr_dtype_size((tsr_dtype)-3) == 0);
    CHECK(strcmp(tsr_dtype_name(TSR_DTYPE_F16), "f16") == 0);
    CHECK(strcmp(tsr_dtype_name((tsr_dtype)77), "invalid") == 0);
}

/* Exhaustive f16 round trip and round-to-nearest-even against a float64 oracle. */
TSR_TEST(test_f16_conversion) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tsr_f16_to_f32((uint16_t)h);
        uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
        if (exp == 0x1f && mant) { if (f == f) bad++; continue; }  /* NaN stays NaN */
        double ref = exp == 0 ? ldexp((double)mant, -24) : (exp == 0x1f ? INFINITY : ldexp(1.0 + mant / 1024.0, (int)exp - 15));
        if (h & 0x8000) ref = -ref;
        if ((double)f != ref) bad++;
        if (tsr_f32_to_f16(f) != (uint16_t)h) bad++;
    }
    CHECK_MSG(bad == 0, "%d f16 values wrong", bad);
    /* rounding: halfway cases go to even; overflow to inf; tiny to zero */
    CHECK(tsr_f32_to_f16(1.0f + 1.0f / 2048.0f) == 0x3c00);             /* tie -> even (down) */
    CHECK(tsr_f32_to_f16(1.0f + 3.0f / 2048.0f) == 0x3c02);             /* tie -> even (up) */
    CHECK(tsr_f32_to_f16(65520.0f) == 0x7c00 && tsr_f32_to_f16(65519.0f) == 0x7bff);
    CHECK(tsr_f32_to_f16(-1e-9f) == 0x8000);
    CHECK(tsr_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);                /* tie to even zero */
    CHECK(tsr_f32_to_f16(ldexpf(1.5f, -25)) == 0x0001);
    float nan = NAN;
    CHECK((tsr_f32_to_f16(nan) & 0x7c00) == 0x7c00 && (tsr_f32_to_f16(nan) & 0x3ff) != 0);
}

TSR_TEST(test_bf16_conversion) {
    CHECK(tsr_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(tsr_bf16_to_f32(0x3f80) == 1.0f);
    /* 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even is 1 */
    CHECK(tsr_f32_to_bf16(1.0f + 1.0f / 256.0f) == 0x3f80);
    CHECK(tsr_f32_to_bf16(1.0f + 3.0f / 256.0f) == 0x3f82);
    float nan = NAN;
    uint16_t b = tsr_f32_to_bf16(nan);
    CHECK((b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0);
    int bad = 0;
    for (uint32_t x = 0; x < 65536; x++) {
        float f = tsr_bf16_to_f32((uint16_t)x);
        if (f == f && tsr_f32_to_bf16(f) != x) bad++;
    }
    CHECK(bad == 0);
}

TSR_TEST(test_cpu_features_and_isa) {
    tsr_cpu_features f;
    memset(&f, 0, sizeof f);
    f.size = sizeof f;
    CHECK_OK(tsr_cpu_features_get(&f));
    tsr_isa sup = tsr_isa_supported();
    if (sup >= TSR_ISA_AVX2) CHECK(f.avx2 && f.fma);
    if (sup == TSR_ISA_AVX512) CHECK(f.avx512f && f.avx512bw && f.avx512vl);
    if (f.avx512_vnni) CHECK(f.avx512f);       /* XCR0-gated consistently */
    CHECK(tsr_isa_active() <= sup);
    CHECK_OK(tsr_isa_force(TSR_ISA_SCALAR));
    CHECK(tsr_isa_active() == TSR_ISA_SCALAR);
    CHECK_OK(tsr_isa_force(sup));
    CHECK(tsr_isa_active() == sup);
    CHECK_STATUS(tsr_isa_force((tsr_isa)42), TSR_EINVAL);
    if (sup < TSR_ISA_AVX512) CHECK_STATUS(tsr_isa_force(TSR_ISA_AVX512), TSR_EUNSUPPORTED);
    tsr_isa p;
    CHECK_OK(tsr_isa_parse("AVX2", &p));
    CHECK(p == TSR_ISA_AVX2);
    CHECK_STATUS(tsr_isa_parse("sse9", &p), TSR_EINVAL);
    CHECK_STATUS(tsr_isa_parse(NULL, &p), TSR_EINVAL);
    CHECK_STATUS(tsr_isa_parse("scalar", NULL), TSR_EINVAL);
    CHECK(strcmp(tsr_isa_name(TSR_ISA_AVX512), "avx512") == 0);
    CHECK(strcmp(tsr_isa_name((tsr_isa)9), "invalid") == 0);
}

TSR_TEST(test_memory) {
    for (size_t n = 0; n < 5000; n += 333) {
        unsigned char *p = tsr_malloc(n);
        CHECK(p != NULL && ((uintptr_t)p % TSR_ALIGNMENT) == 0);
        if (p) memset(p, 0xab, n);
        tsr_free(p);
    }
    float *z = tsr_calloc(1000, sizeof(float));
    CHECK(z != NULL);
    int nonzero = 0;
    for (int i = 0; z && i < 1000; i++) nonzero += z[i] != 0.0f;
    CHECK(nonzero == 0);
    tsr_free(z);
    /* more than the machine's memory: refused up front (overcommit would grant it, then kill) */
    size_t huge = (size_t)1 << 46;   /* 64 TiB */
    CHECK(tsr_malloc(huge) == NULL);
    CHECK(strstr(tsr_last_error(), "more than half") != NULL);
    CHECK(tsr_calloc(huge / 8, 8) == NULL);
    CHECK(tsr_calloc(SIZE_MAX / 2, 4) == NULL);
    CHECK(strstr(tsr_last_error(), "overflow") != NULL);
    CHECK(tsr_malloc_aligned(64, 3) == NULL);
    CHECK(strstr(tsr_last_error(), "alignment") != NULL);
    CHECK(tsr_malloc(SIZE_MAX) == NULL);
    void *a = tsr_malloc_aligned(100, 4096);
    CHECK(a != NULL && ((uintptr_t)a % 4096) == 0);
    tsr_free(a);
    tsr_free(NULL);
}

/* The deprecated names of docs/CONVENTIONS.md still link and answer like the new ones
 * (real exported functions, so old binaries and ctypes users keep working). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TSR_TEST(test_deprecated_aliases) {
    tsr_topology_info t1 = {.size = sizeof t1}, t2 = {.size = sizeof t2};
    CHECK_OK(tsr_topology_get(&t1));
    CHECK_OK(tsr_topology_info_get(&t2));
    CHECK(memcmp(&t1, &t2, sizeof t1) == 0);
    CHECK(tsr_pool_in_worker() == tsr_pool_is_in_worker() && tsr_pool_in_worker() == 0);
    CHECK_STATUS(tsr_isa_force((tsr_isa)42), TSR_EINVAL);
    tsr_clear_error();
    CHECK(tsr_last_error()[0] == '\0');

    tsr_rp_t *rp = NULL;
    CHECK_OK(tsr_rp_create(1000, 16, NULL, &rp));
    tsr_rp_info r1 = {.size = sizeof r1}, r2 = {.size = sizeof r2};
    CHECK_OK(tsr_rp_describe(rp, &r1));
    CHECK_OK(tsr_rp_info_get(rp, &r2));
    CHECK(r1.in_dim == r2.in_dim && r1.out_dim == r2.out_dim && r1.s == r2.s && r1.seed == r2.seed);
    tsr_rp_destroy(rp);

    tsr_datatype_t *dbl = NULL, *v1 = NULL, *v2 = NULL;
    CHECK_OK(tsr_datatype_named(TSR_TYPE_DOUBLE, &dbl));
    CHECK_OK(tsr_datatype_vector(10, 2, 5, dbl, &v1));
    CHECK_OK(tsr_datatype_vector(10, 2, 5, dbl, &v2));
    CHECK_OK(tsr_datatype_commit(v1));
    CHECK_OK(tsr_datatype_commit(v2));
    tsr_canon_info c1 = {.size = sizeof c1}, c2 = {.size = sizeof c2};
    CHECK_OK(tsr_datatype_canonical(v1, &c1));
    CHECK_OK(tsr_datatype_canon_info_get(v1, &c2));
    CHECK(memcmp(&c1, &c2, sizeof c1) == 0);
    int32_t e1 = 0, e2 = 0;
    CHECK_OK(tsr_datatype_same_layout(v1, v2, &e1));
    CHECK_OK(tsr_datatype_has_same_layout(v1, v2, &e2));
    CHECK(e1 == 1 && e2 == 1);
    CHECK_OK(tsr_datatype_free(v1));
    CHECK_STATUS(tsr_datatype_destroy(v1), TSR_EINVAL);  /* one handle, two names: a second destroy */
    CHECK_OK(tsr_datatype_destroy(v2));
    CHECK_OK(tsr_datatype_free(dbl));
}
#pragma GCC diagnostic pop

int main(void) {
    RUN(test_status_strings);
    RUN(test_version);
    RUN(test_build_info);
    RUN(test_last_error_is_thread_local_detail);
    RUN(test_dtypes);
    RUN(test_f16_conversion);
    RUN(test_bf16_conversion);
    RUN(test_cpu_features_and_isa);
    RUN(test_memory);
    RUN(test_deprecated_aliases);
    return tsr_test_summary();
}
