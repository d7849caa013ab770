"""Every op lowering of the llvm backend against the reference backend (the oracle).

Random shapes (size-0 and size-1 dims, broadcasting, symbolic dims that the executable gets
as concrete arrays), per-dtype tolerances: float32 ~2e-5 relative, float64 1e-12, ints and
bools exact, random ops bit-identical. Each op is exercised alone (one kernel) so a failure
names the lowering; fused kernels are covered by test_llvm_graphs.py.

The op list is explicit: ops added later (e.g. NN ops in jitflow/ops/nn.py) join it when
they get an LLVM lowering.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jitflow.errors import InvalidArgumentError
from jitflow.ir import OPS

from _llvm_util import (ALL_DTYPES, BOOL, F32, F64, I32, I64, NUMERIC, TRANSCENDENTAL,
                        assert_bitwise, assert_same, broadcast_shapes, build, check, examples,
                        llvm, llvm_cache_dir, one_shape, reference, run_both, values)

pytestmark = [pytest.mark.usefixtures("llvm_cache_dir"),
              pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")]
_ = llvm_cache_dir

UNARY_FLOAT = ["neg", "abs", "sign", "square", "sqrt", "rsqrt", "exp", "log", "tanh", "sigmoid",
               "relu"]
UNARY_INT = ["neg", "abs", "sign", "square", "relu"]
BINARY_FLOAT = ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum"]
BINARY_INT = ["add", "sub", "mul", "floordiv", "mod", "pow", "maximum", "minimum"]
COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
LOGICAL = ["logical_and", "logical_or"]
REDUCE = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]
RANDOM = ["random_uniform", "random_normal", "random_truncated_normal"]
#: every op this file tests; all must have an LLVM lowering
SUPPORTED = sorted(set(UNARY_FLOAT + BINARY_FLOAT + COMPARE + LOGICAL + REDUCE + RANDOM + [
    "logical_not", "select", "cast", "fill", "zeros_like", "ones_like", "identity",
    "stop_gradient", "add_n", "reshape", "reshape_like", "transpose", "expand_dims", "squeeze",
    "broadcast_like", "sum_to", "size", "matmul", "strided_slice", "strided_slice_grad",
    "concat", "shape", "constant"]))

SETTINGS = settings(max_examples=examples(20), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(SETTINGS, max_examples=examples(12))


def test_supported_ops_are_registered():
    missing = [n for n in SUPPORTED if n not in OPS]
    assert not missing


def check_dtypes(op, dtypes, decls, make_args, op_fn, tol=lambda d: {}, ptypes=None):
    """One executable computing ``op_fn`` once per dtype (each with its own parameters of the
    declared shapes ``decls``, of dtype ``ptypes(d)`` or d); every result compared with the
    reference."""
    n = len(decls)
    ptypes = ptypes or (lambda d: [d] * n)
    f = build([(t, s) for d in dtypes for t, s in zip(ptypes(d), decls)],
              lambda b, *ps: [op_fn(b, *ps[i * n:(i + 1) * n]) for i in range(len(dtypes))])
    args = [a for d in dtypes for a in make_args(d)]
    ref, got = run_both(f, args)
    for d, r, g in zip(dtypes, ref, got):
        assert_same(r, g, what=f"{op} on {d.short}", **tol(d))


# ------------------------------------------------------------------ unary -----------------

@pytest.mark.parametrize("op", UNARY_FLOAT)
@SETTINGS
@given(data=st.data())
def test_unary_float(op, data):
    conc, decl = data.draw(one_shape())
    check_dtypes(op, [F32, F64], [decl],
                 lambda d: [values(d, conc, data.draw, lo=-30, hi=30, special=True)],
                 lambda b, p: b.op(op, p),
                 # mathlib: <= 4e-7 from the exact value; NumPy's float32 is ~1 ulp off too
                 tol=lambda d: dict(rtol=2e-6, atol=1e-7) if d is F32 and op in TRANSCENDENTAL
                 else {})


@pytest.mark.parametrize("op", UNARY_INT)
@FEW
@given(data=st.data())
def test_unary_int(op, data):
    conc, decl = data.draw(one_shape())

    def make(d):
        x = values(d, conc, data.draw, lo=-1000, hi=1000)
        if x.size:   # the wrapping extremes
            x.reshape(-1)[0] = np.iinfo(d.np).min
            x.reshape(-1)[-1] = np.iinfo(d.np).max
        return [x]
    check_dtypes(op, [I32, I64], [decl], make, lambda b, p: b.op(op, p))


# ------------------------------------------------------------------ binary ----------------

def _binary_operands(op, dtype, conc, draw):
    if dtype.is_floating:
        if op == "pow":
            return [values(dtype, conc[0], draw, lo=-4, hi=4, special=True),
                    values(dtype, conc[1], draw, lo=-4, hi=4, special=True)]
        return [values(dtype, conc[0], draw, special=True),
                values(dtype, conc[1], draw, special=True)]
    if op == "pow":
        return [values(dtype, conc[0], draw, lo=-20, hi=20), values(dtype, conc[1], draw, lo=0, hi=40)]
    lo, hi = (-100, 100) if op in ("floordiv", "mod") else (-10 ** 6, 10 ** 6)
    return [values(dtype, conc[0], draw, lo=lo, hi=hi),
            values(dtype, conc[1], draw, lo=-9, hi=9, nonzero=op in ("floordiv", "mod"))]


@pytest.mark.parametrize("op", BINARY_FLOAT)
@SETTINGS
@given(data=st.data())
def test_binary_float(op, data):
    conc, decl = data.draw(broadcast_shapes(2))
    check_dtypes(op, [F32, F64], decl, lambda d: _binary_operands(op, d, conc, data.draw),
                 lambda b, p, q: b.op(op, p, q))


@pytest.mark.parametrize("op", BINARY_INT)
@SETTINGS
@given(data=st.data())
def test_binary_int(op, data):
    conc, decl = data.draw(broadcast_shapes(2))
    check_dtypes(op, [I32, I64], decl, lambda d: _binary_operands(op, d, conc, data.draw),
                 lambda b, p, q: b.op(op, p, q))


@pytest.mark.parametrize("dtype", [I32, I64], ids=lambda d: d.short)
def test_int_division_edge_cases(dtype):
    """INT_MIN // -1 wraps (x86 idiv would trap), floor semantics for negative operands,
    integer powers wrap exactly as NumPy's."""
    lo, hi = np.iinfo(dtype.np).min, np.iinfo(dtype.np).max
    x = np.array([lo, lo, hi, -7, 7, -7, 7, 0, lo, 3, -3, 2], dtype.np)
    y = np.array([-1, 1, -1, 2, -2, -2, 2, 5, 3, 40, 41, 63], dtype.np)
    f = build([(dtype, (12,)), (dtype, (12,))],
              lambda b, p, q: [b.floordiv(p, q), b.mod(p, q), b.pow(p, b.mod(q, 64))])
    check(f, [x, y])


@pytest.mark.parametrize("op", ["floordiv", "mod", "pow"])
def test_int_errors_raise_like_reference(op):
    x = np.array([4, 5, 6], np.int32)
    y = np.array([1, 0, 2], np.int32) if op != "pow" else np.array([1, -1, 2], np.int32)
    f = build([(I32, (3,)), (I32, (3,))], lambda b, p, q: b.op(op, p, q))
    with pytest.raises(InvalidArgumentError) as ref_err:
        reference(f, [x, y])
    with pytest.raises(InvalidArgumentError) as got_err:
        llvm(f).run([x, y])
    assert str(got_err.value).splitlines()[0] in str(ref_err.value)
    assert f"node {op}" in str(got_err.value)


def test_float_mod_signs_and_specials():
    x = np.array([-4, 4, 1, -1, np.inf, 5.5, -5.5, 0, -0.0, 3, 7, -7], np.float32)
    y = np.array([2, -2, np.inf, np.inf, 2, 0, 0, 3, 3, -np.inf, -3, 3], np.float32)
    f = build([(F32, (12,)), (F32, (12,))], lambda b, p, q: [b.mod(p, q), b.floordiv(p, q)])
    ref, got = run_both(f, [x, y])
    for r, g in zip(ref, got):
        assert_same(r, g)
        np.testing.assert_array_equal(np.signbit(r), np.signbit(g))


@pytest.mark.parametrize("op", COMPARE)
@SETTINGS
@given(data=st.data())
def test_compare(op, data):
    conc, decl = data.draw(broadcast_shapes(2))
    dtypes = list(NUMERIC) + ([BOOL] if op in ("equal", "not_equal") else [])
    check_dtypes(op, dtypes, decl,
                 lambda d: [values(d, c, data.draw, lo=-3, hi=3, special=True) for c in conc],
                 lambda b, p, q: b.op(op, p, q))


@pytest.mark.parametrize("op", LOGICAL)
@FEW
@given(data=st.data())
def test_logical_binary(op, data):
    conc, decl = data.draw(broadcast_shapes(2))
    x, y = (values(BOOL, c, data.draw) for c in conc)
    check(build([(BOOL, decl[0]), (BOOL, decl[1])], lambda b, p, q: b.op(op, p, q)), [x, y])


@FEW
@given(data=st.data())
def test_logical_not(data):
    conc, decl = data.draw(one_shape())
    check(build([(BOOL, decl)], lambda b, p: b.logical_not(p)), [values(BOOL, conc, data.draw)])


@SETTINGS
@given(data=st.data())
def test_select(data):
    conc, decl = data.draw(broadcast_shapes(3))
    c = values(BOOL, conc[0], data.draw)
    check_dtypes("select", ALL_DTYPES, decl,
                 lambda d: [c] + [values(d, s, data.draw, special=True) for s in conc[1:]],
                 lambda b, k, p, q: b.select(k, p, q), ptypes=lambda d: [BOOL, d, d])


# ------------------------------------------------------------------ cast ------------------

_CAST_SPECIAL = {
    "f": [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.7, -2.7, 1e9, -1e9, 3e9, -3e9, 1e20, -1e20,
          np.inf, -np.inf, np.nan, 2 ** 31, -2 ** 31, 2 ** 63, -2 ** 63, 1e-40],
    "i": [0, 1, -1, 2 ** 31 - 1, -2 ** 31, 2 ** 24 + 1, -(2 ** 24 + 1), 2 ** 53 + 1],
}


@pytest.mark.parametrize("src", ALL_DTYPES, ids=lambda d: d.short)
@FEW
@given(data=st.data())
def test_cast_all_pairs(src, data):
    """All five targets from one source in one executable; special values (NaN, inf, out of
    range, -0, ties) included; every result exact."""
    conc, decl = data.draw(one_shape(max_rank=2))
    x = values(src, conc, data.draw, lo=-1e4 if not src.is_bool else 0, hi=1e4)
    specials = _CAST_SPECIAL.get(src.np.kind)
    if specials is not None and x.size:
        info = np.iinfo(src.np) if src.is_integer else None
        sp = [v for v in specials if info is None or info.min <= v <= info.max]
        flat = x.reshape(-1)
        pick = data.draw(st.lists(st.sampled_from(sp), min_size=flat.size, max_size=flat.size))
        mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=flat.size,
                                             max_size=flat.size)))
        flat[mask] = np.asarray(pick, dtype=src.np)[mask]
    f = build([(src, decl)], lambda b, p: [b.cast(p, dtype=d) for d in ALL_DTYPES])
    ref, got = run_both(f, [x])
    for d, r, g in zip(ALL_DTYPES, ref, got):
        assert_same(r, g, rtol=0, atol=0, what=f"cast {src.short} -> {d.short} of {x}")


# ------------------------------------------------------------------ fills and friends -----

@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES),
       shape=st.lists(st.sampled_from([0, 1, 2, 3, 5]), max_size=3))
def test_fill(data, dtype, shape):
    v = values(dtype, (), data.draw)
    check(build([(dtype, ())], lambda b, p: b.fill(p, shape=tuple(shape))), [v])


@pytest.mark.parametrize("op", ["zeros_like", "ones_like", "identity", "stop_gradient"])
@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_like_and_identity(op, data, dtype):
    conc, decl = data.draw(one_shape())
    x = values(dtype, conc, data.draw, special=True)
    # also as an input of arithmetic, so the op is lowered inside a kernel, not only copied
    def fn(b, p):
        r = b.op(op, p)
        return [r, b.logical_not(r) if dtype is BOOL else b.add(r, r)]
    check(build([(dtype, decl)], fn), [x])


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.short)
@FEW
@given(data=st.data(), n=st.integers(1, 4))
def test_add_n(dtype, data, n):
    conc, decl = data.draw(broadcast_shapes(n))
    xs = [values(dtype, c, data.draw) for c in conc]
    check(build([(dtype, d) for d in decl], lambda b, *ps: b.add_n(*ps)), xs)


# ------------------------------------------------------------------ shapes ----------------

def _factor(n: int, draw) -> list[int]:
    dims = []
    while n > 1 and len(dims) < 3:
        divs = [d for d in range(2, n + 1) if n % d == 0]
        d = draw(st.sampled_from(divs))
        dims.append(d)
        n //= d
    if n > 1:              # at most 3 dims: the rest of the size goes into the last one
        dims[-1] *= n
    return dims


@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_reshape(data, dtype):
    conc, decl = data.draw(one_shape(min_rank=1))
    size = int(np.prod(conc, dtype=np.int64))
    target = _factor(size, data.draw) if size else [0, data.draw(st.integers(1, 3))]
    target += [1] * data.draw(st.integers(0, 2))
    target = data.draw(st.permutations(target))
    known = list(target)
    if data.draw(st.booleans()) and target:
        k = data.draw(st.integers(0, len(target) - 1))
        rest = int(np.prod(target[:k] + target[k + 1:], dtype=np.int64))
        if rest:
            known[k] = -1
    x = values(dtype, conc, data.draw)
    # a reshaped parameter (returned: copied) and a reshaped computed value (aliased)
    f = build([(dtype, decl)], lambda b, p: [
        b.reshape(p, shape=tuple(known)),
        b.reshape(b.logical_not(p) if dtype is BOOL else b.neg(p), shape=tuple(known))])
    check(f, [x])


@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_reshape_like(data, dtype):
    conc, decl = data.draw(one_shape(min_rank=1))
    size = int(np.prod(conc, dtype=np.int64))
    target = tuple(data.draw(st.permutations(_factor(size, data.draw) or [size])))
    x = values(dtype, conc, data.draw)
    like = np.zeros(target, np.float32)
    decl_like = tuple(f"t{i}" if data.draw(st.booleans()) else d for i, d in enumerate(target))
    check(build([(dtype, decl), (F32, decl_like)], lambda b, p, q: b.reshape_like(p, q)),
          [x, like])


@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_transpose(data, dtype):
    conc, decl = data.draw(one_shape(max_rank=4))
    perm = tuple(data.draw(st.permutations(range(len(conc))))) if data.draw(st.booleans()) else ()
    x = values(dtype, conc, data.draw)
    def fn(b, p):   # returned, and read by another kernel
        t = b.transpose(p, perm=perm)
        return [t, b.logical_not(t) if dtype is BOOL else b.mul(t, t)]
    check(build([(dtype, decl)], fn), [x])


@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_expand_dims_and_squeeze(data, dtype):
    conc, decl = data.draw(one_shape())
    r = len(conc)
    axis = data.draw(st.integers(-r - 1, r))
    ones = [i for i, d in enumerate(decl) if d == 1]
    sq_axes = tuple(data.draw(st.lists(st.sampled_from(ones), unique=True))) if ones else ()
    if sq_axes and data.draw(st.booleans()):
        sq_axes = tuple(a - r for a in sq_axes)   # negative axes
    x = values(dtype, conc, data.draw)
    f = build([(dtype, decl)], lambda b, p: [b.expand_dims(p, axis=axis),
                                             b.squeeze(p, axes=sq_axes)])
    check(f, [x])


@FEW
@given(data=st.data(), dtype=st.sampled_from(ALL_DTYPES))
def test_broadcast_like(data, dtype):
    conc, decl = data.draw(broadcast_shapes(2))
    x = values(dtype, conc[0], data.draw)
    like = values(F32, conc[1], data.draw)
    check(build([(dtype, decl[0]), (F32, decl[1])], lambda b, p, q: b.broadcast_like(p, q)),
          [x, like])


@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.short)
@FEW
@given(data=st.data())
def test_sum_to(dtype, data):
    """sum_to(g, like) undoes broadcast_like: g has the broadcast shape."""
    conc, decl = data.draw(broadcast_shapes(2))
    out = np.broadcast_shapes(*conc)
    g = values(dtype, out, data.draw)
    like = values(F32, conc[0], data.draw)
    g_decl = tuple(f"g{i}" if data.draw(st.booleans()) else d for i, d in enumerate(out))
    f = build([(dtype, g_decl), (F32, decl[0])], lambda b, p, q: b.sum_to(p, q))
    ref, got = run_both(f, [g, like])
    n = max(1, g.size)
    assert_same(ref[0], got[0], atol=1e-6 * n * 10)


@FEW
@given(data=st.data(), dtype=st.sampled_from([I32, I64, F32, F64]))
def test_size_and_shape(data, dtype):
    conc, decl = data.draw(one_shape())
    r = len(conc)
    axes = (None if data.draw(st.booleans()) else
            tuple(data.draw(st.lists(st.integers(0, max(r - 1, 0)), unique=True, max_size=r)))
            if r else None)
    sdt = data.draw(st.sampled_from([I32, I64]))
    x = values(F32, conc, data.draw)
    f = build([(F32, decl)], lambda b, p: [b.size(p, axes=axes, dtype=dtype),
                                           b.shape(p, dtype=sdt),
                                           b.add(b.size(p, axes=axes, dtype=dtype),
                                                 b.size(p, axes=axes, dtype=dtype))])
    check(f, [x])


# ------------------------------------------------------------------ reductions ------------

@pytest.mark.parametrize("op", REDUCE)
@pytest.mark.parametrize("dtype", NUMERIC, ids=lambda d: d.short)
@FEW
@given(data=st.data(), keepdims=st.booleans())
def test_reduce(op, dtype, data, keepdims):
    conc, decl = data.draw(one_shape(max_rank=3))
    r = len(conc)
    mode = data.draw(st.sampled_from(["none", "list", "negative"]))
    if mode == "none" or r == 0:
        axes = None
    else:
        axes = tuple(data.draw(st.lists(st.integers(0, r - 1), unique=True, max_size=r)))
        if mode == "negative":
            axes = tuple(a - r for a in axes)
    lo, hi = ((-3, 3) if op == "reduce_prod" else (-100, 100))
    x = values(dtype, conc, data.draw, lo=lo, hi=hi)
    f = build([(dtype, decl)], lambda b, p: b.op(op, p, axes=axes, keepdims=keepdims))
    ref, got = run_both(f, [x])
    n = max(1, x.size)
    tol = {}
    if dtype is F32 and op in ("reduce_sum", "reduce_mean"):
        tol = dict(atol=4 * 6e-8 * n * 100)   # summation order differs (reassociation)
    if dtype.is_floating and op == "reduce_prod":
        tol = dict(rtol=1e-5 * n if dtype is F32 else 1e-12 * n)
    assert_same(ref[0], got[0], what=f"{op} axes={axes} keepdims={keepdims}", **tol)


def test_integer_mean_truncates_toward_zero():
    x = np.array([[-7, 2, 1], [7, -2, 1], [5, 5, 5], [-1, 0, 0]], np.int32)
    f = build([(I32, (4, 3))], lambda b, p: [b.reduce_mean(p, axes=(1,)),
                                             b.reduce_mean(p, axes=None),
                                             b.reduce_mean(p, axes=(0,), keepdims=True)])
    got = check(f, [x])
    np.testing.assert_array_equal(got[0], [-1, 2, 5, 0])


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min", "reduce_sum", "reduce_prod"])
def test_reduce_nan_and_inf_propagate(op):
    x = np.array([[1, np.nan, 3], [np.nan, -1, 2], [1, 2, 3], [np.inf, -np.inf, 0]], np.float32)
    for axes in (None, (0,), (1,)):
        f = build([(F32, (4, 3))], lambda b, p, axes=axes: b.op(op, p, axes=axes))
        ref, got = run_both(f, [x])
        assert_same(ref[0], got[0], what=f"{op} {axes}")


@pytest.mark.parametrize("op", REDUCE)
def test_reduce_empty(op):
    """Reductions over size-0 axes give the identity (max/min: -inf/+inf, int extremes)."""
    for dtype in NUMERIC:
        x = np.zeros((0, 3), dtype.np)
        f = build([(dtype, ("s0", 3))], lambda b, p: [b.op(op, p, axes=(0,)),
                                                      b.op(op, p, axes=None, keepdims=True)])
        with np.errstate(all="ignore"):
            check(f, [x])


# ------------------------------------------------------------------ matmul ----------------

@pytest.mark.parametrize("dtype", [F32, F64, I32, I64], ids=lambda d: d.short)
@SETTINGS
@given(data=st.data(), ta=st.booleans(), tb=st.booleans())
def test_matmul(dtype, data, ta, tb):
    big = data.draw(st.booleans()) and dtype.is_floating
    dim = st.integers(24, 48) if big else st.integers(0, 6)
    m, k, n = data.draw(dim), data.draw(dim), data.draw(dim)
    batch = data.draw(st.sampled_from([(), (), (2,), (1,), (3,)]))
    a_shape = batch + ((k, m) if ta else (m, k))
    b_shape = (batch if not batch or data.draw(st.booleans()) else (1,)) + ((n, k) if tb else (k, n))
    sym = data.draw(st.booleans())
    a_decl = tuple("s0" if (sym and i == 0) else d for i, d in enumerate(a_shape))
    lo, hi = (-1, 1) if dtype.is_floating else (-20, 20)
    a = values(dtype, a_shape, data.draw, lo=lo, hi=hi)
    b = values(dtype, b_shape, data.draw, lo=lo, hi=hi)
    f = build([(dtype, a_decl), (dtype, b_shape)],
              lambda bb, p, q: bb.matmul(p, q, transpose_a=ta, transpose_b=tb))
    ref, got = run_both(f, [a, b])
    assert_same(ref[0], got[0], atol=1e-5 if dtype is F32 else None,
                what=f"matmul {a_shape} {b_shape} ta={ta} tb={tb}")


@pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.short)
def test_matmul_blas_threshold(dtype):
    """Both sides of BLAS_MIN_FLOPS (the inline loop below, OpenBLAS at and above), with a
    symbolic row count so one executable crosses the threshold at run time."""
    from jitflow.backends.llvm.compiler import BLAS_MIN_FLOPS
    k, n = 32, 32
    f = build([(dtype, ("s0", k)), (dtype, (k, n))], lambda b, p, q: b.matmul(p, q))
    exe = llvm(f)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((k, n)).astype(dtype.np)
    for m in (0, 1, BLAS_MIN_FLOPS // (k * n) - 1, BLAS_MIN_FLOPS // (k * n), 100):
        x = rng.standard_normal((m, k)).astype(dtype.np)
        assert_same(reference(f, [x, w])[0], exe.run([x, w])[0], atol=1e-5, what=f"m={m}")


# ------------------------------------------------------------------ indexing --------------

@st.composite
def slice_spec(draw, shape):
    """A strided_slice attribute set (slices, indices, newaxis; masks; negative bounds and
    strides) valid for ``shape``."""
    kinds, begin, end, strides = [], [], [], []
    bmask = emask = 0
    axis = 0
    n = draw(st.integers(0, len(shape) + 1))
    for i in range(n):
        choices = ["slice", "newaxis"] + (["index"] if axis < len(shape) and shape[axis] else [])
        if axis >= len(shape):
            choices = ["newaxis"]
        kind = draw(st.sampled_from(choices))
        if kind == "newaxis":
            kinds.append(2); begin.append(0); end.append(0); strides.append(1)
            continue
        d = shape[axis]
        axis += 1
        if kind == "index":
            kinds.append(1); begin.append(draw(st.integers(-d, d - 1))); end.append(0)
            strides.append(1)
            continue
        kinds.append(0)
        begin.append(draw(st.integers(-d - 2, d + 2)))
        end.append(draw(st.integers(-d - 2, d + 2)))
        strides.append(draw(st.sampled_from([1, 1, 2, 3, -1, -2])))
        if draw(st.booleans()):
            bmask |= 1 << i
        if draw(st.booleans()):
            emask |= 1 << i
    return dict(kinds=tuple(kinds), begin=tuple(begin), end=tuple(end), strides=tuple(strides),
                begin_mask=bmask, end_mask=emask)


@pytest.mark.parametrize("dtype", [F32, I64, BOOL], ids=lambda d: d.short)
@SETTINGS
@given(data=st.data())
def test_strided_slice_and_grad(dtype, data):
    conc, decl = data.draw(one_shape(max_rank=3))
    spec = data.draw(slice_spec(conc))
    x = values(dtype, conc, data.draw)
    f = build([(dtype, decl)], lambda b, p: b.strided_slice(p, **spec))
    ref = check(f, [x])[0]
    if dtype is BOOL:
        return
    g = values(dtype, ref.shape, data.draw)
    g_decl = tuple(f"g{i}" for i in range(g.ndim))
    fg = build([(dtype, g_decl), (dtype, decl)], lambda b, p, q: b.strided_slice_grad(p, q, **spec))
    check(fg, [g, x])


@pytest.mark.parametrize("dtype", [F32, I32, BOOL], ids=lambda d: d.short)
@FEW
@given(data=st.data(), n=st.integers(1, 3))
def test_concat(dtype, data, n):
    conc, decl = data.draw(one_shape(min_rank=1, max_rank=3))
    r = len(conc)
    axis = data.draw(st.integers(-r, r - 1))
    ax = axis % r
    xs, decls = [], []
    for i in range(n):
        c = list(conc)
        c[ax] = data.draw(st.sampled_from([0, 1, 2, 3]))
        d = list(decl)
        d[ax] = f"c{i}" if data.draw(st.booleans()) else c[ax]
        xs.append(values(dtype, c, data.draw))
        decls.append(tuple(d))
    check(build([(dtype, d) for d in decls], lambda b, *ps: b.concat(*ps, axis=axis)), xs)


# ------------------------------------------------------------------ random ----------------

@pytest.mark.parametrize("op", RANDOM)
@pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.short)
@FEW
@given(seed=st.integers(-2 ** 63, 2 ** 63 - 1), seed2=st.integers(-2 ** 63, 2 ** 63 - 1),
       step=st.integers(0, 2 ** 63 - 1), shape=st.lists(st.integers(0, 9), max_size=3),
       data=st.data())
def test_random_bit_identical(op, dtype, seed, seed2, step, shape, data):
    """Same seeds and step: the same bits as the reference, with a static shape, with a
    (symbolic) like operand, and fused into arithmetic."""
    like = np.zeros(shape, np.float32)
    like_decl = tuple(f"s{i}" if data.draw(st.booleans()) else d for i, d in enumerate(shape))
    attrs = dict(dtype=dtype, seed=seed, seed2=seed2)

    def fn(b, s, l):
        a = b.op(op, s, shape=tuple(shape), **attrs)
        c = b.op(op, s, l, **attrs)
        return [a, c, b.mul(c, b.cast(l, dtype=dtype))]
    f = build([(I64, ()), (F32, like_decl)], fn)
    args = [np.int64(step), like + 1]
    ref, got = run_both(f, args)
    for i, (r, g) in enumerate(zip(ref, got)):
        assert_bitwise(r, g, what=f"{op} result {i}")
    # a different step gives a different stream (when there is anything to draw)
    again = llvm(f).run([np.int64((step + 1) % 2 ** 63), like + 1])
    if like.size > 2:
        assert again[0].tobytes() != got[0].tobytes()


# ------------------------------------------------------------------ symbolic batch --------

def test_one_executable_many_batch_sizes():
    """A symbolic batch dim is a run-time value: one executable, several batch sizes
    (0, 1, others, and back), each equal to the reference."""
    def fn(b, x, w, bias, step):
        h = b.tanh(b.add(b.matmul(x, w), bias))
        noise = b.random_normal(step, h, dtype=F32, seed=1, seed2=2)
        s = b.reduce_sum(b.mul(h, noise), axes=(1,), keepdims=True)
        m = b.reduce_mean(h, axes=None)
        return [h, s, b.sub(h, m), b.size(x), b.concat(x, x, axis=0),
                b.strided_slice(x, kinds=(0,), begin=(1,), end=(0,), strides=(2,), end_mask=1)]
    f = build([(F32, ("batch", 6)), (F32, (6, 4)), (F32, (4,)), (I64, ())], fn)
    exe = llvm(f)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    for n in (5, 0, 1, 17, 5, 300):
        x = rng.standard_normal((n, 6)).astype(np.float32)
        args = [x, w, bias, np.int64(n)]
        ref = reference(f, args)
        got = exe.run(args)
        for i, (r, g) in enumerate(zip(ref, got)):
            assert_same(r, g, atol=1e-4, what=f"batch {n} result {i}")


@pytest.mark.parametrize("op", sorted(set(UNARY_FLOAT + BINARY_FLOAT + COMPARE + REDUCE)))
def test_each_op_one_executable_several_batch_sizes(op):
    """Per op: compiled once for a symbolic batch dim, run at batch sizes 0, 1, 7 and 2
    (the batch axis broadcast against a static operand and reduced over)."""
    def fn(b, x, y):
        if op in REDUCE:
            return [b.op(op, x, axes=(0,)), b.op(op, x, axes=(1,), keepdims=True)]
        if op in UNARY_FLOAT:
            return b.op(op, x)
        return [b.op(op, x, y), b.op(op, y, x)]
    f = build([(F32, ("batch", 3)), (F32, (3,))], fn)
    exe = llvm(f)
    rng = np.random.default_rng(5)
    y = rng.uniform(0.5, 3, 3).astype(np.float32)
    for n in (0, 1, 7, 2):
        args = [rng.uniform(0.5, 3, (n, 3)).astype(np.float32), y]
        with np.errstate(all="ignore"):
            ref = reference(f, args)
        for r, g in zip(ref, exe.run(args)):
            assert_same(r, g, what=f"{op} at batch {n}")


def test_symbolic_dim_mismatch_is_an_error():
    f = build([(F32, ("s0", 3)), (F32, ("s0", 3))], lambda b, p, q: b.add(p, q))
    with pytest.raises(InvalidArgumentError):
        llvm(f).run([np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32)])


# ------------------------------------------------------------------ multi-threaded kernels --

def test_large_flat_kernels_split_over_threads():
    """Flat elementwise kernels above PARALLEL_MIN elements run in chunks on every core: the
    results, random draws (bit-exact: the element index is global), broadcast reads and an
    error raised in the last chunk must not depend on the split."""
    from jitflow.backends.llvm.parallel import PARALLEL_MIN
    rows = (PARALLEL_MIN + 4099) // 64

    def fn(b, x, w, bias, step, k, d):
        y = b.tanh(b.add(b.mul(x, w), bias))
        r = b.random_normal(step, x, dtype=F32, seed=11, seed2=12)
        return [y, r, b.add(y, r), b.floordiv(k, d)]
    f = build([(F32, ("rows", 64)), (F32, ("rows", 64)), (F32, (64,)), (I64, ()),
               (I32, ("rows", 64)), (I32, ("rows", 64))], fn)
    exe = llvm(f)
    from jitflow.backends.llvm.jit import have_openmp
    assert ("@GOMP_parallel" in exe.ir_text) == have_openmp()
    rng = np.random.default_rng(0)
    x, w = (rng.standard_normal((rows, 64)).astype(np.float32) for _ in range(2))
    bias = rng.standard_normal(64).astype(np.float32)
    k = rng.integers(-100, 100, (rows, 64)).astype(np.int32)
    d = rng.integers(1, 9, (rows, 64)).astype(np.int32)
    args = [x, w, bias, np.int64(3), k, d]
    ref, got = reference(f, args), exe.run(args)
    assert_same(ref[0], got[0], rtol=2e-6, atol=1e-6)
    assert_bitwise(ref[1], got[1], "random_normal")
    assert_same(ref[2], got[2], rtol=2e-6, atol=1e-6)
    assert_same(ref[3], got[3])
    d[-1, -1] = 0                                        # an error in the last chunk
    with pytest.raises(InvalidArgumentError, match="division by zero"):
        exe.run(args)
    d[-1, -1] = 1
    assert_same(reference(f, args)[3], exe.run(args)[3])   # and the executable still works
