"""Values of the neural-network ops (``jitflow.ops.conv``, ``pool``, ``softmax``, ...) against direct NumPy / naive-loop oracles.

Each op runs as a single-op Function on the reference backend with static, symbolic and
unknown parameter dims; results are checked against the op's type rule (dtype, static dims,
symbols) and against an oracle written independently of the implementation (convolution and
pooling as explicit loops over output positions and window offsets, TF's padding arithmetic
written out again here).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jitflow  # noqa: F401  (registers the ops)
from jitflow.backends import get_backend
from jitflow.errors import InvalidArgumentError
from jitflow.ir import (OPS, Builder, Function, ShapeMismatch, TensorType, as_dtype, bool_,
                        float32, float64, int32, int64, verify)
from jitflow.ops.window import window_geometry

from _op_coverage import NN_MODULES

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
BACKEND = get_backend("reference")
FLOATS = (float32, float64)
MODES = ("static", "symbolic", "unknown")

# ----------------------------------------------------------------------------- harness ------


def declared(shape, mode):
    if mode == "static":
        return tuple(shape)
    if mode == "symbolic":
        return tuple(f"d{n}" for n in shape)
    return tuple(None for _ in shape)


def run_op(opname, *args, mode="static", **attrs):
    """Run ``opname`` on arrays ``args`` as a single-op Function; check results vs types."""
    args = [np.asarray(a) for a in args]
    f = Function("t")
    params = [f.add_param(TensorType(as_dtype(a.dtype), declared(a.shape, mode))) for a in args]
    out = Builder(f.ops).op(opname, *params, **attrs)
    outs = list(out) if isinstance(out, tuple) else [out]
    f.set_results(outs)
    verify(f)
    res = BACKEND.compile(f).run(args)
    env: dict = {}
    for p, a in zip(params, args):
        for d, n in zip(p.type.shape, a.shape):
            if isinstance(d, str):
                env.setdefault(d, n)
    for v, a in zip(outs, res):
        assert isinstance(a, np.ndarray) or isinstance(a, np.generic), (v, type(a))
        assert a.dtype == v.type.dtype.np, (v, a.dtype)
        assert a.ndim == v.type.rank, (v, a.shape)
        for d, n in zip(v.type.shape, a.shape):
            if isinstance(d, int):
                assert d == n, (v, a.shape)
            elif isinstance(d, str):
                assert env.setdefault(d, n) == n, (v, a.shape)
    return res[0] if len(res) == 1 else res


def close(got, want, dtype=None, **kw):
    want = np.asarray(want)
    dtype = as_dtype(dtype or got.dtype)
    assert got.dtype == dtype.np, (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype is float32 else dict(rtol=1e-11, atol=1e-11)
    tol.update(kw)
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


seeds = st.integers(0, 2**31 - 1)
float_dtypes = st.sampled_from(FLOATS)
modes = st.sampled_from(MODES)


def rand(rng, shape, dtype, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(as_dtype(dtype).np)


def distinct(rng, shape, dtype):
    """Values with gaps of 0.1 (no ties, far apart relative to float32 rounding)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.1).reshape(shape).astype(as_dtype(dtype).np)


# ----------------------------------------------------------------------------- geometry -----

def tf_geometry(n, k, s, d, padding):
    """TF's GetWindowedOutputSize written out: (out, pad_before, pad_after)."""
    eff = (k - 1) * d + 1
    if padding == "VALID":
        out = math.ceil((n - eff + 1) / s)
        return out, 0, 0
    out = math.ceil(n / s)
    total = max((out - 1) * s + eff - n, 0)
    return out, total // 2, total - total // 2


def test_same_padding_puts_the_extra_pad_at_the_end():
    assert window_geometry(28, 3, 2, 1, "SAME") == (14, 0, 1)     # ch13 conv2: pads (0, 1)
    assert window_geometry(28, 3, 1, 1, "SAME") == (28, 1, 1)
    assert window_geometry(14, 2, 2, 1, "VALID") == (7, 0, 0)
    assert window_geometry(5, 4, 1, 1, "SAME") == (5, 1, 2)
    assert window_geometry(7, 3, 2, 2, "SAME") == (4, 2, 2)
    assert window_geometry(2, 3, 1, 1, "VALID") == (0, 0, 0)       # TF allows an empty output
    with pytest.raises(ShapeMismatch, match="negative"):
        window_geometry(1, 4, 1, 1, "VALID")


@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 4), st.integers(1, 3),
       st.sampled_from(["SAME", "VALID"]))
@settings(max_examples=200, deadline=None)
def test_window_geometry_matches_tf_formula(n, k, s, d, padding):
    assume((k - 1) * d + 1 <= n or padding == "SAME")
    assert window_geometry(n, k, s, d, padding) == tf_geometry(n, k, s, d, padding)


def test_ch13_conv_asymmetric_padding_shifts_no_window():
    """in 28, k 3, s 2, SAME == VALID on the input padded (0, 1) (not PyTorch's (1, 1))."""
    rng = np.random.default_rng(0)
    x = rand(rng, (2, 28, 28, 3), float64)
    w = rand(rng, (3, 3, 3, 4), float64)
    same = run_op("conv2d", x, w, strides=(2, 2), padding="SAME")
    valid = run_op("conv2d", np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0))), w, strides=(2, 2),
                   padding="VALID")
    assert same.shape == (2, 14, 14, 4)
    close(same, valid)
    sym = run_op("conv2d", np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))), w, strides=(2, 2),
                 padding="VALID")
    assert not np.allclose(same, sym[:, :14, :14])


# ----------------------------------------------------------------------------- conv2d -------


def window_positions(n, k, s, d, padding):
    out, before, _ = tf_geometry(n, k, s, d, padding)
    return out, [[o * s - before + a * d for a in range(k)] for o in range(out)]


def conv_naive(x, w, strides, padding, dilations):
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    oh, rows = window_positions(h, kh, strides[0], dilations[0], padding)
    ow, cols = window_positions(wd, kw, strides[1], dilations[1], padding)
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            for a, r in enumerate(rows[i]):
                for b, q in enumerate(cols[j]):
                    if 0 <= r < h and 0 <= q < wd:
                        out[:, i, j, :] += x[:, r, q, :].astype(np.float64) @ w[a, b]
    return out


def conv_bpi_naive(g, w, x_shape, strides, padding, dilations):
    n, h, wd, c = x_shape
    kh, kw, _, o = w.shape
    oh, rows = window_positions(h, kh, strides[0], dilations[0], padding)
    ow, cols = window_positions(wd, kw, strides[1], dilations[1], padding)
    dx = np.zeros(x_shape)
    for i in range(oh):
        for j in range(ow):
            for a, r in enumerate(rows[i]):
                for b, q in enumerate(cols[j]):
                    if 0 <= r < h and 0 <= q < wd:
                        dx[:, r, q, :] += g[:, i, j, :].astype(np.float64) @ w[a, b].T
    return dx


def conv_bpf_naive(x, g, w_shape, strides, padding, dilations):
    n, h, wd, c = x.shape
    kh, kw, _, o = w_shape
    oh, rows = window_positions(h, kh, strides[0], dilations[0], padding)
    ow, cols = window_positions(wd, kw, strides[1], dilations[1], padding)
    dw = np.zeros(w_shape)
    for i in range(oh):
        for j in range(ow):
            for a, r in enumerate(rows[i]):
                for b, q in enumerate(cols[j]):
                    if 0 <= r < h and 0 <= q < wd:
                        dw[a, b] += x[:, r, q, :].astype(np.float64).T @ g[:, i, j, :]
    return dw


@st.composite
def conv_cases(draw):
    n = draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 2)]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID":
        assume((kh - 1) * dil[0] + 1 <= h and (kw - 1) * dil[1] + 1 <= w)
    return (n, h, w, c), (kh, kw, c, o), strides, padding, dil


@SETTINGS
@given(conv_cases(), float_dtypes, modes, seeds)
def test_conv2d_matches_naive_loops(case, dtype, mode, seed):
    xs, ws, strides, padding, dil = case
    rng = np.random.default_rng(seed)
    x, w = rand(rng, xs, dtype), rand(rng, ws, dtype)
    got = run_op("conv2d", x, w, strides=strides, padding=padding, dilations=dil, mode=mode)
    close(got, conv_naive(x, w, strides, padding, dil), dtype)


@SETTINGS
@given(conv_cases(), float_dtypes, modes, seeds)
def test_conv2d_backprops_match_naive_loops(case, dtype, mode, seed):
    xs, ws, strides, padding, dil = case
    rng = np.random.default_rng(seed)
    x, w = rand(rng, xs, dtype), rand(rng, ws, dtype)
    oh = tf_geometry(xs[1], ws[0], strides[0], dil[0], padding)[0]
    ow = tf_geometry(xs[2], ws[1], strides[1], dil[1], padding)[0]
    g = rand(rng, (xs[0], oh, ow, ws[3]), dtype)
    attrs = dict(strides=strides, padding=padding, dilations=dil)
    dx = run_op("conv2d_backprop_input", g, w, np.zeros(xs, dtype.np), mode=mode, **attrs)
    close(dx, conv_bpi_naive(g, w, xs, strides, padding, dil), dtype)
    dw = run_op("conv2d_backprop_filter", x, g, np.zeros(ws, dtype.np), mode=mode, **attrs)
    close(dw, conv_bpf_naive(x, g, ws, strides, padding, dil), dtype)


def test_conv2d_type_rule():
    f = Function("t")
    x = f.add_param(TensorType(float32, ("s0", 28, 28, 1)))
    w = f.add_param(TensorType(float32, (3, 3, 1, 32)))
    b = Builder(f.ops)
    y = b.conv2d(x, w, strides=(1, 1), padding="SAME")
    assert y.type.shape == ("s0", 28, 28, 32)
    w2 = f.add_param(TensorType(float32, (3, 3, 32, 64)))
    z = b.conv2d(y, w2, strides=(2, 2), padding="SAME")
    assert z.type.shape == ("s0", 14, 14, 64)
    assert b.max_pool(z, ksize=(2, 2), strides=(2, 2)).type.shape == ("s0", 7, 7, 64)
    u = f.add_param(TensorType(float32, ("s0", "h", 9, 1)))
    assert b.conv2d(u, w, padding="VALID").type.shape == ("s0", None, 7, 32)
    with pytest.raises(ShapeMismatch, match="Dimensions must be equal, but are 32 and 1"):
        b.conv2d(y, w)
    with pytest.raises(ShapeMismatch, match="padding"):
        b.conv2d(x, w, padding="same")
    with pytest.raises(ShapeMismatch, match="strides"):
        b.conv2d(x, w, strides=(1, 1, 1, 1))
    with pytest.raises(ShapeMismatch, match="rank 4"):
        b.conv2d(f.add_param(TensorType(float32, (28, 28, 1))), w)
    with pytest.raises(TypeError):
        b.conv2d(f.add_param(TensorType(int32, (1, 3, 3, 1))), f.add_param(TensorType(int32, (1, 1, 1, 1))))
    with pytest.raises(ShapeMismatch, match="negative"):
        b.conv2d(f.add_param(TensorType(float32, (1, 1, 5, 1))), f.add_param(TensorType(float32, (4, 1, 1, 1))))


def test_conv2d_run_time_shape_errors():
    with pytest.raises(InvalidArgumentError, match="depth"):
        run_op("conv2d", np.zeros((1, 3, 3, 2)), np.zeros((1, 1, 3, 1)), mode="unknown")


# ----------------------------------------------------------------------------- pooling ------

def pool_windows(shape, ksize, strides, padding):
    """For each output (i, j): the list of real input positions of its window, row-major."""
    _, h, w, _ = shape
    oh, rows = window_positions(h, ksize[0], strides[0], 1, padding)
    ow, cols = window_positions(w, ksize[1], strides[1], 1, padding)
    return oh, ow, {(i, j): [(r, q) for r in rows[i] for q in cols[j] if 0 <= r < h and 0 <= q < w]
                    for i in range(oh) for j in range(ow)}


def max_pool_naive(x, ksize, strides, padding):
    oh, ow, win = pool_windows(x.shape, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for (i, j), pos in win.items():
        out[:, i, j, :] = np.max(np.stack([x[:, r, q, :] for r, q in pos]), axis=0)
    return out


def avg_pool_naive(x, ksize, strides, padding):
    oh, ow, win = pool_windows(x.shape, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for (i, j), pos in win.items():
        out[:, i, j, :] = np.mean(np.stack([x[:, r, q, :].astype(np.float64) for r, q in pos]), axis=0)
    return out


def max_pool_grad_naive(x, g, ksize, strides, padding):
    """Each window's g goes to the first (row-major) position holding the window's max."""
    oh, ow, win = pool_windows(x.shape, ksize, strides, padding)
    dx = np.zeros(x.shape)
    for (i, j), pos in win.items():
        for n in range(x.shape[0]):
            for c in range(x.shape[3]):
                vals = [x[n, r, q, c] for r, q in pos]
                r, q = pos[int(np.argmax(vals))]
                dx[n, r, q, c] += g[n, i, j, c]
    return dx


def max_pool_grad_grad_naive(x, gg, ksize, strides, padding):
    oh, ow, win = pool_windows(x.shape, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for (i, j), pos in win.items():
        for n in range(x.shape[0]):
            for c in range(x.shape[3]):
                vals = [x[n, r, q, c] for r, q in pos]
                r, q = pos[int(np.argmax(vals))]
                out[n, i, j, c] = gg[n, r, q, c]
    return out


def avg_pool_grad_naive(g, shape, ksize, strides, padding):
    oh, ow, win = pool_windows(shape, ksize, strides, padding)
    dx = np.zeros(shape)
    for (i, j), pos in win.items():
        for r, q in pos:
            dx[:, r, q, :] += g[:, i, j, :] / len(pos)
    return dx


@st.composite
def pool_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7)),
             draw(st.integers(1, 3)))
    ksize = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID":
        assume(ksize[0] <= shape[1] and ksize[1] <= shape[2])
    return shape, ksize, strides, padding


@SETTINGS
@given(pool_cases(), st.sampled_from([float32, float64, int32]), modes, seeds,
       st.booleans())
def test_max_pool_and_its_gradients_match_naive_loops(case, dtype, mode, seed, ties):
    shape, ksize, strides, padding = case
    rng = np.random.default_rng(seed)
    if ties or dtype is int32:   # few distinct values: ties inside windows, routed to the first
        x = rng.integers(-2, 3, size=shape).astype(dtype.np)
    else:
        x = rand(rng, shape, dtype, -5, -1)   # all negative: padding (never 0) must not win
    attrs = dict(ksize=ksize, strides=strides, padding=padding)
    y = run_op("max_pool", x, mode=mode, **attrs)
    np.testing.assert_array_equal(y, max_pool_naive(x, ksize, strides, padding))
    if dtype is int32:
        return
    g = rand(rng, y.shape, dtype)
    dx = run_op("max_pool_grad", x, g, mode=mode, **attrs)
    close(dx, max_pool_grad_naive(x, g, ksize, strides, padding), dtype)
    gg = rand(rng, shape, dtype)
    out = run_op("max_pool_grad_grad", x, gg, mode=mode, **attrs)
    close(out, max_pool_grad_grad_naive(x, gg, ksize, strides, padding), dtype)


@SETTINGS
@given(pool_cases(), float_dtypes, modes, seeds)
def test_avg_pool_and_its_gradient_match_naive_loops(case, dtype, mode, seed):
    shape, ksize, strides, padding = case
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype)
    attrs = dict(ksize=ksize, strides=strides, padding=padding)
    y = run_op("avg_pool", x, mode=mode, **attrs)
    close(y, avg_pool_naive(x, ksize, strides, padding), dtype)
    g = rand(rng, y.shape, dtype)
    dx = run_op("avg_pool_grad", g, np.zeros(shape, dtype.np), mode=mode, **attrs)
    close(dx, avg_pool_grad_naive(g, shape, ksize, strides, padding), dtype)


def test_pooling_same_edges():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    # 2x2 s2 SAME on 3x3: out 2x2, pads (0, 1): the last row/column windows hold real values only
    y = run_op("avg_pool", x, ksize=(2, 2), strides=(2, 2), padding="SAME")
    np.testing.assert_allclose(y[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]])
    m = run_op("max_pool", -x, ksize=(2, 2), strides=(2, 2), padding="SAME")
    np.testing.assert_allclose(m[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])
    # ties: the gradient goes to the first maximum only
    t = np.ones((1, 2, 2, 1))
    d = run_op("max_pool_grad", t, np.full((1, 1, 1, 1), 5.0), ksize=(2, 2), strides=(2, 2))
    np.testing.assert_array_equal(d[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])
    # -inf inputs: padding (also -inf) never takes the gradient
    z = np.full((1, 1, 2, 1), -np.inf)
    d = run_op("max_pool_grad", z, np.ones((1, 1, 2, 1)), ksize=(1, 3), strides=(1, 1), padding="SAME")
    np.testing.assert_array_equal(d[0, 0, :, 0], [2.0, 0.0])


# ----------------------------------------------------------------------------- bias / softmax

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), float_dtypes, modes, seeds,
       st.booleans())
def test_bias_add(shape, dtype, mode, seed, nchw):
    rng = np.random.default_rng(seed)
    axis = 1 if nchw else -1
    x, bias = rand(rng, shape, dtype), rand(rng, (shape[axis],), dtype)
    want = x + (bias.reshape([-1] + [1] * (len(shape) - 2)) if nchw else bias)
    close(run_op("bias_add", x, bias, axis=axis, mode=mode), want, dtype)


def softmax_oracle(x, axis):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), float_dtypes, modes, seeds,
       st.integers(-3, 2))
def test_softmax_and_log_softmax(shape, dtype, mode, seed, axis):
    assume(-len(shape) <= axis < len(shape))
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -30, 30)
    close(run_op("softmax", x, axis=axis, mode=mode), softmax_oracle(x, axis), dtype)
    close(run_op("log_softmax", x, axis=axis, mode=mode), np.log(softmax_oracle(x, axis)), dtype,
          rtol=1e-4 if dtype is float32 else 1e-10)


def test_softmax_is_shift_stable():
    x = np.array([[1000.0, 1000.0, -1000.0]], np.float32)
    np.testing.assert_allclose(run_op("softmax", x), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(run_op("log_softmax", x), [[-math.log(2), -math.log(2), -2000.0 - math.log(2)]],
                               rtol=1e-6)


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6), float_dtypes,
       st.sampled_from([int32, int64]), modes, seeds)
def test_sparse_softmax_cross_entropy(outer, depth, dtype, ltype, mode, seed):
    rng = np.random.default_rng(seed)
    z = rand(rng, outer + [depth], dtype, -20, 20)
    y = rng.integers(0, depth, size=outer).astype(ltype.np)
    loss, backprop = run_op("sparse_softmax_cross_entropy", z, y, mode=mode)
    p = softmax_oracle(z, -1)
    onehot = np.eye(depth)[y]
    close(loss, -np.log(np.sum(p * onehot, axis=-1)), dtype, rtol=1e-4 if dtype is float32 else 1e-10)
    close(backprop, p - onehot, dtype)


def test_sparse_softmax_cross_entropy_bad_labels():
    z = np.zeros((3, 10), np.float32)
    with pytest.raises(InvalidArgumentError) as e:
        run_op("sparse_softmax_cross_entropy", z, np.array([1, 10, -1], np.int32))
    assert ("Received a label value of 10 which is outside the valid range of [0, 10).  "
            "Label values: 1 10 -1") in str(e.value)
    with pytest.raises(InvalidArgumentError, match="same first dimension"):
        run_op("sparse_softmax_cross_entropy", z, np.array([1, 2], np.int32), mode="unknown")
    f = Function("t")
    b = Builder(f.ops)
    zz = f.add_param(TensorType(float32, ("s0", 10)))
    with pytest.raises(ShapeMismatch, match="Rank mismatch"):
        b.sparse_softmax_cross_entropy(zz, f.add_param(TensorType(int32, ("s0", 1))))
    with pytest.raises(TypeError):
        b.sparse_softmax_cross_entropy(zz, f.add_param(TensorType(float32, ("s0",))))


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=0, max_size=2), st.integers(1, 6), float_dtypes,
       modes, seeds, st.booleans())
def test_softmax_cross_entropy(outer, depth, dtype, mode, seed, broadcast_labels):
    rng = np.random.default_rng(seed)
    z = rand(rng, outer + [depth], dtype, -20, 20)
    lab_shape = [1] * len(outer) + [depth] if broadcast_labels else outer + [depth]
    y = rng.dirichlet(np.ones(depth), size=lab_shape[:-1] or None).astype(dtype.np).reshape(lab_shape)
    loss, backprop = run_op("softmax_cross_entropy", z, y, mode=mode)
    p = softmax_oracle(z, -1)
    close(loss, -np.sum(y * np.log(p), axis=-1), dtype, rtol=1e-4 if dtype is float32 else 1e-10)
    close(backprop, p - y, dtype)


@SETTINGS
@given(st.lists(st.integers(1, 4), max_size=3), float_dtypes, modes, seeds)
def test_sigmoid_cross_entropy(shape, dtype, mode, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -100, 100)
    z = rng.uniform(0, 1, size=shape).astype(dtype.np)
    got = run_op("sigmoid_cross_entropy", x, z, mode=mode)
    xd, zd = x.astype(np.float64), z.astype(np.float64)
    want = np.where(xd >= 0, xd * (1 - zd) + np.log1p(np.exp(-xd)),
                    -xd * zd + np.log1p(np.exp(xd)))            # no overflow for |x| <= 100
    close(got, want, dtype, rtol=1e-5 if dtype is float32 else 1e-10)
    assert np.all(np.isfinite(got))


# ----------------------------------------------------------------------------- in_top_k -----

@SETTINGS
@given(st.integers(0, 5), st.integers(1, 5), st.integers(-1, 6), float_dtypes,
       st.sampled_from([int32, int64]), modes, seeds)
def test_in_top_k(n, c, k, dtype, ttype, mode, seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(-2, 3, size=(n, c)).astype(dtype.np)     # many ties
    p[rng.random((n, c)) < 0.1] = rng.choice([np.nan, np.inf, -np.inf])
    t = rng.integers(-1, c + 1, size=(n,)).astype(ttype.np)
    got = run_op("in_top_k", p, t, k=k, mode=mode)
    want = []
    for i in range(n):
        if not 0 <= t[i] < c or not np.all(np.isfinite(p[i])):
            want.append(False)
        else:
            want.append(sum(1 for v in p[i] if v > p[i, t[i]]) < k)
    np.testing.assert_array_equal(got, np.array(want, dtype=bool).reshape(n))


# ----------------------------------------------------------------------------- activations --

def _away_from(x, points, gap=0.05):
    for p in points:
        x = np.where(np.abs(x - p) < gap, p + gap * np.sign(x - p + 1e-12) * 2, x)
    return x


@SETTINGS
@given(st.lists(st.integers(0, 4), max_size=3), float_dtypes, modes, seeds,
       st.floats(0.0, 1.0))
def test_activations(shape, dtype, mode, seed, alpha):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -10, 10)
    xd = x.astype(np.float64)
    close(run_op("elu", x, mode=mode), np.where(xd > 0, xd, np.expm1(np.minimum(xd, 0))), dtype)
    close(run_op("leaky_relu", x, alpha=alpha, mode=mode), np.where(xd > 0, xd, alpha * xd), dtype)
    close(run_op("softplus", x, mode=mode), np.log1p(np.exp(-np.abs(xd))) + np.maximum(xd, 0), dtype)
    close(run_op("relu6", x, mode=mode), np.clip(xd, 0, 6), dtype)
    close(run_op("l2_loss", x, mode=mode), np.sum(xd * xd) / 2, dtype)


def test_activation_edges():
    big = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], np.float32)
    np.testing.assert_allclose(run_op("softplus", big), [0.0, np.exp(-50.0), math.log(2), 50.0, 1000.0],
                               rtol=1e-6)
    assert run_op("leaky_relu", big).tolist() == [-200.0, -10.0, 0.0, 50.0, 1000.0]
    np.testing.assert_array_equal(run_op("relu6", np.array([-1, 3, 7], np.int32)), [0, 3, 6])
    with pytest.raises(TypeError):
        run_op("elu", np.array([1, 2], np.int32))


# ----------------------------------------------------------------------------- argmax etc. --

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from([float32, int32, int64]),
       st.sampled_from([int32, int64]), modes, seeds, st.integers(-3, 2))
def test_argmax_argmin_first_index(shape, dtype, otype, mode, seed, axis):
    assume(-len(shape) <= axis < len(shape))
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(dtype.np)      # ties
    for op, fn in (("argmax", np.argmax), ("argmin", np.argmin)):
        got = run_op(op, x, axis=axis, dtype=otype, mode=mode)
        assert got.dtype == otype.np
        moved = np.moveaxis(x, axis, -1)
        want = np.array([next(i for i, v in enumerate(row) if v == (row.max() if op == "argmax" else row.min()))
                         for row in moved.reshape(-1, moved.shape[-1])]).reshape(moved.shape[:-1])
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got, fn(x, axis=axis))


def test_argmax_default_dtype_is_int64():
    assert OPS["argmax"].complete_attrs({})["dtype"] is int64
    with pytest.raises(InvalidArgumentError, match="empty"):
        run_op("argmax", np.zeros((0, 3), np.float32))


@SETTINGS
@given(st.lists(st.integers(0, 4), max_size=3), st.integers(0, 5), st.integers(-1, 3),
       st.sampled_from([float32, int32, bool_]), modes, seeds)
def test_one_hot(shape, depth, axis, dtype, mode, seed):
    assume(axis <= len(shape))
    rng = np.random.default_rng(seed)
    idx = rng.integers(-1, depth + 2, size=shape).astype(np.int32)
    on, off = np.array(1, dtype.np), np.array(0, dtype.np)
    if dtype is float32:
        on, off = np.array(2.5, np.float32), np.array(-1.0, np.float32)
    got = run_op("one_hot", idx, on, off, depth=depth, axis=axis, mode=mode)
    want = np.where(np.arange(depth) == idx[..., None], on, off)       # axis -1
    ax = len(shape) if axis == -1 else axis
    np.testing.assert_array_equal(got, np.moveaxis(want, -1, ax))


# ----------------------------------------------------------------------------- gather -------

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.lists(st.integers(0, 3), max_size=2),
       st.sampled_from([float32, float64, int32]), st.sampled_from([int32, int64]), modes, seeds,
       st.integers(-3, 2))
def test_gather_and_gather_grad(pshape, ishape, dtype, itype, mode, seed, axis):
    assume(-len(pshape) <= axis < len(pshape))
    rng = np.random.default_rng(seed)
    p = rng.integers(-9, 9, size=pshape).astype(dtype.np)
    ax = axis % len(pshape)
    idx = rng.integers(0, pshape[ax], size=ishape).astype(itype.np)
    got = run_op("gather", p, idx, axis=axis, mode=mode)
    want = np.empty(pshape[:ax] + ishape + pshape[ax + 1:], dtype.np)
    for pos in np.ndindex(*want.shape):
        lead, mid, tail = pos[:ax], pos[ax:ax + len(ishape)], pos[ax + len(ishape):]
        want[pos] = p[lead + (idx[mid],) + tail]
    np.testing.assert_array_equal(got, want)
    g = rng.integers(-9, 9, size=want.shape).astype(dtype.np)
    dp = run_op("gather_grad", g, idx, np.zeros(pshape, dtype.np), axis=axis, mode=mode)
    acc = np.zeros(pshape, dtype.np)
    for pos in np.ndindex(*want.shape):
        lead, mid, tail = pos[:ax], pos[ax:ax + len(ishape)], pos[ax + len(ishape):]
        acc[lead + (idx[mid],) + tail] += g[pos]
    np.testing.assert_array_equal(dp, acc)


def test_gather_out_of_range():
    with pytest.raises(InvalidArgumentError, match=r"indices\[1,0\] = 5 is not in \[0, 5\)"):
        run_op("gather", np.zeros((5, 2)), np.array([[0], [5]], np.int32))
    with pytest.raises(InvalidArgumentError, match=r"indices\[0\] = -1 is not in \[0, 3\)"):
        run_op("gather", np.zeros(3), np.array([-1], np.int64))


# ----------------------------------------------------------------------------- split / pad / tile

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(-3, 2), modes, seeds,
       st.data())
def test_split(shape, axis, mode, seed, data):
    assume(-len(shape) <= axis < len(shape))
    rng = np.random.default_rng(seed)
    ax = axis % len(shape)
    shape[ax] = data.draw(st.integers(0, 6))
    x = rand(rng, shape, float32)
    if data.draw(st.booleans()):
        num = data.draw(st.sampled_from([d for d in range(1, 7) if shape[ax] % d == 0] or [1]))
        pieces = run_op("split", x, axis=axis, num=num, mode=mode)
        want = np.split(x, num, axis=ax)
    else:
        sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
        assume(sum(sizes) <= shape[ax])
        sizes[data.draw(st.integers(0, len(sizes) - 1))] = -1
        pieces = run_op("split", x, axis=axis, num=len(sizes), sizes=tuple(sizes), mode=mode)
        known = shape[ax] - sum(s for s in sizes if s != -1)
        cuts = np.cumsum([known if s == -1 else s for s in sizes])[:-1]
        want = np.split(x, cuts, axis=ax)
    pieces = pieces if isinstance(pieces, list) else [pieces]
    assert len(pieces) == len(want)
    for a, b in zip(pieces, want):
        np.testing.assert_array_equal(a, b)


def test_split_errors():
    f = Function("t")
    b = Builder(f.ops)
    x = f.add_param(TensorType(float32, (5, 2)))
    with pytest.raises(ShapeMismatch, match="evenly divide"):
        b.split(x, num=2)
    with pytest.raises(ShapeMismatch, match="5"):
        b.split(x, num=2, sizes=(1, 2))
    with pytest.raises(InvalidArgumentError, match="evenly divide"):
        run_op("split", np.zeros((5, 2)), num=2, mode="unknown")


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=3), st.sampled_from([float32, int64, bool_]), modes,
       seeds, st.data())
def test_pad(shape, dtype, mode, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 5, size=shape).astype(dtype.np)
    pairs = [(data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in shape]
    value = data.draw(st.sampled_from([0.0, 1.0, -3.0]))
    got = run_op("pad", x, paddings=tuple(v for p in pairs for v in p), value=value, mode=mode)
    want = np.full([d + p + q for d, (p, q) in zip(shape, pairs)], value).astype(dtype.np)
    want[tuple(slice(p, p + d) for d, (p, _) in zip(shape, pairs))] = x
    np.testing.assert_array_equal(got, want)


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=3), modes, seeds, st.data())
def test_tile_and_tile_grad(shape, mode, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 5, size=shape).astype(np.int32)
    mult = tuple(data.draw(st.integers(0, 3)) for _ in shape)
    y = run_op("tile", x, multiples=mult, mode=mode)
    want = np.empty([d * m for d, m in zip(shape, mult)], np.int32)
    for pos in np.ndindex(*want.shape):
        want[pos] = x[tuple(p % d for p, d in zip(pos, shape))]
    np.testing.assert_array_equal(y, want)
    g = rng.integers(-5, 5, size=want.shape).astype(np.int32)
    dx = run_op("tile_grad", g, x, multiples=mult, mode=mode)
    acc = np.zeros(shape, np.int32)
    for pos in np.ndindex(*want.shape):
        acc[tuple(p % d for p, d in zip(pos, shape))] += g[pos]
    np.testing.assert_array_equal(dx, acc)


# ----------------------------------------------------------------------------- reductions ---

@SETTINGS
@given(st.lists(st.integers(0, 4), max_size=3), float_dtypes, modes, seeds, st.data())
def test_reduce_logsumexp(shape, dtype, mode, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, dtype, -50, 50) + dtype.np.type(data.draw(st.sampled_from([0, 1000, -1000])))
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(0, max(len(shape) - 1, 0)),
                                                   max_size=len(shape), unique=True).map(tuple)))
    keep = data.draw(st.booleans())
    got = run_op("reduce_logsumexp", x, axes=axes, keepdims=keep, mode=mode)
    ax = tuple(range(len(shape))) if axes is None else axes
    xd = x.astype(np.float64)
    m = np.max(xd, axis=ax, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        want = np.log(np.sum(np.exp(xd - m), axis=ax, keepdims=True)) + m
    if not keep:
        want = np.squeeze(want, axis=ax)
    close(got, want, dtype)


def test_reduce_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [1e30, 1e30]], np.float64)
    np.testing.assert_allclose(run_op("reduce_logsumexp", x, axes=(1,)),
                               [-np.inf, np.inf, 1e30 + math.log(2)])


@SETTINGS
@given(st.lists(st.integers(0, 3), max_size=3), modes, seeds, st.data())
def test_reduce_all_any(shape, mode, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.random(shape) < data.draw(st.sampled_from([0.1, 0.5, 0.9]))
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(0, max(len(shape) - 1, 0)),
                                                   max_size=len(shape), unique=True).map(tuple)))
    keep = data.draw(st.booleans())
    ax = tuple(range(len(shape))) if axes is None else axes
    np.testing.assert_array_equal(run_op("reduce_all", x, axes=axes, keepdims=keep, mode=mode),
                                  np.all(x, axis=ax, keepdims=keep))
    np.testing.assert_array_equal(run_op("reduce_any", x, axes=axes, keepdims=keep, mode=mode),
                                  np.any(x, axis=ax, keepdims=keep))
    with pytest.raises(TypeError):
        run_op("reduce_all", x.astype(np.float32))


# ----------------------------------------------------------------------------- registry -----

NN_OPS = sorted(n for n, d in OPS.items() if (d.reference or d.infer).__module__ in NN_MODULES)


def test_every_nn_op_is_tested_here_or_in_the_gradient_file():
    """A new op in jitflow/ops/nn.py needs an oracle test in this file (the fused conv ops:
    in test_conv_fused.py)."""
    from pathlib import Path
    src = open(__file__).read() + (Path(__file__).parent / "test_conv_fused.py").read_text()
    missing = [n for n in NN_OPS if f'"{n}"' not in src]
    assert not missing, f"no value test for {missing}"
