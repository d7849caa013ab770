"""Shared helpers for the cuda backend tests (tests/test_cuda_*.py).

Importing this module selects Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) unless the
variable is already set: CI has no GPU. ``benchmarks/gpu_check.sh`` sets it to 0 on a GPU
machine so the same tests run on the real device. It must be imported before anything imports
``numba.cuda`` (the backend re-reads Numba's config on first use, so importing ``numba``
earlier is fine).
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import importlib.util  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jitflow.ops  # noqa: E402,F401  (registers the ops)
from jitflow.backends import get_backend  # noqa: E402
from jitflow.ir import Function, as_dtype  # noqa: E402
from jitflow.passes.manager import PassManager, pipeline_for  # noqa: E402
from _llvm_util import build, reference  # noqa: E402,F401  (the same IR helpers)

HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "") not in ("", "0")

needs_cuda = pytest.mark.skipif(
    not HAVE_NUMBA_CUDA, reason="numba-cuda is not installed (pip install -e '.[cuda]')")


def usable_or_skip() -> None:
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda is not installed (pip install -e '.[cuda]')")
    if "numba.cuda" in sys.modules and not SIMULATED:
        from jitflow.backends.cuda.device import gpu_present
        if not gpu_present():
            pytest.skip("no CUDA GPU and the simulator is off (NUMBA_ENABLE_CUDASIM=0)")
    from jitflow.backends.cuda.device import cuda_usable, is_simulator
    if not cuda_usable():
        pytest.skip("no CUDA GPU and the simulator is off (NUMBA_ENABLE_CUDASIM=0)")
    if SIMULATED and not is_simulator():
        pytest.skip("numba.cuda was imported in GPU mode before the simulator was requested")


F32, F64, I32, I64, BOOL = (as_dtype(n) for n in ("f32", "f64", "i32", "i64", "bool"))

RTOL = {"f32": 2e-5, "f64": 1e-12}
ATOL = {"f32": 1e-6, "f64": 1e-12}


def compile_cuda(f: Function, **opts):
    """The cuda pipeline (legalize, fusion) on a copy of ``f``, compiled by the cuda backend
    (which raises UnsupportedOp rather than falling back); ``opts`` are CompileOptions fields."""
    from jitflow.backends.base import CompileOptions
    g = PassManager(pipeline_for("cuda")).run(f.clone())
    return get_backend("cuda").compile(g, CompileOptions(**opts))


def cuda_run(f: Function, args, **opts) -> list:
    out = compile_cuda(f, **opts).run(list(args))
    return [np.asarray(o) for o in out]


def assert_same(ref, got, *, rtol=None, atol=None, what: str = "") -> None:
    ref, got = np.asarray(ref), np.asarray(got)
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype}, reference {ref.dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, reference {ref.shape}"
    if ref.dtype.kind != "f":
        if not np.array_equal(ref, got):
            bad = np.argwhere(ref != got)[:5]
            raise AssertionError(f"{what}: mismatch at {bad.tolist()}: got "
                                 f"{got[tuple(bad.T)]}, reference {ref[tuple(bad.T)]}")
        return
    short = "f32" if ref.dtype == np.float32 else "f64"
    rtol = RTOL[short] if rtol is None else rtol
    atol = ATOL[short] if atol is None else atol
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def check(f: Function, args, **tol) -> list:
    args = list(args)
    ref = reference(f, args)
    got = cuda_run(f, args)
    assert len(ref) == len(got)
    for i, (r, g) in enumerate(zip(ref, got)):
        assert_same(r, g, what=f"result {i} of\n{f}", **tol)
    return got


def rand(dtype, shape, seed=0, lo=-3.0, hi=3.0, special=False, nonzero=False):
    rng = np.random.default_rng(seed)
    dtype = as_dtype(dtype)
    shape = tuple(shape)
    if dtype.is_bool:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.is_integer:
        a = rng.integers(int(lo), int(hi) + 1, shape).astype(dtype.np)
        if nonzero:
            a[a == 0] = 1
        return a
    a = rng.uniform(lo, hi, shape).astype(dtype.np)
    if nonzero:
        a[a == 0] = 1
    if special and a.size:
        flat = a.reshape(-1)
        sp = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype.np)
        for k in range(min(len(sp), flat.size)):
            flat[(k * 7) % flat.size] = sp[k]
    return a
