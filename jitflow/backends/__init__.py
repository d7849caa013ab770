"""Backends behind one interface; ``get_backend(name)`` picks one.

``JITFLOW_BACKEND`` (environment) selects the default; without it the default is ``cuda`` when
a real GPU is present (asked of the driver, the simulator does not count) and numba-cuda is
installed, else ``llvm``. The reference backend is the oracle.
"""
from __future__ import annotations

import os

from .base import Backend, Executable

_FACTORIES = {}


def register_backend(name: str, factory) -> None:
    _FACTORIES[name] = factory


def available_backends() -> list[str]:
    return sorted(_FACTORIES)


def default_backend_name() -> str:
    name = os.environ.get("JITFLOW_BACKEND", "")
    if name:
        return name
    from .cuda.device import gpu_present, numba_cuda_installed
    return "cuda" if numba_cuda_installed() and gpu_present() else "llvm"


def get_backend(name: str | None = None) -> Backend:
    name = name or default_backend_name()
    if name not in _FACTORIES:
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(available_backends())}")
    return _FACTORIES[name]()


def _reference():
    from .reference import ReferenceBackend
    return ReferenceBackend()


def _llvm():
    from .llvm import LLVMBackend
    return LLVMBackend()


def _cuda():
    from .cuda import CUDABackend
    return CUDABackend()


register_backend("reference", _reference)
register_backend("llvm", _llvm)
register_backend("cuda", _cuda)

# each backend declares its pass pipeline (pure IR: no llvmlite or Numba import)
from .cuda import pipeline as _cuda_pipeline  # noqa: E402,F401
from .llvm import pipeline as _llvm_pipeline  # noqa: E402,F401

__all__ = ["Backend", "Executable", "available_backends", "default_backend_name", "get_backend",
           "register_backend"]
