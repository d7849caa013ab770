"""Row-major GEMMs straight through cuBLAS (CuPy's handle and bindings), without building CuPy
arrays per call: ``cupy.matmul`` costs tens of microseconds of host time per call, which is
most of a small GEMM's time in a training step.

``C[M,N] = op(A) @ op(B)`` on row-major buffers is the column-major product
``C^T = op(B)^T @ op(A)^T``, so B goes first. The first use in a process checks the result
against ``cupy.matmul`` for the four transpose cases; on any difference or error it falls back
to ``cupy.matmul`` for good (with a warning). ``JITFLOW_CUDA_RAW_CUBLAS=0`` turns it off.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Optional

import numpy as np

_state: dict[str, Any] = {}


class RawGemm:
    """``gemm(dtype, ta, tb, M, N, K, a_ptr, lda, b_ptr, ldb, c_ptr)`` for float32/float64."""

    def __init__(self, cp) -> None:
        from cupy.cuda import cublas
        self.cublas = cublas
        self.handle = cp.cuda.device.get_cublas_handle()
        self.fns = {np.dtype(np.float32): cublas.sgemm, np.dtype(np.float64): cublas.dgemm}
        self.scalars = {dt: (np.ones(1, dt), np.zeros(1, dt)) for dt in self.fns}
        self.host_mode = cublas.CUBLAS_POINTER_MODE_HOST

    def supports(self, dtype) -> bool:
        return np.dtype(dtype) in self.fns

    def __call__(self, dtype, ta: bool, tb: bool, M: int, N: int, K: int,
                 a_ptr: int, lda: int, b_ptr: int, ldb: int, c_ptr: int) -> None:
        cb = self.cublas
        one, zero = self.scalars[np.dtype(dtype)]
        cb.setStream(self.handle, 0)                 # the legacy default stream, as Numba's
        cb.setPointerMode(self.handle, self.host_mode)
        self.fns[np.dtype(dtype)](self.handle, 1 if tb else 0, 1 if ta else 0, N, M, K,
                                  one.ctypes.data, b_ptr, ldb, a_ptr, lda,
                                  zero.ctypes.data, c_ptr, N)


def _self_check(g: RawGemm, cp) -> None:
    rng = np.random.RandomState(0)
    M, N, K = 5, 7, 3
    for dt in (np.float32, np.float64):
        for ta in (False, True):
            for tb in (False, True):
                a = rng.rand(*((K, M) if ta else (M, K))).astype(dt)
                b = rng.rand(*((N, K) if tb else (K, N))).astype(dt)
                da, db = cp.asarray(a), cp.asarray(b)
                dc = cp.zeros((M, N), dtype=dt)
                g(dt, ta, tb, M, N, K, da.data.ptr, a.shape[1], db.data.ptr, b.shape[1],
                  dc.data.ptr)
                cp.cuda.runtime.deviceSynchronize()
                want = (a.T if ta else a) @ (b.T if tb else b)
                if not np.allclose(cp.asnumpy(dc), want, rtol=1e-4, atol=1e-5):
                    raise AssertionError(f"raw {np.dtype(dt).name} GEMM ta={ta} tb={tb} "
                                         f"disagrees with NumPy")


def raw_gemm(cp) -> Optional[RawGemm]:
    """The checked raw GEMM for this process, or None (then use ``cupy.matmul``)."""
    if "gemm" in _state:
        return _state["gemm"]
    g = None
    if cp is not None and os.environ.get("JITFLOW_CUDA_RAW_CUBLAS", "1") not in ("0", ""):
        try:
            g = RawGemm(cp)
            _self_check(g, cp)
        except Exception as e:  # noqa: BLE001 - CuPy's bindings differ: use cupy.matmul
            warnings.warn(f"jitflow cuda: raw cuBLAS GEMMs unavailable, using cupy.matmul "
                          f"({type(e).__name__}: {e})", RuntimeWarning, stacklevel=2)
            g = None
    _state["gemm"] = g
    return g


def device_ptr(arr) -> int:
    """The device address of a Numba device array (or anything with the CUDA array
    interface)."""
    return int(arr.__cuda_array_interface__["data"][0])
