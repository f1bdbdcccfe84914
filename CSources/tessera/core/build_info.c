/* How the library was compiled: the -O0 check behind the debug-build warning. */
#include "tsr_internal.h"

tsr_status tsr_build_info_get(tsr_build_info *out) {
    TSR_CHECK_NULL(out);
    if (out->size < sizeof(tsr_build_info))
        return tsr_error(TSR_EINVAL, "tsr_build_info_get: out->size = %u, expected >= %zu",
                         out->size, sizeof(tsr_build_info));
#ifdef __OPTIMIZE__
    out->optimized = 1;
#else
    out->optimized = 0;
#endif
#if defined(__clang__)
    out->compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    out->compiler = "gcc " __VERSION__;
#else
    out->compiler = "unknown";
#endif
    return TSR_OK;
}
