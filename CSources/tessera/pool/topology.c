/*
 * Machine topology: hwloc when it can load one, else sched_getaffinity + sysconf.
 * Loaded once per process. Also provides the ordered list of core cpusets the
 * pool binds its workers to.
 *
 * hwloc is optional at build time: TSR_HAVE_HWLOC=0 (the Makefile sets it when
 * `pkg-config hwloc` finds nothing) compiles only the fallback, which is also the path
 * taken at run time when hwloc cannot load a topology or TESSERA_NO_HWLOC is set.
 * Without the define, hwloc is used when <hwloc.h> is there (SwiftPM: the CHwloc target).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TSR_HAVE_HWLOC
#  if defined(__has_include)
#    if __has_include(<hwloc.h>)
#      define TSR_HAVE_HWLOC 1
#    endif
#  endif
#endif
#ifndef TSR_HAVE_HWLOC
#  define TSR_HAVE_HWLOC 0
#endif

#if TSR_HAVE_HWLOC
#include <hwloc.h>
#else
typedef void *hwloc_topology_t;  /* always NULL: the fallback path */
#endif

#include "pool_internal.h"

static struct {
    tsr_topology_info info;
    hwloc_topology_t topo;       /* NULL on the fallback path */
    int32_t n_cores;             /* entries in core_cpus */
    cpu_set_t *core_cpus;        /* CPUs of each core, in binding order for TSR_BIND_CORE */
    int32_t *core_package;       /* package/NUMA group of each core (for scatter) */
    char hwloc_version[48];      /* filled once, with the topology */
} g_topo;

static pthread_once_t g_topo_once = PTHREAD_ONCE_INIT;
static void ensure_loaded(void);

static void fallback_caches(tsr_topology_info *t) {
    long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE),
         l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    t->l1d_bytes = l1 > 0 ? l1 : 32 * 1024;
    t->l2_bytes = l2 > 0 ? l2 : 1024 * 1024;
    t->l3_bytes = l3 > 0 ? l3 : 0;
}

static void load_fallback(const char *why) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        for (long i = 0; i < (n > 0 ? n : 1) && i < CPU_SETSIZE; i++) CPU_SET((int)i, &allowed);
    }
    int n = CPU_COUNT(&allowed);
    if (n < 1) n = 1;
    g_topo.core_cpus = calloc((size_t)n, sizeof(cpu_set_t));
    g_topo.core_package = calloc((size_t)n, sizeof(int32_t));
    int k = 0;
    for (int c = 0; c < CPU_SETSIZE && k < n && g_topo.core_cpus; c++) {
        if (!CPU_ISSET(c, &allowed)) continue;
        CPU_ZERO(&g_topo.core_cpus[k]);
        CPU_SET(c, &g_topo.core_cpus[k]);
        k++;
    }
    g_topo.n_cores = g_topo.core_cpus ? k : 0;
    tsr_topology_info *t = &g_topo.info;
    t->packages = 1;
    t->numa_nodes = 1;
    t->cores = n;  /* SMT siblings cannot be told apart here: each CPU counts as a core */
    t->pus = n;
    t->from_hwloc = 0;
    fallback_caches(t);
    snprintf(t->source, sizeof t->source, "sched_getaffinity/sysconf (hwloc unavailable: %s)", why);
}

#if TSR_HAVE_HWLOC
/* Size of the first data/unified cache of `depth_type` above the PU of a core. */
static int64_t cache_above(hwloc_obj_t obj, hwloc_obj_type_t type) {
    for (hwloc_obj_t p = obj; p; p = p->parent)
        if (p->type == type && p->attr && p->attr->cache.type != HWLOC_OBJ_CACHE_INSTRUCTION)
            return (int64_t)p->attr->cache.size;
    return 0;
}

static void load_hwloc(void) {

    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0) { load_fallback(strerror(errno)); return; }
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        load_fallback(strerror(errno));
        return;
    }
    int n_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (n_cores < 1) {
        hwloc_topology_destroy(topo);
        load_fallback("no cores in the topology");
        return;
    }
    g_topo.topo = topo;
    g_topo.core_cpus = calloc((size_t)n_cores, sizeof(cpu_set_t));
    g_topo.core_package = calloc((size_t)n_cores, sizeof(int32_t));
    if (!g_topo.core_cpus || !g_topo.core_package) { n_cores = 0; }
    int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    for (int i = 0; i < n_cores; i++) {
        hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
        CPU_ZERO(&g_topo.core_cpus[i]);
        int cpu;
        hwloc_bitmap_foreach_begin(cpu, core->cpuset)
            if (cpu < CPU_SETSIZE) CPU_SET(cpu, &g_topo.core_cpus[i]);
        hwloc_bitmap_foreach_end();
        /* group for scatter: NUMA node if there are several, else package */
        hwloc_obj_t grp = NULL;
        if (numa > 1) {
            hwloc_obj_t nn = NULL;
            while ((nn = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, nn)) != NULL)
                if (hwloc_bitmap_isincluded(core->cpuset, nn->cpuset)) { grp = nn; break; }
        }
        if (!grp) grp = hwloc_get_ancestor_obj_by_type(topo, HWLOC_OBJ_PACKAGE, core);
        g_topo.core_package[i] = grp ? (int32_t)grp->logical_index : 0;
    }
    g_topo.n_cores = n_cores;

    tsr_topology_info *t = &g_topo.info;
    t->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    if (t->packages < 1) t->packages = 1;
    t->numa_nodes = numa > 0 ? numa : 1;
    t->cores = n_cores;
    t->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    hwloc_obj_t pu0 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, 0);
    t->l1d_bytes = cache_above(pu0, HWLOC_OBJ_L1CACHE);
    t->l2_bytes = cache_above(pu0, HWLOC_OBJ_L2CACHE);
    t->l3_bytes = cache_above(pu0, HWLOC_OBJ_L3CACHE);
    if (t->l1d_bytes == 0 || t->l2_bytes == 0) {
        tsr_topology_info fb = *t;
        fallback_caches(&fb);
        if (t->l1d_bytes == 0) t->l1d_bytes = fb.l1d_bytes;
        if (t->l2_bytes == 0) t->l2_bytes = fb.l2_bytes;
    }
    t->from_hwloc = 1;
    const char *ver = hwloc_obj_get_info_by_name(hwloc_get_root_obj(topo), "hwlocVersion");
    snprintf(t->source, sizeof t->source, "hwloc %s", ver ? ver : "(version unknown)");
}

/* The library's own version ("hwlocVersion" info of the root object) when a topology is
 * loaded; else the API version it implements. */
static void load_version(void) {
    const char *v = NULL;
    if (g_topo.topo) v = hwloc_obj_get_info_by_name(hwloc_get_root_obj(g_topo.topo), "hwlocVersion");
    if (v) {
        snprintf(g_topo.hwloc_version, sizeof g_topo.hwloc_version, "%s", v);
    } else {
        unsigned a = hwloc_get_api_version();
        snprintf(g_topo.hwloc_version, sizeof g_topo.hwloc_version, "API %u.%u.%u",
                 (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
    }
}
#else
static void load_hwloc(void) { load_fallback("built without hwloc"); }
static void load_version(void) { snprintf(g_topo.hwloc_version, sizeof g_topo.hwloc_version, "none"); }
#endif

static void load_topology(void) {
    memset(&g_topo, 0, sizeof g_topo);
    g_topo.info.size = sizeof g_topo.info;
    if (tsr_getenv("TESSERA_NO_HWLOC")) { load_fallback("TESSERA_NO_HWLOC is set"); return; }
    load_hwloc();
}

static void load_all(void) {
    load_topology();
    load_version();
}

static void ensure_loaded(void) { pthread_once(&g_topo_once, load_all); }

tsr_status tsr_topology_info_get(tsr_topology_info *out) {
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(out->size >= sizeof(tsr_topology_info),
                  "tsr_topology_info_get: out->size is %u, expected %zu (set it to sizeof(tsr_topology_info))",
                  out->size, sizeof(tsr_topology_info));
    ensure_loaded();
    *out = g_topo.info;
    return TSR_OK;
}

tsr_status tsr_topology_get(tsr_topology_info *out) { return tsr_topology_info_get(out); }

const char *tsr_hwloc_version(void) {
    ensure_loaded();
    return g_topo.hwloc_version;
}

int32_t tsr_topo_num_cores(void) {
    ensure_loaded();
    return g_topo.n_cores > 0 ? g_topo.n_cores : 1;
}

/* CPU set for worker `w` of a pool with `n` workers under `bind`. Returns 0 if no binding applies. */
int tsr_topo_worker_cpus(tsr_bind bind, int32_t w, cpu_set_t *out) {
    ensure_loaded();
    if (bind == TSR_BIND_NONE || g_topo.n_cores < 1) return 0;
    int32_t nc = g_topo.n_cores;
    int32_t core = w % nc;
    if (bind == TSR_BIND_SCATTER) {
        /* order cores: first core of each group, then second of each group, ... */
        int32_t groups = 0;
        for (int32_t i = 0; i < nc; i++) if (g_topo.core_package[i] + 1 > groups) groups = g_topo.core_package[i] + 1;
        int32_t idx = 0, target = w % nc;
        for (int32_t round = 0; round < nc; round++) {
            for (int32_t g = 0; g < groups; g++) {
                int32_t seen = 0;
                for (int32_t i = 0; i < nc; i++) {
                    if (g_topo.core_package[i] != g) continue;
                    if (seen++ == round) {
                        if (idx++ == target) { core = i; goto found; }
                        break;
                    }
                }
            }
        }
    found:;
    }
    *out = g_topo.core_cpus[core];
    return 1;
}

/* Binds the calling thread to the CPUs of worker `w`: with hwloc_set_cpubind when hwloc
 * loaded the topology, else sched_setaffinity. Returns 0 on success or no-op. */
int tsr_topo_bind_current(tsr_bind bind, int32_t w) {
    cpu_set_t set;
    if (!tsr_topo_worker_cpus(bind, w, &set)) return 0;
#if TSR_HAVE_HWLOC
    if (g_topo.topo) {
        hwloc_bitmap_t bm = hwloc_bitmap_alloc();
        if (!bm) return -1;
        for (int c = 0; c < CPU_SETSIZE; c++) if (CPU_ISSET(c, &set)) hwloc_bitmap_set(bm, (unsigned)c);
        int rc = hwloc_set_cpubind(g_topo.topo, bm, HWLOC_CPUBIND_THREAD);
        hwloc_bitmap_free(bm);
        return rc;
    }
#endif
    return sched_setaffinity(0, sizeof set, &set);
}
