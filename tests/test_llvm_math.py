"""Accuracy of the llvm backend's fast float32 transcendentals (mathlib.py) against NumPy
in float64, over dense grids and special values; the bounds are the ones mathlib documents
(``MAX_ERROR``, repeated in its docstring)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from jitflow.backends.llvm import mathlib

from _llvm_util import F32, F64, build, llvm, llvm_cache_dir

pytestmark = pytest.mark.usefixtures("llvm_cache_dir")
_ = llvm_cache_dir

TINY = float(np.finfo(np.float32).tiny)
FMAX = float(np.finfo(np.float32).max)
SUBNORMALS = np.array([1e-45, 1e-40, 1e-39, 5e-39, 1.1754942e-38], np.float32)

EXACT = {
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}
#: where the documented bound holds (outside: special-value tests below)
DOMAIN = {"exp": (-87.33654022216797, 88.72283935546875), "log": (0.0, np.inf),
          "tanh": (-np.inf, np.inf), "sigmoid": (-np.inf, np.inf)}

_exes: dict = {}


def run(op: str, x: np.ndarray, dtype=F32) -> np.ndarray:
    """One executable per op and dtype with a symbolic length, reused for every grid."""
    key = (op, dtype.short)
    if key not in _exes:
        _exes[key] = llvm(build([(dtype, ("n",))], lambda b, p: b.op(op, p)))
    return _exes[key].run([np.ascontiguousarray(x, dtype=dtype.np)])[0]


def bit_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """About ``n`` float32 values evenly spaced in bit-pattern order over [lo, hi]: every
    binade gets its share, down to the subnormals."""
    out = []
    for a, b in ((lo, min(hi, -0.0)), (max(lo, 0.0), hi)):
        if a > b or (a == b == 0):
            continue
        ia = np.float32(a).view(np.int32).astype(np.int64)
        ib = np.float32(b).view(np.int32).astype(np.int64)
        if a < 0:   # negative floats: bit patterns grow away from zero
            ia, ib = np.float32(-b).view(np.int32).astype(np.int64), np.float32(-a).view(
                np.int32).astype(np.int64)
        step = max(1, (ib - ia) // (n // 2))
        bits = np.arange(ia, ib + 1, step, dtype=np.int64).astype(np.int32)
        v = bits.view(np.float32)
        out.append(-v if a < 0 else v)
    x = np.concatenate(out) if out else np.zeros(0, np.float32)
    return x[np.isfinite(x)]


def measure(op: str, x: np.ndarray) -> dict:
    got = run(op, x).astype(np.float64)
    with np.errstate(all="ignore"):
        exact = EXACT[op](x.astype(np.float64))
    ok = np.isfinite(exact) & (np.abs(exact) >= TINY) & (np.abs(exact) <= FMAX)
    got, exact, xs = got[ok], exact[ok], x[ok]
    err = np.abs(got - exact)
    rel = err / np.abs(exact)
    i, j = int(np.argmax(rel)), int(np.argmax(err))
    return {"rel": float(rel[i]), "rel_at": float(xs[i]), "abs": float(err[j]),
            "abs_at": float(xs[j]), "n": int(xs.size)}


GRIDS = {
    # (bit-pattern grid range, dense linear grid range)
    "exp": ((-87.33654022216797, 88.72283935546875), (-20.0, 20.0)),
    "log": ((1e-45, FMAX), (0.25, 4.0)),
    "tanh": ((-10.0, 10.0), (-9.0, 9.0)),
    "sigmoid": ((-88.0, 88.0), (-20.0, 20.0)),
}


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid"])
def test_documented_max_error_on_dense_grids(op):
    (blo, bhi), (llo, lhi) = GRIDS[op]
    xs = np.concatenate([bit_grid(blo, bhi, 1 << 21),
                         np.linspace(llo, lhi, 1 << 20, dtype=np.float32)])
    m = measure(op, xs)
    bound = mathlib.MAX_ERROR[op]
    assert m["n"] > 1 << 20
    if "rel" in bound:
        assert m["rel"] <= bound["rel"], (op, m)
    if "abs" in bound:
        assert m["abs"] <= bound["abs"], (op, m)


def test_docstring_states_the_bounds():
    """MAX_ERROR (what this file asserts) and the module docstring say the same thing."""
    doc = mathlib.__doc__
    for op, bound in mathlib.MAX_ERROR.items():
        line = next((ln for ln in doc.splitlines() if re.match(rf"\s*{op}\b", ln)), None)
        assert line is not None, op
        for kind, v in bound.items():
            assert f"{v:g}" in line, (op, kind, v, line)


def test_exp_near_overflow_is_finite():
    """exp(x) for x in [88.38, 88.72] is a finite float (the scale 2**128 must not overflow)."""
    top = np.nextafter(np.float32(88.72283935546875), np.float32(0))   # exp(88.72284) > FLT_MAX
    x = np.linspace(88.0, top, 4001, dtype=np.float32)
    got = run("exp", x)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=mathlib.MAX_ERROR["exp"]["rel"])
    assert run("exp", np.array([88.72284, 89.0, 1e30], np.float32)).tolist() == [np.inf] * 3


SPECIAL = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1.0, -1.0, FMAX, -FMAX, TINY, -TINY],
                   np.float32)


def test_exp_special_values():
    x = np.concatenate([SPECIAL, SUBNORMALS, -SUBNORMALS])
    got = run("exp", x)
    with np.errstate(over="ignore"):
        want = np.exp(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=mathlib.MAX_ERROR["exp"]["rel"])
    # below -87.34 the result is flushed to 0 (NumPy gives subnormals): documented
    low = np.array([-87.5, -90.0, -103.0, -200.0, -1e30], np.float32)
    assert np.all(run("exp", low) == 0.0)
    assert np.all(run("exp", low) <= np.exp(low.astype(np.float64)))


def test_log_special_values():
    x = np.concatenate([SPECIAL, SUBNORMALS, -SUBNORMALS, np.array([-5.0, 2.0, 0.5], np.float32)])
    got = run("log", x)
    with np.errstate(all="ignore"):
        want = np.log(x.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    np.testing.assert_allclose(got[fin], want[fin], rtol=mathlib.MAX_ERROR["log"]["rel"],
                               atol=mathlib.MAX_ERROR["log"].get("abs", 0))
    assert run("log", np.array([1.0], np.float32))[0] == 0.0
    # subnormal inputs are accurate too
    s = run("log", SUBNORMALS).astype(np.float64)
    np.testing.assert_allclose(s, np.log(SUBNORMALS.astype(np.float64)), rtol=1e-6)


def test_log_absolute_error_near_one():
    """The docstring's "absolute 7e-08 on [0.5, 2]" (where log is small and a relative bound
    says little), over every 8th float32 of that range."""
    lo, hi = np.float32(0.5).view(np.int32), np.float32(2.0).view(np.int32)
    x = np.arange(lo, hi + 1, 8, dtype=np.int32).view(np.float32)
    err = np.abs(run("log", x).astype(np.float64) - np.log(x.astype(np.float64)))
    assert err.max() <= 7e-8
    assert "absolute 7e-08 on [0.5, 2]" in mathlib.__doc__


def test_tanh_special_values():
    x = np.concatenate([SPECIAL, SUBNORMALS, -SUBNORMALS,
                        np.array([7.9, 7.91, 8.0, 20.0, -20.0, 1e-3, 4e-4, 3.9e-4], np.float32)])
    got = run("tanh", x)
    want = np.tanh(x.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=mathlib.MAX_ERROR["tanh"]["rel"], atol=0)
    assert np.all(np.abs(got[np.isfinite(got)]) <= 1.0)
    np.testing.assert_array_equal(np.signbit(run("tanh", np.array([0.0, -0.0], np.float32))),
                                  [False, True])


def test_sigmoid_special_values():
    x = np.concatenate([SPECIAL, SUBNORMALS, -SUBNORMALS,
                        np.array([88.0, 100.0, -80.0, -88.0, 17.0, -17.0], np.float32)])
    got = run("sigmoid", x)
    with np.errstate(all="ignore"):
        want = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=mathlib.MAX_ERROR["sigmoid"]["abs"])
    assert run("sigmoid", np.array([0.0], np.float32))[0] == 0.5
    fin = got[np.isfinite(got)]
    assert np.all((fin >= 0) & (fin <= 1))


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid"])
def test_float64_uses_accurate_libm(op):
    """float64 goes through libm: within a couple of ulps of the reference, specials
    identical."""
    from jitflow.ir import OPS
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-30, 30, 10000), np.exp(rng.uniform(-700, 700, 1000)),
                        [np.inf, -np.inf, np.nan, 0.0, -0.0, 5e-324, 1e-310, 709.0, -745.0]])
    got = run(op, x, F64)
    with np.errstate(all="ignore"):
        want = OPS[op].reference(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=4e-16, atol=0)


def test_fast_transcendentals_are_inline_code(monkeypatch):
    """float32 exp/log/tanh/sigmoid are inline code, not calls (llvm.* intrinsics or libm),
    which the vectorizer would split back into scalar calls."""
    f = build([(F32, (4096,))], lambda b, p: [b.exp(p), b.log(p), b.tanh(p), b.sigmoid(p)])
    # the optimized module, as `jitflow dump-ir --stage llvm` shows it (executables keep the
    # optimized text only when dumping)
    import llvmlite.binding as llvmb
    from jitflow.backends.llvm import jit
    mod = llvmb.parse_assembly(llvm(f).ir_text)
    jit.optimize(mod)
    ir = str(mod)
    assert ir
    called = {c for c in re.findall(r"call [^@]*@([\w.]+)\(", ir)
              if not c.startswith("llvm.experimental.")}
    assert not {c for c in called if re.search(r"exp|log|tanh|sigm", c)}, called
    assert re.search(r"<(8|16) x float>", ir), "the element loop is not vectorized"
