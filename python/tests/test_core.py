"""Loading, info(), error mapping, pools and the GIL."""
import ctypes
import threading
import time

import numpy as np
import pytest

import tessera
from tessera import _lib


def test_info_reports_the_loaded_library():
    d = tessera.info()
    assert d["version"] == "0.1.0"
    assert d["isa"] in ("scalar", "avx2", "avx512")
    assert d["cores"] >= 1 and d["default_threads"] >= 1
    assert d["library"].endswith(".so")


def test_library_is_cdll_so_calls_release_the_gil():
    # ctypes.PyDLL keeps the GIL; CDLL releases it around every foreign call
    assert isinstance(_lib.lib, ctypes.CDLL) and not isinstance(_lib.lib, ctypes.PyDLL)
    assert _lib.lib._func_flags_ & ctypes._FUNCFLAG_PYTHONAPI == 0


def test_other_threads_run_during_a_long_call():
    from tessera.random_projection import GaussianRandomProjection
    X = np.random.default_rng(0).random((3000, 2000))
    rp = GaussianRandomProjection(256, random_state=0, n_threads=1).fit(X)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    rp.transform(X)
    t1 = time.perf_counter()
    stop.set()
    t.join()
    inside = [x for x in ticks if t0 < x < t1]
    assert t1 - t0 < 0.02 or len(inside) >= 2, f"{len(inside)} ticks during a {t1 - t0:.3f} s call"


def test_c_errors_carry_the_message_and_map_to_python_types():
    with pytest.raises(ValueError, match=r"tsr_rp_create.*TSR_EINVAL"):
        h = ctypes.c_void_p()
        _lib.check(_lib.lib.tsr_rp_create(-1, 4, None, ctypes.byref(h)))
    err = pytest.raises(tessera.TesseraError, _lib.check, _lib.TSR_ENOMEM).value
    assert isinstance(err, MemoryError) and err.status == _lib.TSR_ENOMEM
    assert isinstance(pytest.raises(OSError, _lib.check, _lib.TSR_EIO).value, tessera.TesseraError)
    assert isinstance(pytest.raises(NotImplementedError, _lib.check, _lib.TSR_EUNSUPPORTED).value, tessera.TesseraError)
    assert isinstance(pytest.raises(RuntimeError, _lib.check, _lib.TSR_EINTERNAL).value, tessera.TesseraError)


@pytest.mark.parametrize("bad", [-2, 5000])
def test_pool_sizes_are_checked(bad):
    with pytest.raises(ValueError):
        _lib.pool(bad)


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_pool_size_type_is_checked(bad):
    with pytest.raises(TypeError):
        _lib.pool(bad)


def test_pools_are_cached_and_sized():
    assert _lib.pool(1) == _lib.pool(1)
    assert _lib.pool_threads(1) == 1
    assert _lib.pool_threads(2) == 2
