/* Element types and IEEE half / bfloat16 conversions (portable, exact rounding). */
#include <string.h>

#include "tsr_internal.h"

static const struct { size_t size; const char *name; } tsr_dtype_traits[TSR_DTYPE_COUNT] = {
    [TSR_DTYPE_F32] = {4, "f32"}, [TSR_DTYPE_F64] = {8, "f64"}, [TSR_DTYPE_F16] = {2, "f16"},
    [TSR_DTYPE_BF16] = {2, "bf16"}, [TSR_DTYPE_I8] = {1, "i8"},   [TSR_DTYPE_U8] = {1, "u8"},
    [TSR_DTYPE_I32] = {4, "i32"}, [TSR_DTYPE_I64] = {8, "i64"},
};

size_t tsr_dtype_size(tsr_dtype dtype) {
    if ((int)dtype < 0 || dtype >= TSR_DTYPE_COUNT) return 0;
    return tsr_dtype_traits[dtype].size;
}

const char *tsr_dtype_name(tsr_dtype dtype) {
    if ((int)dtype < 0 || dtype >= TSR_DTYPE_COUNT) return "invalid";
    return tsr_dtype_traits[dtype].name;
}

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float tsr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));   /* inf / NaN */
    if (exp == 0) {
        if (mant == 0) return bits_f32(sign);
        /* subnormal: value = mant * 2^-24 */
        float v = (float)mant * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t tsr_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u) /* inf or NaN (keep a quiet NaN bit) */
        return (uint16_t)(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u | ((absu >> 13) & 0x3ffu) : 0));
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (absu < 0x38800000u) {  /* below the smallest normal half: subnormal or zero */
        /* round(abs * 2^24) to nearest even using float arithmetic, exact here */
        float a = bits_f32(absu);
        float scaled = a * 16777216.0f;  /* exact: power of two */
        uint32_t q = (uint32_t)scaled;
        float frac = scaled - (float)q;
        if (frac > 0.5f || (frac == 0.5f && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t exp = (absu >> 23) - 112u, mant = absu & 0x7fffffu;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;  /* carries into exp correctly */
    return (uint16_t)(sign | h);
}

float tsr_bf16_to_f32(uint16_t b) { return bits_f32((uint32_t)b << 16); }

uint16_t tsr_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
