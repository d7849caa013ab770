"""Per-thread limits on the threads a compiled step uses.

A compiled step may split kernels over cores (OpenMP, libgomp) and call OpenBLAS, which has its
own pool. With several replicas in one process (engine="local") that multiplies: N replicas x
(OpenMP team + BLAS pool) threads on the machine's cores, and barrier-synchronized parallel
regions stall when oversubscribed. Both libraries keep a per-thread setting, so each replica
thread limits only itself: ``omp_set_num_threads`` sets the calling thread's OpenMP
``nthreads-var``, and OpenBLAS (0.3.27+) has ``openblas_set_num_threads_local``.
"""
from __future__ import annotations

import ctypes
import glob
import os
from typing import Optional

_libs: dict = {}


def _load() -> dict:
    if _libs:
        return _libs
    try:
        gomp = ctypes.CDLL("libgomp.so.1")
        _libs["omp"] = gomp.omp_set_num_threads
    except (OSError, AttributeError):
        _libs["omp"] = None
    _libs["blas"] = None
    try:
        import numpy as np
        base = os.path.dirname(np.__file__)
        paths = glob.glob(os.path.join(base, "..", "numpy.libs", "libscipy_openblas*.so*")) + \
            glob.glob(os.path.join(base, ".libs", "libscipy_openblas*.so*"))
        for p in paths:
            lib = ctypes.CDLL(p)
            fn = getattr(lib, "openblas_set_num_threads_local", None)
            if fn is not None:
                fn.restype = ctypes.c_int
                fn.argtypes = [ctypes.c_int]
                _libs["blas"] = fn
                break
    except OSError:
        pass
    return _libs


def limit_threads(n: Optional[int]) -> None:
    """Let the calling thread's compiled kernels use at most ``n`` threads (None: no change)."""
    if not n:
        return
    libs = _load()
    if libs["omp"] is not None:
        libs["omp"](int(n))
    if libs["blas"] is not None:
        libs["blas"](int(n))


def default_threads_per_replica(replicas_in_process: int) -> Optional[int]:
    """The cores of this machine shared among the replicas of this process (None for one)."""
    if replicas_in_process <= 1:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // replicas_in_process)
