/* Status names and the thread-local last-error text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsr_internal.h"

static _Thread_local char tsr_last_error_text[512];

static const char *const tsr_status_names[TSR_STATUS_COUNT] = {
    [TSR_OK] = "TSR_OK: success",
    [TSR_EINVAL] = "TSR_EINVAL: invalid argument",
    [TSR_ENOMEM] = "TSR_ENOMEM: out of memory",
    [TSR_ERANGE] = "TSR_ERANGE: size overflow or index out of range",
    [TSR_EFORMAT] = "TSR_EFORMAT: malformed input",
    [TSR_EUNSUPPORTED] = "TSR_EUNSUPPORTED: not supported by this build or CPU",
    [TSR_EIO] = "TSR_EIO: I/O or operating-system error",
    [TSR_ESTATE] = "TSR_ESTATE: object in the wrong state for this call",
    [TSR_EINTERNAL] = "TSR_EINTERNAL: internal error (a Tessera bug)",
};

const char *tsr_status_string(tsr_status status) {
    if ((int)status < 0 || status >= TSR_STATUS_COUNT) return "TSR_?: unknown status";
    return tsr_status_names[status];
}

const char *tsr_last_error(void) { return tsr_last_error_text; }

void tsr_last_error_clear(void) { tsr_last_error_text[0] = '\0'; }

void tsr_clear_error(void) { tsr_last_error_clear(); }

tsr_status tsr_verror(tsr_status status, const char *fmt, va_list ap) {
    vsnprintf(tsr_last_error_text, sizeof tsr_last_error_text, fmt, ap);
    return status;
}

tsr_status tsr_error(tsr_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tsr_verror(status, fmt, ap);
    va_end(ap);
    return status;
}

void tsr_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "tessera: internal invariant failed: %s (%s:%d). Please report this bug.\n",
            expr, file, line);
    abort();
}

const char *tsr_getenv(const char *name) {
    const char *v = getenv(name);
    return (v && v[0]) ? v : NULL;
}

uint32_t tsr_version(void) { return TSR_API_VERSION; }

const char *tsr_version_string(void) {
#define TSR_STR2(x) #x
#define TSR_STR(x) TSR_STR2(x)
    return TSR_STR(TSR_VERSION_MAJOR) "." TSR_STR(TSR_VERSION_MINOR) "." TSR_STR(TSR_VERSION_PATCH);
}
