"""ops/math_unary.py: every op's reference against ground truth (math / SciPy in float64), the
llvm lowering against the reference in ulps (hypothesis), gradients against central finite
differences, the edge values (inf, nan, +-0, poles, large), TF's dtype rules and names,
vectorized libmvec calls and fusion into one kernel. The cuda lowerings run against the same
reference in tests/test_cuda_ops.py (simulator) and compile to PTX in tests/test_cuda_ptx.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _llvm_util import F32, F64, build, llvm, reference
from jitflow.ir import OPS
from jitflow.passes import PassManager, pipeline_for
from test_ops_gradients import check_gradient

sp = pytest.importorskip("scipy.special")   # ground truth (the `test` extra lists scipy)

UNARY = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
         "atanh", "erf", "erfc", "lgamma", "digamma", "trigamma", "log1p", "expm1", "floor",
         "ceil", "round", "is_nan", "is_inf", "is_finite", "reciprocal", "softsign", "selu",
         "log_sigmoid"]
ALL = UNARY + ["atan2"]

#: where each op is finite and smooth (inputs of the value and gradient tests)
DOMAIN = {"asin": (-1, 1), "acos": (-1, 1), "atanh": (-1, 1), "acosh": (1, 50),
          "log1p": (-1, 50), "sinh": (-80, 80), "cosh": (-80, 80), "expm1": (-80, 80),
          "lgamma": (-30, 40), "digamma": (-30, 40), "trigamma": (-30, 40),
          "tan": (-1.5, 1.5)}
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

#: float64 ground truth (independent of the references: math, SciPy, closed forms)
TRUTH = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
    "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh,
    "acosh": np.arccosh, "atanh": np.arctanh, "erf": sp.erf, "erfc": sp.erfc,
    "lgamma": sp.gammaln, "digamma": sp.psi, "trigamma": lambda x: sp.polygamma(1, x),
    "log1p": np.log1p, "expm1": np.expm1, "floor": np.floor, "ceil": np.ceil,
    "round": np.vectorize(lambda v: math.copysign(float(round(v)), v) if math.isfinite(v)
                          else v),
    "is_nan": np.isnan, "is_inf": np.isinf, "is_finite": np.isfinite,
    "reciprocal": lambda x: 1 / x, "softsign": lambda x: x / (1 + abs(x)),
    "selu": lambda x: np.where(x < 0, SELU_S * SELU_A * np.expm1(x), SELU_S * x),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
}

#: llvm against the reference, in ulps of the result (libmvec: <= 4 ulp); float64's gamma
#: family also has an error of ABS * max(1, |y|) (the shifted series near its zeros, the
#: reflection's cancellation)
ULPS = {"f32": 4, "f64": 4}
ABS = {("lgamma", "f64"): 2e-14, ("digamma", "f64"): 2e-14, ("trigamma", "f64"): 2e-14,
       ("log_sigmoid", "f32"): 1e-7, ("selu", "f32"): 1e-7}


def inputs(op: str, dt: np.dtype, n: int, rng) -> np.ndarray:
    lo, hi = DOMAIN.get(op, (-20, 20))
    x = rng.uniform(lo, hi, n)
    if op in ("lgamma", "digamma", "trigamma"):
        x[: n // 4] = rng.uniform(0, 3, n // 4)          # near the zeros and the pole at 0
    if op in ("floor", "ceil", "round"):
        x[: n // 4] = np.round(x[: n // 4] * 2) / 2        # exact halves: ties to even
    return x.astype(dt)


def ulp_error(got, want, dt) -> np.ndarray:
    fin = np.isfinite(want)
    tiny = np.finfo(dt).tiny
    err = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64))
    return err / np.spacing(np.maximum(np.abs(want[fin]), tiny).astype(dt)).astype(np.float64)


def assert_close_ulps(got, want, dt, ulps, abs_tol=0.0, what=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, what
    if want.dtype.kind == "b":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what}: NaNs")
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf], err_msg=f"{what}: infinities")
    fin = np.isfinite(want)
    err = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64))
    bad = (ulp_error(got, want, dt) > ulps) & (err > abs_tol)
    assert not bad.any(), (f"{what}: {bad.sum()} elements beyond {ulps} ulp / {abs_tol}: "
                           f"x-positions {np.flatnonzero(bad)[:5]}, got {got[fin][bad][:5]}, "
                           f"want {want[fin][bad][:5]}")


# ------------------------------------------------------------------ the reference ----------

@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_reference_matches_ground_truth(op, dt):
    """The reference rounds a float64 result once: within 1 ulp of the float64 truth."""
    x = inputs(op, dt, 3000, np.random.default_rng(0))
    if op in ("lgamma", "digamma", "trigamma"):
        x = x[np.abs(x - np.round(x)) > 1e-3]        # poles: conventions checked below
    if op == "reciprocal":
        x = x[x != 0]
    want = np.asarray(TRUTH[op](x.astype(np.float64)))
    got = OPS[op].reference(x)
    if want.dtype.kind == "b":
        np.testing.assert_array_equal(got, want)
        return
    assert got.dtype == dt
    want = want.astype(dt)       # the truth rounded to dt
    fin = np.isfinite(want)
    ulps, abs_tol = (1 if dt is np.float32 else 8), 0.0
    if dt is np.float64 and op in ("lgamma", "digamma", "trigamma"):
        # near their zeros and poles SciPy and our series differ by ~1e-13 absolute and by
        # ~1e-12 relative (SciPy reflects with tan(pi x) of the unreduced x)
        abs_tol = 1e-13 + 2e-12 * np.abs(want[fin])
    if dt is np.float64 and op == "erfc":
        # SciPy's float64 erfc loses ~2 x**2 ulp in its tail (207 ulp at x = 19.7): exp(-x*x)
        # of a rounded x*x; math.erfc (the reference's) is within 1 ulp of a 50-digit series
        ulps = 8 + 2 * x[fin].astype(np.float64) ** 2
    assert_close_ulps(got, want, dt, ulps, abs_tol, what=op)


EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, -1e30, 1.0, -1.0, 0.5, -2.0]


def _tf_edge(op: str, v: float) -> float:
    """TF's value at the edge ``v`` (from math's functions and TF's conventions)."""
    if op.startswith("is_"):
        return float(TRUTH[op](v))
    if math.isnan(v):
        return math.nan
    pole = v <= 0 and v == np.floor(v)           # 0, -1, ..., -inf
    if op in ("lgamma",) and (math.isinf(v) or pole):
        return math.inf
    if op == "digamma":
        if pole:
            return math.nan
        return math.inf if v == math.inf else float(sp.psi(v))
    if op == "trigamma":
        if pole:
            return math.inf
        return 0.0 if v == math.inf else float(sp.polygamma(1, v))
    with np.errstate(all="ignore"):
        return float(np.asarray(TRUTH[op](np.float64(v))))


@pytest.mark.parametrize("op", UNARY)
def test_edge_values_on_the_reference_and_llvm(op):
    """0, -0 (its sign kept by the odd functions), +-inf, NaN, 1e30, poles: reference and
    llvm give TF's values, the same NaNs and infinities and the same signed zeros."""
    for dt in (np.float32, np.float64):
        x = np.array(EDGES, dt)
        if op in ("asin", "acos", "atanh", "acosh", "log1p"):
            pass     # outside the domain: NaN (or +-inf at the ends), as libm and TF
        want = np.array([_tf_edge(op, v) for v in x.astype(np.float64)]).astype(
            bool if op.startswith("is_") else dt)
        ref = OPS[op].reference(x)
        got = _llvm_unary(op, dt, len(x))(x)
        short = "f32" if dt is np.float32 else "f64"
        fin = np.isfinite(want)
        abs_tol = ABS.get((op, short), 0.0) * (np.maximum(1, np.abs(want[fin])) if
                                               want.dtype.kind == "f" else 1)
        for name, arr in (("reference", ref), ("llvm", got)):
            assert_close_ulps(arr, want, dt, 4, abs_tol,
                              what=f"{op} {name} {dt.__name__} at {x}")
            if want.dtype.kind == "f":
                zero = want == 0
                np.testing.assert_array_equal(np.signbit(arr[zero]), np.signbit(want[zero]),
                                              err_msg=f"{op} {name}: sign of zero")


def test_round_is_half_to_even_and_the_identity_on_integers():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 2 ** 23 + 1.0, -0.0], np.float32)
    want = np.array([0, 2, 2, -0.0, -2, -2, 0, 2 ** 23 + 1, -0.0], np.float32)
    for out in (OPS["round"].reference(x), _llvm_unary("round", np.float32, len(x))(x)):
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(np.signbit(out), np.signbit(want))
    i = np.array([-7, 0, 2 ** 31 - 1], np.int32)
    f = build([("i32", (3,))], lambda b, v: b.round(v))
    np.testing.assert_array_equal(_native(f).run([i])[0], i)


def test_integer_reciprocal_truncates_and_rejects_zero():
    f = build([("i32", (5,))], lambda b, v: b.reciprocal(v))
    x = np.array([1, -1, 2, -3, 1000], np.int32)
    np.testing.assert_array_equal(_native(f).run([x])[0], [1, -1, 0, 0, 0])
    with pytest.raises(Exception, match="Integer division by zero"):
        _native(f).run([np.array([1, 0, 2, 3, 4], np.int32)])


# ------------------------------------------------------------------ llvm vs the reference --

def _native(f):
    return llvm(PassManager(pipeline_for("llvm")).run(f.clone()))


_EXES: dict = {}


def _llvm_unary(op, dt, n=None):
    """One compiled executable per (op, dtype), its length symbolic: hypothesis examples of
    any size reuse it."""
    key = (op, np.dtype(dt).name)
    if key not in _EXES:
        short = "f32" if np.dtype(dt) == np.float32 else "f64"
        f = build([(short, ("n",))], lambda b, v: b.op(op, v))
        exe = _native(f)
        _EXES[key] = lambda x: exe.run([x])[0]
    return _EXES[key]


@pytest.mark.parametrize("op", UNARY)
def test_llvm_matches_the_reference(op):
    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from([np.float32, np.float64]), st.integers(1, 300),
           st.integers(0, 2 ** 31), st.booleans())
    def check(dt, n, seed, special):
        rng = np.random.default_rng(seed)
        x = inputs(op, dt, n, rng)
        if special:
            x[rng.integers(0, n, 3)] = rng.choice(np.array(EDGES, dt), 3)
        want = OPS[op].reference(x)
        got = _llvm_unary(op, dt)(x)
        short = "f32" if dt is np.float32 else "f64"
        scale = np.maximum(1, np.abs(want[np.isfinite(want)])) if want.dtype.kind == "f" else 1
        assert_close_ulps(got, want, dt, ULPS[short], ABS.get((op, short), 0.0) * scale,
                          what=f"{op} {short}")

    check()


def test_atan2_broadcasts_and_keeps_quadrants_on_llvm():
    for short, dt in (("f32", np.float32), ("f64", np.float64)):
        f = build([(short, (3, 1)), (short, (4,))], lambda b, y, x: b.atan2(y, x))
        y = np.array([[0.0], [-0.0], [-2.5]], dt)
        x = np.array([0.0, -0.0, 3.0, -np.inf], dt)
        got = _native(f).run([y, x])[0]
        want = np.arctan2(y.astype(np.float64), x.astype(np.float64)).astype(dt)
        assert_close_ulps(got, want, dt, 2, what="atan2")
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))   # the quadrants
        np.testing.assert_array_equal(reference(f, [y, x])[0], want)


# ------------------------------------------------------------------ gradients --------------

GRAD_DOMAIN = {**DOMAIN, "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9),
               "acosh": (1.2, 4), "log1p": (-0.5, 4), "lgamma": (0.2, 6), "digamma": (0.2, 6),
               "tan": (-1.2, 1.2), "sinh": (-4, 4), "cosh": (-4, 4), "expm1": (-4, 4),
               "reciprocal": (0.3, 3)}
DIFFERENTIABLE = [op for op in ALL if OPS[op].differentiable and op != "trigamma"]


@pytest.mark.parametrize("op", DIFFERENTIABLE)
def test_gradient_matches_finite_differences(op):
    @settings(max_examples=4, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, 2 ** 31), st.sampled_from(["static", "symbolic"]))
    def check(seed, mode):
        rng = np.random.default_rng(seed)
        lo, hi = GRAD_DOMAIN.get(op, (-3, 3))
        x = rng.uniform(lo, hi, (2, 3))
        if op in ("selu", "softsign"):
            x[np.abs(x) < 0.05] = 0.5                # selu's kink at 0
        if op == "atan2":
            args = [rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (3,))]
        elif op == "reciprocal":
            args = [x * rng.choice([-1, 1], x.shape)]
        else:
            args = [x]
        check_gradient(op, args, {}, mode=mode, seed=seed, rtol=1e-5, atol=1e-6)

    check()


def test_second_derivative_of_lgamma_is_trigamma_and_trigammas_gradient_says_missing():
    x = tf.placeholder(tf.float64, [3])
    g1 = tf.gradients(tf.reduce_sum(tf.lgamma(x)), x)[0]
    g2 = tf.gradients(tf.reduce_sum(g1), x)[0]
    v = np.array([0.3, 1.0, 4.5])
    with tf.Session() as s:
        d1, d2 = s.run([g1, g2], {x: v})
    np.testing.assert_allclose(d1, sp.psi(v), rtol=1e-12)
    np.testing.assert_allclose(d2, sp.polygamma(1, v), rtol=1e-12)
    g3 = tf.gradients(tf.reduce_sum(g2), x)[0]
    with tf.Session() as s, pytest.raises(NotImplementedError, match="trigamma"):
        s.run(g3, {x: v})


def test_rounding_and_predicates_pass_no_gradient():
    for op in ("floor", "ceil", "round", "is_nan", "is_inf", "is_finite"):
        assert not OPS[op].differentiable and OPS[op].grad is None, op
    x = tf.placeholder(tf.float32, [2])
    assert tf.gradients(tf.reduce_sum(tf.floor(x) + tf.round(x)), x) == [None]


# ------------------------------------------------------------------ fusion, vectorization --

def test_fused_chain_is_one_llvm_kernel_and_correct():
    """sin(x) * cos(x) + log1p(x * x) + selu(x): every op in one element loop (selu's
    decomposition too)."""
    f = build([("f32", (4096,))], lambda b, x: b.add(
        b.add(b.mul(b.sin(x), b.cos(x)), b.log1p(b.mul(x, x))), b.selu(x)))
    fused = PassManager(pipeline_for("llvm")).run(f.clone())
    exe = llvm(fused)
    assert [k.kind for k in exe.mb.kernels] == ["ew"], [k.kind for k in exe.mb.kernels]
    x = np.random.default_rng(0).uniform(-5, 5, 4096).astype(np.float32)
    want = reference(f, [x])[0]
    np.testing.assert_allclose(exe.run([x])[0], want, rtol=4e-6, atol=4e-6)


def test_libm_calls_vectorize_through_libmvec(monkeypatch):
    """With glibc's libmvec, a float32 sin loop calls a vector variant (8 or 16 lanes)."""
    from jitflow.backends.llvm import vecmath
    monkeypatch.setenv("JITFLOW_NO_DISK_CACHE", "1")     # the optimized IR of a fresh compile
    exe = _native(build([("f32", (4096,))], lambda b, x: b.sin(x)))
    variants = vecmath._state["variants"]["jf_m_sinf"]
    ir = exe.compiled.optimized_ir
    if not variants:           # another C library: scalar libm calls, still correct
        assert "call float @jf_m_sinf" in ir
        return
    assert any(f"@{ours}(<{lanes} x float>" in ir for _, lanes, ours in variants), \
        "the loop vectorizer did not use libmvec's sinf"


# ------------------------------------------------------------------ the TF1 names ----------

TF_NAMES = {
    "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan",
    "sinh": "Sinh", "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh",
    "erf": "Erf", "erfc": "Erfc", "lgamma": "Lgamma", "digamma": "Digamma",
    "log1p": "Log1p", "expm1": "Expm1", "floor": "Floor", "ceil": "Ceil", "round": "Round",
    "rint": "Rint", "is_nan": "IsNan", "is_inf": "IsInf", "is_finite": "IsFinite",
    "reciprocal": "Reciprocal", "log_sigmoid": "LogSigmoid",
}


@pytest.mark.parametrize("name", sorted(TF_NAMES))
def test_tf_names_resolve_to_the_ops(name):
    x = tf.placeholder(tf.float32, [None, 3])
    for fn in (getattr(tf, name), getattr(tf.math, name)):
        y = fn(x)
        assert y.op.type == TF_NAMES[name]
        assert y.dtype == (tf.bool if name.startswith("is_") else tf.float32)
        assert y.shape.as_list() == [None, 3]


def test_nn_names_and_atan2_and_polygamma():
    x = tf.placeholder(tf.float64, [4])
    assert tf.nn.softsign(x).op.type == "Softsign" and tf.math.softsign(x).op.type == "Softsign"
    assert tf.nn.selu(x).op.type == "Selu"
    assert tf.math.atan2(x, 2.0).op.type == "Atan2" and tf.atan2(x, x).op.type == "Atan2"
    v = np.array([0.5, 1.0, 2.5, 7.0])
    with tf.Session() as s:
        p0, p1, sel = s.run([tf.math.polygamma(0.0, x), tf.math.polygamma(
            tf.constant(1.0, tf.float64), x), tf.nn.selu(x)], {x: v})
    np.testing.assert_allclose(p0, sp.psi(v), rtol=1e-12)
    np.testing.assert_allclose(p1, sp.polygamma(1, v), rtol=1e-12)
    np.testing.assert_allclose(sel, SELU_S * v, rtol=1e-15)
    with pytest.raises(NotImplementedError, match="orders 0"):
        tf.math.polygamma(2.0, x)


def test_tf_dtype_rules():
    i = tf.constant([1, -2, 3])
    for fn in (tf.sin, tf.math.erf, tf.lgamma, tf.floor, tf.ceil, tf.rint, tf.is_nan,
               tf.nn.softsign, tf.nn.selu, tf.math.log_sigmoid, tf.math.log1p):
        with pytest.raises(TypeError):
            fn(i)
    r = tf.round(i)
    assert r.dtype == tf.int32
    f = tf.constant([1.5, np.nan, -np.inf])
    with tf.Session() as s:
        out = s.run([r, tf.is_nan(f), tf.is_inf(f), tf.is_finite(f), tf.reciprocal(i)])
    np.testing.assert_array_equal(out[0], [1, -2, 3])
    np.testing.assert_array_equal(out[1], [False, True, False])
    np.testing.assert_array_equal(out[2], [False, False, True])
    np.testing.assert_array_equal(out[3], [True, False, False])
    np.testing.assert_array_equal(out[4], [1, 0, 0])
    assert out[1].dtype == np.bool_


def test_graph_def_round_trip_keeps_the_tf_op_types(tmp_path):
    from jitflow.interop import tf_protos as P
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 3), name="x")
        parts = [tf.sin(x), tf.atan2(x, tf.cos(x)), tf.floor(x), tf.round(x), tf.math.erf(x),
                 tf.math.lgamma(tf.abs(x) + 1), tf.nn.softsign(x), tf.nn.selu(x),
                 tf.reciprocal(x + 10), tf.cast(tf.is_nan(x), tf.float32)]
        out = tf.concat(parts, axis=1, name="out")
        xv = np.random.RandomState(0).randn(2, 3).astype(np.float32)
        with tf.Session() as s:
            want = s.run(out, {x: xv})
            gd = s.graph_def
    types = {n.op for n in gd.node}
    assert {"Sin", "Atan2", "Cos", "Floor", "Round", "Erf", "Lgamma", "Softsign", "Selu",
            "Reciprocal", "IsNan"} <= types
    data = gd.SerializeToString()
    with tf.Graph().as_default():
        o, = tf.import_graph_def(P.graph_pb2.GraphDef.FromString(data),
                                 return_elements=["out:0"], name="")
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(o, {"x:0": xv}), want)


def _bit_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` float32 values evenly spaced in bit pattern over [lo, hi] (every binade)."""
    def key(v):
        i = np.array(v, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    k = np.unique(np.linspace(key(lo), key(hi), n).astype(np.int64))
    bits = np.where(k < 0, (-k) | (1 << 31), k).astype(np.uint32)
    return bits.view(np.float32)


GRID = {"sin": (-1e4, 1e4), "cos": (-1e4, 1e4), "tan": (-1e4, 1e4), "asin": (-1, 1),
        "acos": (-1, 1), "atan": (-1e30, 1e30), "sinh": (-89, 89), "cosh": (-89, 89),
        "asinh": (-1e30, 1e30), "acosh": (1, 1e30), "atanh": (-1, 1), "erf": (-10, 10),
        "erfc": (-10, 10), "lgamma": (-50, 1e30), "digamma": (-50, 1e30),
        "trigamma": (-50, 1e30), "log1p": (-1, 1e30), "expm1": (-100, 88),
        "softsign": (-1e30, 1e30), "selu": (-100, 88), "log_sigmoid": (-1e30, 1e30),
        "reciprocal": (-1e30, 1e30)}


@pytest.mark.parametrize("op", sorted(GRID))
def test_float32_max_error_on_dense_grids(op):
    """The bounds elementwise_math.MAX_ULP_F32 documents, against float64 ground truth, on
    2**16 inputs across every binade (and densely next to the gamma family's zeros)."""
    from jitflow.backends.llvm.elementwise_math import MAX_ULP_F32
    x = _bit_grid(*GRID[op], 1 << 16)
    if op in ("lgamma", "digamma", "trigamma"):
        x = np.concatenate([x, _bit_grid(0.9, 2.1, 1 << 14), _bit_grid(-4, -0.01, 1 << 14)])
        x = x[~((x <= 0) & (x == np.floor(x)))]
    got = _llvm_unary(op, np.float32)(x)
    with np.errstate(all="ignore"):
        truth = np.asarray(TRUTH[op](x.astype(np.float64)))
        want = truth.astype(np.float32)          # overflows to inf where float32 does
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want) & (np.abs(want) >= np.finfo(np.float32).tiny)
    err = np.abs(got[fin].astype(np.float64) - truth[fin])
    ulps = err / np.spacing(np.abs(want[fin])).astype(np.float64)
    assert ulps.max() <= MAX_ULP_F32[op], (op, ulps.max(), x[fin][np.argmax(ulps)])
