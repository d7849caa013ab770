"""The namespace generated kernel sources run in, and their compilation.

Generated code calls helpers by name (``_exp_f32``, ``_mul_f64``, ...). On a GPU they are
libdevice functions: every floating-point multiply of generated code is ``fmul_rn`` /
``dmul_rn``, which NVVM never contracts into an FMA, so elementwise results (and the random
ops' Philox -> float arithmetic) round exactly as NumPy does. Under the simulator the same names
are NumPy functions (NumPy scalars keep float32 arithmetic in float32 and turn domain errors
into NaN/inf as the GPU does).
"""
from __future__ import annotations

import hashlib
import math
import threading

import numpy as np

from ...ops.math_unary import lgamma_scalar
from .device import cuda, is_simulator

_lock = threading.Lock()
_ns: dict = {}
_kernels: dict = {}

UNARY_FNS = ("exp", "log", "tanh", "sqrt", "log1p", "expm1", "floor", "ceil", "rint", "sin",
             "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh")
#: libdevice functions NumPy lacks: the simulator uses ``math``'s (lgamma: +inf at the poles)
MATH_FNS = ("erf", "erfc", "lgamma")


def namespace() -> dict:
    """Globals for generated kernels (built once per process)."""
    if _ns:
        return _ns
    with _lock:
        if _ns:
            return _ns
        c = cuda()
        ns = {"cuda": c, "math": math, "np": np,
              "f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64,
              "u64": np.uint64, "u32": np.uint32, "f16": np.float16, "i8": np.int8,
              "u8": np.uint8, "i16": np.int16, "u16": np.uint16,
              "INF": math.inf, "NAN": math.nan}
        if is_simulator():
            for fn in UNARY_FNS:
                ns[f"_{fn}_f32"] = ns[f"_{fn}_f64"] = getattr(np, fn)
            for fn, impl in (("erf", math.erf), ("erfc", math.erfc), ("lgamma", lgamma_scalar)):
                ns[f"_{fn}_f32"] = ns[f"_{fn}_f64"] = impl
            ns["_atan2_f32"] = ns["_atan2_f64"] = np.arctan2
            ns["_pow_f32"] = ns["_pow_f64"] = np.power
            ns["_mul_f32"] = ns["_mul_f64"] = _sim_mul
        else:
            from numba.cuda import libdevice as ld
            for fn in UNARY_FNS + MATH_FNS:
                ns[f"_{fn}_f32"] = getattr(ld, fn + "f")
                ns[f"_{fn}_f64"] = getattr(ld, fn)
            ns["_atan2_f32"], ns["_atan2_f64"] = ld.atan2f, ld.atan2
            ns["_pow_f32"], ns["_pow_f64"] = ld.powf, ld.pow
            ns["_mul_f32"], ns["_mul_f64"] = ld.fmul_rn, ld.dmul_rn
        _ns.update(ns)
    return _ns


def _sim_mul(a, b):
    return a * b


def compile_source(src: str, names: tuple[str, ...]) -> dict:
    """exec ``src`` in the kernel namespace and ``cuda.jit`` each named function; cached by
    the source text, so identical groups share compiled kernels across executables."""
    key = hashlib.sha1(src.encode()).hexdigest()
    hit = _kernels.get(key)
    if hit is not None:
        return hit
    ns = dict(namespace())
    code = compile(src, f"<jitflow-cuda-{key[:10]}>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated source
    c = cuda()
    out = {n: c.jit(ns[n]) for n in names}
    out["__source__"] = src
    out["__python__"] = {n: ns[n] for n in names}
    with _lock:
        _kernels[key] = out
    return out


def launch(kernel, grid: int, block: int, args: tuple) -> None:
    kernel[grid, block](*args)


def all_sources() -> list[str]:
    return [v["__source__"] for v in _kernels.values()]
