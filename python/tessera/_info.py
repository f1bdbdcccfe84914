from __future__ import annotations

import ctypes

from . import _lib
from ._lib import c_char_p, c_int32, c_int64, c_uint32, lib


class _Topology(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("packages", c_int32), ("numa_nodes", c_int32), ("cores", c_int32),
                ("pus", c_int32), ("l1d_bytes", c_int64), ("l2_bytes", c_int64), ("l3_bytes", c_int64),
                ("from_hwloc", c_int32), ("source", ctypes.c_char * 96)]


class _BuildInfo(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("optimized", c_int32), ("compiler", c_char_p)]


_lib._sig("tsr_topology_get", c_int32, ctypes.c_void_p)
_lib._sig("tsr_build_info_get", c_int32, ctypes.c_void_p)


def info(print_it: bool = False) -> dict:
    """Version, library paths, active/supported ISA, topology and build of the loaded libtessera."""
    topo = _Topology(size=ctypes.sizeof(_Topology))
    _lib.check(lib.tsr_topology_get(ctypes.byref(topo)))
    build = _BuildInfo(size=ctypes.sizeof(_BuildInfo))
    _lib.check(lib.tsr_build_info_get(ctypes.byref(build)))
    try:
        cluster = _lib.cluster_lib()._path
    except ImportError:
        cluster = None
    d = {
        "version": lib.tsr_version_string().decode(),
        "library": lib._path,
        "cluster_library": cluster,
        "isa": lib.tsr_isa_name(lib.tsr_isa_active()).decode(),
        "isa_supported": lib.tsr_isa_name(lib.tsr_isa_supported()).decode(),
        "cores": topo.cores, "pus": topo.pus, "packages": topo.packages, "numa_nodes": topo.numa_nodes,
        "l1d_bytes": topo.l1d_bytes, "l2_bytes": topo.l2_bytes, "l3_bytes": topo.l3_bytes,
        "topology_source": topo.source.decode(errors="replace"),
        "optimized": bool(build.optimized),
        "compiler": build.compiler.decode() if build.compiler else "",
        "default_threads": _lib.pool_threads(None),
    }
    if print_it:
        for k, v in d.items():
            print(f"{k:>16}: {v}")
    return d
