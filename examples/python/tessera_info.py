#!/usr/bin/env python3
"""Calls Tessera's C ABI through ctypes, with no compilation step.

    python3 examples/python/tessera_info.py [path/to/libtessera.so]

Finds libtessera.so in $TESSERA_LIB, the argument, build/lib, or the system path.
"""
import ctypes
import ctypes.util
import os
import sys


def load_tessera():
    candidates = [os.environ.get("TESSERA_LIB"), *(sys.argv[1:2]),
                  os.path.join(os.path.dirname(__file__), "..", "..", "build", "lib", "libtessera.so"),
                  ctypes.util.find_library("tessera")]
    for c in candidates:
        if c and (os.path.exists(c) or not os.path.sep in c):
            try:
                return ctypes.CDLL(c)
            except OSError:
                pass
    sys.exit("libtessera.so not found: run `make lib` or set TESSERA_LIB")


class TopologyInfo(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("packages", ctypes.c_int32), ("numa_nodes", ctypes.c_int32),
                ("cores", ctypes.c_int32), ("pus", ctypes.c_int32), ("l1d_bytes", ctypes.c_int64),
                ("l2_bytes", ctypes.c_int64), ("l3_bytes", ctypes.c_int64), ("from_hwloc", ctypes.c_int32),
                ("source", ctypes.c_char * 96)]


RANGE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int32)

lib = load_tessera()
lib.tsr_version_string.restype = ctypes.c_char_p
lib.tsr_last_error.restype = ctypes.c_char_p
lib.tsr_status_string.restype = ctypes.c_char_p
lib.tsr_isa_name.restype = ctypes.c_char_p
lib.tsr_isa_name.argtypes = [ctypes.c_int]
lib.tsr_parallel_for.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int, RANGE_FN, ctypes.c_void_p]

topo = TopologyInfo(size=ctypes.sizeof(TopologyInfo))
assert lib.tsr_topology_info_get(ctypes.byref(topo)) == 0, lib.tsr_last_error()
print(f"Tessera {lib.tsr_version_string().decode()} via ctypes")
print(f"  {topo.cores} core(s), {topo.pus} PU(s), L2 {topo.l2_bytes >> 10} KiB, source: {topo.source.decode()}")
print(f"  active ISA: {lib.tsr_isa_name(lib.tsr_isa_active()).decode()}")

# A parallel loop whose body is a Python callback (ctypes takes the GIL for each call).
seen = []
body = RANGE_FN(lambda ctx, b, e, w: seen.append((b, e)))
status = lib.tsr_parallel_for(None, 1000, 100, 1, body, None)   # dynamic schedule, chunks of 100
assert status == 0 and sorted(seen) == [(i, i + 100) for i in range(0, 1000, 100)], seen
print(f"  parallel_for: {len(seen)} chunks covered [0, 1000)")

# Bad input returns a status and a message; nothing crashes.
status = lib.tsr_parallel_for(None, -1, 0, 0, body, None)
print(f"  bad call -> {lib.tsr_status_string(status).decode()}: {lib.tsr_last_error().decode()}")
assert status == 1
