"""Shared helpers for the llvm backend tests (tests/test_llvm_*.py): build a small IR Function,
run it on the llvm and reference backends, compare with per-dtype tolerances, and
hypothesis strategies for shapes (static, size-0/1, symbolic) that broadcast."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np
import pytest
from hypothesis import strategies as st

import jitflow.ops  # noqa: F401  (registers the ops)
from jitflow.backends import get_backend
from jitflow.ir import Builder, Function, TensorType, as_dtype, verify

F32, F64, I32, I64, BOOL = (as_dtype(n) for n in ("f32", "f64", "i32", "i64", "bool"))

#: JITFLOW_TEST_EXAMPLES=<k> multiplies every hypothesis example count of the llvm tests by k
#: (a longer bug hunt; the default keeps the suite fast)
EXAMPLES_SCALE = max(1, int(os.environ.get("JITFLOW_TEST_EXAMPLES", "1")))


def examples(n: int) -> int:
    return n * EXAMPLES_SCALE
ALL_DTYPES = (F32, F64, I32, I64, BOOL)
NUMERIC = (F32, F64, I32, I64)

#: float32 tolerances: arithmetic (a few roundings, BLAS reassociation) and the fast
#: transcendentals of mathlib.py (documented there: <= 4e-7, against NumPy's own ~1 ulp)
RTOL = {"f32": 2e-5, "f64": 1e-12}
ATOL = {"f32": 1e-6, "f64": 1e-12}
TRANSCENDENTAL = {"exp", "log", "tanh", "sigmoid"}


@pytest.fixture(scope="module", autouse=False)
def llvm_cache_dir(tmp_path_factory):
    """An empty disk cache for the module: every compile in it is a cold compile."""
    old = os.environ.get("JITFLOW_CACHE_DIR")
    os.environ["JITFLOW_CACHE_DIR"] = str(tmp_path_factory.mktemp("jitflow-cache"))
    yield os.environ["JITFLOW_CACHE_DIR"]
    if old is None:
        os.environ.pop("JITFLOW_CACHE_DIR", None)
    else:
        os.environ["JITFLOW_CACHE_DIR"] = old


def build(param_types: Sequence[tuple], fn: Callable, name: str = "main") -> Function:
    """``param_types``: (dtype, shape) pairs; ``fn(builder, *params)`` returns the result
    Value(s)."""
    f = Function(name)
    params = [f.add_param(TensorType(as_dtype(d), tuple(s)), f"p{i}:0")
              for i, (d, s) in enumerate(param_types)]
    out = fn(Builder(f.ops), *params)
    if not isinstance(out, (list, tuple)):
        out = [out]
    f.set_results(list(out))
    return verify(f)


def reference(f: Function, args) -> list:
    return get_backend("reference").compile(f).run(list(args))


def llvm(f: Function, **kw):
    """Compile natively; unlike ``get_backend("llvm")`` never falls back to the reference
    interpreter, so a missing lowering fails the test."""
    from jitflow.backends.llvm.executable import LLVMExecutable
    return LLVMExecutable(f, **kw)


def run_both(f: Function, args) -> tuple[list, list]:
    args = list(args)
    ref = reference(f, args)
    got = llvm(f).run(args)
    return ref, got


def assert_same(ref, got, *, rtol=None, atol=None, what: str = "") -> None:
    """Same shape and dtype; ints and bools exact; floats within the dtype's tolerance, NaN
    where the reference has NaN, infinities equal."""
    ref, got = np.asarray(ref), np.asarray(got)
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype}, reference {ref.dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, reference {ref.shape}"
    if ref.dtype.kind != "f":
        if not np.array_equal(ref, got):
            bad = np.argwhere(ref != got)[:5]
            raise AssertionError(f"{what}: mismatch at {bad.tolist()}: "
                                 f"got {got[tuple(bad.T)]}, reference {ref[tuple(bad.T)]}")
        return
    short = "f32" if ref.dtype == np.float32 else "f64"
    rtol = RTOL[short] if rtol is None else rtol
    atol = ATOL[short] if atol is None else atol
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)


def assert_bitwise(ref, got, what: str = "") -> None:
    ref, got = np.asarray(ref), np.asarray(got)
    assert got.dtype == ref.dtype and got.shape == ref.shape, what
    assert ref.tobytes() == got.tobytes(), f"{what}: not bit-identical"


def check(f: Function, args, **tol) -> list:
    ref, got = run_both(f, args)
    for i, (r, g) in enumerate(zip(ref, got)):
        assert_same(r, g, what=f"result {i} of\n{f}", **tol)
    return got


# ------------------------------------------------------------------ strategies ------------

def values(dtype, shape, draw, *, lo=-10.0, hi=10.0, nonzero=False, special=False):
    """A random array: floats in [lo, hi) (optionally with inf/nan/-0 sprinkled in), small ints,
    bools. Seeded from hypothesis so failures replay."""
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    if dtype.is_bool:
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.is_integer:
        a = rng.integers(int(lo), int(hi), shape).astype(dtype.np)
        if nonzero:
            a[a == 0] = 1
        return a
    a = rng.uniform(lo, hi, shape).astype(dtype.np)
    if nonzero:
        a[a == 0] = 1
    if special and a.size:
        mask = rng.random(shape) < 0.15
        a[mask] = rng.choice(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype.np), mask.sum())
    return a


DIM = st.sampled_from([0, 1, 1, 2, 3, 4, 5, 7])


@st.composite
def broadcast_shapes(draw, n: int = 2, max_rank: int = 3, allow_symbolic: bool = True,
                     min_rank: int = 0):
    """``n`` shapes that broadcast together: (concrete shapes, declared shapes). A declared
    dim is the concrete int, a symbol shared by every operand of that size on that axis
    ("sA"), or an operand's own symbol ("sA_i", possibly 1 at run time against a larger dim)."""
    rank = draw(st.integers(min_rank, max_rank))
    out = [draw(DIM) for _ in range(rank)]
    concrete, declared = [], []
    for _ in range(n):
        r = draw(st.integers(0, rank))
        c = []
        for a in range(rank - r, rank):
            c.append(out[a] if draw(st.booleans()) else 1)
        concrete.append(tuple(c))
    if n:   # at least one operand has the full shape so the result is ``out``
        k = draw(st.integers(0, n - 1))
        concrete[k] = tuple(out)
    for i, c in enumerate(concrete):
        d = []
        lead = rank - len(c)
        for j, x in enumerate(c):
            a = lead + j
            mode = draw(st.sampled_from(["static", "static", "shared", "own"])) \
                if allow_symbolic else "static"
            if mode == "shared" and x == out[a]:
                d.append(f"s{a}")
            elif mode == "own":
                d.append(f"s{a}_{i}")
            else:
                d.append(x)
        declared.append(tuple(d))
    return concrete, declared


@st.composite
def one_shape(draw, max_rank: int = 3, allow_symbolic: bool = True, min_rank: int = 0):
    c, d = draw(broadcast_shapes(1, max_rank, allow_symbolic, min_rank))
    return c[0], d[0]
