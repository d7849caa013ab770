"""Access to the GPU for the cuda backend.

* ``cuda()``: the ``numba.cuda`` module, imported on first use. ``NUMBA_ENABLE_CUDASIM=1`` selects
  Numba's CUDA simulator (kernels run on the CPU); it is honoured even when the variable is set
  after ``numba`` itself was imported (the config is re-read before ``numba.cuda`` loads).
* ``gpu_present()``: is a real NVIDIA GPU usable? Asked of the driver (``libcuda``) through
  ctypes, never through ``numba.cuda``: importing that would fix the simulator choice for the
  whole process.
* ``DeviceTensor``: a device-resident array (a flat Numba device array plus shape and dtype).
  Variables live in the Session as DeviceTensors between steps; ``np.asarray(t)`` copies to
  the host.
* NumPy 2.5 compatibility for numba-cuda 0.30 (``_numpy_compat``).
* ``alloc()``: every device allocation of the backend; an out-of-memory error names the tensor,
  its shape and its size in bytes (``JITFLOW_CUDA_MEMORY_LIMIT=<bytes>`` caps single
  allocations, which makes the error testable under the simulator).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from typing import Any, Optional

import numpy as np

from ...errors import ResourceExhaustedError

_lock = threading.Lock()
_state: dict = {}


def _numpy_compat() -> None:
    """numba-cuda 0.30 registers an overload for ``np.row_stack`` when it first compiles a
    kernel, and NumPy 2.5 removed that alias of ``np.vstack``: without it every compilation fails
    (AttributeError: module 'numpy' has no attribute 'row_stack'; seen on the lent H200 machines'
    NumPy 2.5.2). Put the alias back while it is missing."""
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


_numpy_compat()


def simulator_requested() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")


def numba_cuda_installed() -> bool:
    try:
        return importlib.util.find_spec("numba_cuda") is not None
    except (ImportError, ValueError):
        return False


def cuda():
    """``numba.cuda`` (the simulator when NUMBA_ENABLE_CUDASIM=1)."""
    mod = _state.get("cuda")
    if mod is not None:
        return mod
    with _lock:
        if "cuda" not in _state:
            # small tensors give small grids: Numba's per-launch occupancy warning is noise
            os.environ.setdefault("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS", "0")
            if "numba.cuda" not in sys.modules:
                try:   # numba caches its environment config at import; re-read it
                    import numba.core.config as ncfg
                    ncfg.reload_config()
                except Exception:  # noqa: BLE001 - an older numba: its import reads the env
                    pass
            from numba import cuda as mod
            try:
                from numba.cuda.core import config as ccfg
                if os.environ.get("NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS") == "0":
                    ccfg.CUDA_LOW_OCCUPANCY_WARNINGS = 0
            except (ImportError, AttributeError):
                pass
            _state["cuda"] = mod
            if simulator_requested():
                _fix_simulator_shared_arrays()
    return _state["cuda"]


def _fix_simulator_shared_arrays() -> None:
    """Numba's simulator creates a block's ``cuda.shared.array`` on the first call from each
    source line with an unlocked check-then-insert: two simulated threads calling it at the
    same time can get different arrays, and a shared-memory reduction then reads
    uninitialized memory (seen as rare wrong sums in the random-graph tests). Same lookup,
    under a lock."""
    try:
        from numba.cuda.simulator import kernelapi
    except ImportError:
        return
    cls = getattr(kernelapi, "FakeCUDAShared", None)
    if cls is None or getattr(cls, "_jitflow_locked", False):
        return
    orig = cls.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0 or not hasattr(self, "_allocations"):
            return orig(self, shape, dtype, alignment)
        from numba.core import types
        from numba.np import numpy_support
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        f = sys._getframe(1)
        caller = (f.f_code.co_filename, f.f_lineno)
        with lock:
            res = self._allocations.get(caller)
            if res is None:
                res = np.empty(shape, dtype)
                self._allocations[caller] = res
        return res

    cls.array = array
    cls._jitflow_locked = True


def is_simulator() -> bool:
    """True when the imported numba.cuda is the simulator."""
    c = cuda()
    try:
        from numba.cuda.core import config as ccfg
        return bool(ccfg.ENABLE_CUDASIM)
    except ImportError:
        return "simulator" in type(c.device_array(1)).__module__


def gpu_present() -> bool:
    """A real CUDA device is usable (the driver reports one). Cached per process."""
    if "gpu" in _state:
        return _state["gpu"]
    found = False
    if os.environ.get("JITFLOW_DISABLE_GPU", "") in ("", "0"):
        for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                continue
            try:
                if lib.cuInit(0) == 0:
                    n = ctypes.c_int(0)
                    found = lib.cuDeviceGetCount(ctypes.byref(n)) == 0 and n.value > 0
            except (AttributeError, OSError):
                found = False
            break
    _state["gpu"] = found
    return found


def cuda_usable() -> bool:
    """The cuda backend can run here: a real GPU with numba-cuda, or the simulator."""
    if not numba_cuda_installed():
        return False
    return simulator_requested() or gpu_present()


def device_count() -> int:
    if not cuda_usable():
        return 0
    if simulator_requested():
        return 1
    try:
        return max(1, len(cuda().gpus))
    except Exception:  # noqa: BLE001
        return 1


def cupy_module():
    """CuPy (cuBLAS) when importable and a real GPU is in use, else None."""
    if "cupy" in _state:
        return _state["cupy"]
    cp = None
    if not is_simulator() and os.environ.get("JITFLOW_CUDA_NO_CUBLAS", "") in ("", "0"):
        try:
            import cupy as cp  # noqa: F811
            cp.cuda.runtime.getDeviceCount()
        except Exception:  # noqa: BLE001 - no CuPy, or CuPy without a usable device
            cp = None
    _state["cupy"] = cp
    return cp


# ------------------------------------------------------------------ allocation -------------

def _limit() -> Optional[int]:
    v = os.environ.get("JITFLOW_CUDA_MEMORY_LIMIT", "")
    return int(v) if v.strip() else None


def _oom(what: str, shape, dtype, nbytes: int, detail: str = "") -> ResourceExhaustedError:
    shp = "[" + ",".join(str(d) for d in shape) + "]" if shape is not None else "?"
    dt = np.dtype(dtype).name if dtype is not None else "bytes"
    return ResourceExhaustedError(
        f"OOM when allocating tensor {what} with shape {shp} and type {dt} ({nbytes} bytes) "
        f"on the GPU{': ' + detail if detail else ''}")


def _is_oom(e: Exception) -> bool:
    text = f"{type(e).__name__} {e}"
    return "OUT_OF_MEMORY" in text.upper() or "out of memory" in text.lower() or \
        isinstance(e, MemoryError)


def alloc(n: int, dtype, what: str, shape=None):
    """A flat device array of ``n`` elements; OOM is a ResourceExhaustedError naming ``what``."""
    dtype = np.dtype(dtype)
    nbytes = int(n) * dtype.itemsize
    shape = (n,) if shape is None else shape
    lim = _limit()
    if lim is not None and nbytes > lim:
        raise _oom(what, shape, dtype, nbytes,
                   f"over JITFLOW_CUDA_MEMORY_LIMIT={lim} bytes")
    try:
        return cuda().device_array(max(int(n), 0), dtype=dtype)
    except Exception as e:  # noqa: BLE001
        if _is_oom(e):
            raise _oom(what, shape, dtype, nbytes, str(e)) from None
        raise


def upload(host: np.ndarray, what: str):
    """A new flat device copy of ``host``."""
    host = np.ascontiguousarray(host)
    d = alloc(host.size, host.dtype, what, host.shape)
    if host.size:
        d.copy_to_device(host.reshape(-1))
    return d


def flush_deallocations() -> None:
    """Release freed device memory now (Numba defers frees)."""
    if "cuda" not in _state or is_simulator():
        return
    try:
        _state["cuda"].current_context().deallocations.clear()
    except Exception:  # noqa: BLE001 - no context yet: nothing to free
        pass


class DeviceTensor:
    """A tensor resident in GPU memory: ``data`` is a flat device array of ``size`` elements."""

    __slots__ = ("data", "shape", "dtype", "__weakref__")
    base = None   # never a view of another array (the Session copies views)

    def __init__(self, data, shape, dtype) -> None:
        self.data = data
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def numpy(self) -> np.ndarray:
        out = np.empty(self.shape, dtype=self.dtype)
        if self.data is None:
            raise ValueError("this device tensor was freed (Session closed)")
        if out.size:
            self.data[:out.size].copy_to_host(out.reshape(-1))
        return out

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype, copy=False)

    def free(self) -> None:
        self.data = None

    def __repr__(self) -> str:
        return f"<DeviceTensor {self.dtype.name}{list(self.shape)}>"


def to_host(x: Any) -> np.ndarray:
    return x.numpy() if isinstance(x, DeviceTensor) else np.asarray(x)
