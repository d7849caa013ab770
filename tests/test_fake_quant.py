"""tf.quantization.fake_quant_with_min_max_{args,vars,vars_per_channel} and their gradients
(ops/quant.py) on the reference and llvm backends: values bit for bit against a scalar NumPy
transcription of TF 1.15's functor written here (hypothesis over min, max, num_bits and
narrow_range), the straight-through gradients against hand-computed masks and sums and
against finite differences away from the clamp edges, errors, and a GraphDef round trip."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

BACKENDS = ("reference", "llvm")
f32 = np.float32


# ------------------------------------------------------------------ the oracle --------------

def tf_nudge(mn: float, mx: float, num_bits: int, narrow: bool) -> tuple:
    """TF's Nudge(), one scalar at a time in float32 (std::round on a non-negative float32 is
    floor(z + 0.5) in double, exact below 2**24)."""
    qmin, qmax = f32(1 if narrow else 0), f32((1 << num_bits) - 1)
    mn, mx = f32(mn), f32(mx)
    scale = f32(f32(mx - mn) / f32(qmax - qmin))
    zp_from_min = f32(qmin - f32(mn / scale))
    if zp_from_min < qmin:
        zp = qmin
    elif zp_from_min > qmax:
        zp = qmax
    else:
        zp = f32(math.floor(float(zp_from_min) + 0.5))
    return f32(f32(qmin - zp) * scale), f32(f32(qmax - zp) * scale), scale


def tf_quantize(v: f32, nmin: f32, nmax: f32, scale: f32, use_inverse: bool) -> f32:
    c = f32(min(max(v, nmin), nmax)) if v == v else v
    shifted = f32(c - nmin)
    t = f32(shifted * f32(f32(1) / scale)) if use_inverse else f32(shifted / scale)
    return f32(f32(f32(math.floor(float(f32(t + f32(0.5))))) * scale) + nmin) if v == v else v


def oracle_args(x: np.ndarray, mn, mx, num_bits, narrow) -> np.ndarray:
    nmin, nmax, scale = tf_nudge(mn, mx, num_bits, narrow)
    return np.array([tf_quantize(v, nmin, nmax, scale, True) for v in x.reshape(-1)],
                    np.float32).reshape(x.shape)


def oracle_vars(x: np.ndarray, mn, mx, num_bits, narrow) -> np.ndarray:
    """Per channel when mn/mx are vectors (the last axis of x)."""
    mn, mx = np.broadcast_to(f32(mn), x.shape[-1:]), np.broadcast_to(f32(mx), x.shape[-1:])
    out = np.empty_like(x)
    flat, res = x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1])
    for ch in range(x.shape[-1]):
        if mn[ch] == 0 and mx[ch] == 0:
            res[:, ch] = 0
            continue
        nmin, nmax, scale = tf_nudge(mn[ch], mx[ch], num_bits, narrow)
        res[:, ch] = [tf_quantize(v, nmin, nmax, scale, False) for v in flat[:, ch]]
    return out


def oracle_vars_gradient(dy, x, mn, mx, num_bits, narrow) -> tuple:
    """TF's FakeQuantWithMinMaxVars(PerChannel)Gradient, channel by channel in float64 sums."""
    per_channel = np.ndim(mn) == 1
    lo, hi = np.broadcast_to(f32(mn), x.shape[-1:]), np.broadcast_to(f32(mx), x.shape[-1:])
    dx, dmin, dmax = np.zeros_like(x), np.zeros(x.shape[-1]), np.zeros(x.shape[-1])
    for ch in range(x.shape[-1]):
        xs, gs = x[..., ch], dy[..., ch]
        if lo[ch] == 0 and hi[ch] == 0:
            dx[..., ch] = gs
            continue
        nmin, nmax, _ = tf_nudge(lo[ch], hi[ch], num_bits, narrow)
        dx[..., ch] = np.where((xs >= nmin) & (xs <= nmax), gs, 0)
        dmin[ch], dmax[ch] = gs[xs < nmin].sum(dtype=np.float64), gs[xs > nmax].sum(
            dtype=np.float64)
    if per_channel:
        return dx, dmin, dmax
    return dx, dmin.sum(), dmax.sum()


def run(backend: str, fetches, feed=None):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


def near_levels(seed: int, mn, mx, num_bits, narrow, shape) -> np.ndarray:
    """Inputs around [mn, mx]: uniform ones, exact half steps (the rounding ties), their
    float32 neighbours, the range's ends and 0."""
    rng = np.random.default_rng(seed)
    nmin, nmax, scale = tf_nudge(mn, mx, num_bits, narrow)
    n = int(np.prod(shape))
    x = rng.uniform(mn - 1, mx + 1, n).astype(np.float32)
    k = rng.integers(0, (1 << num_bits) - 1, n // 2)
    ties = (nmin + (k + f32(0.5)).astype(np.float32) * scale).astype(np.float32)
    x[: n // 2: 3] = ties[::3]
    x[1: n // 2: 3] = np.nextafter(ties[1::3], f32(np.inf))
    x[2: n // 2: 3] = np.nextafter(ties[2::3], f32(-np.inf))
    x[-5:] = [mn, mx, nmin, nmax, 0.0]
    return x.reshape(shape)


def feed_run(backend: str, fn, *arrays):
    """``fn(*placeholders)`` run with ``arrays`` fed (constants would be folded at graph
    build, by the reference implementation)."""
    tf.reset_default_graph()
    ps = [tf.placeholder(tf.float32, np.shape(a)) for a in arrays]
    with tf.Session(backend=backend) as s:
        return s.run(fn(*ps), dict(zip(ps, arrays)))


# ------------------------------------------------------------------ values -----------------

ranges = st.tuples(st.floats(-20, 5, width=32), st.floats(0.0625, 25, width=32)).map(
    lambda p: (p[0], float(f32(p[0]) + f32(p[1]))))
bits = st.integers(2, 16)


@settings(max_examples=25, deadline=None, database=None)
@given(ranges, bits, st.booleans(), st.integers(0, 2 ** 31 - 1))
def test_args_values_match_tf_nudging_bit_for_bit(rng_, num_bits, narrow, seed):
    mn, mx = rng_
    assume(f32(mn) < f32(mx))
    x = near_levels(seed, mn, mx, num_bits, narrow, (8, 16))
    want = oracle_args(x, mn, mx, num_bits, narrow)
    tf.reset_default_graph()
    p = tf.placeholder(tf.float32, [None, 16])
    y = tf.quantization.fake_quant_with_min_max_args(p, min=mn, max=mx, num_bits=num_bits,
                                                     narrow_range=narrow)
    for be in BACKENDS:
        np.testing.assert_array_equal(run(be, y, {p: x}), want, err_msg=be)


@pytest.fixture(scope="module")
def vars_graph():
    """One graph (compiled once per backend) fed every example's min and max."""
    g = tf.Graph()
    with g.as_default():
        x, dy = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.float32, [None, 3])
        mn, mx = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])
        cmn, cmx = tf.placeholder(tf.float32, [3]), tf.placeholder(tf.float32, [3])
        outs, grads = {}, {}
        q = tf.quantization
        for nb, narrow in ((8, False), (4, True), (16, False), (2, False)):
            outs[nb, narrow] = (q.fake_quant_with_min_max_vars(x, mn, mx, nb, narrow),
                                q.fake_quant_with_min_max_vars_per_channel(x, cmn, cmx, nb,
                                                                           narrow))
            grads[nb, narrow] = (
                q.fake_quant_with_min_max_vars_gradient(dy, x, mn, mx, nb, narrow),
                q.fake_quant_with_min_max_vars_per_channel_gradient(dy, x, cmn, cmx, nb,
                                                                    narrow))
    sessions = {be: tf.Session(graph=g, backend=be) for be in BACKENDS}
    yield dict(x=x, dy=dy, mn=mn, mx=mx, cmn=cmn, cmx=cmx, outs=outs, grads=grads,
               sessions=sessions)
    for s in sessions.values():
        s.close()


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(ranges, min_size=4, max_size=4), st.sampled_from([(8, False), (4, True),
                                                                 (16, False), (2, False)]),
       st.integers(0, 2 ** 31 - 1))
def test_vars_and_per_channel_values_match_tf_bit_for_bit(vars_graph, rs, quant, seed):
    g = vars_graph
    mn, mx = rs[0]
    x = near_levels(seed, mn, mx, *quant, (40, 3))
    cmn = np.array([r[0] for r in rs[1:]], np.float32)
    cmx = np.array([r[1] for r in rs[1:]], np.float32)
    if seed % 2:                      # a channel with min == max == 0: zeros
        cmn[seed % 3] = cmx[seed % 3] = 0.0
    dy = np.random.default_rng(seed + 1).uniform(0.5, 2, x.shape).astype(np.float32)
    feed = {g["x"]: x, g["dy"]: dy, g["mn"]: mn, g["mx"]: mx, g["cmn"]: cmn, g["cmx"]: cmx}
    want = [oracle_vars(x, mn, mx, *quant), oracle_vars(x, cmn, cmx, *quant)]
    want_grads = [oracle_vars_gradient(dy, x, mn, mx, *quant),
                  oracle_vars_gradient(dy, x, cmn, cmx, *quant)]
    for be, s in g["sessions"].items():
        got, got_grads = s.run([list(g["outs"][quant]), list(g["grads"][quant])], feed)
        for w, v, what in zip(want, got, ("vars", "per_channel")):
            np.testing.assert_array_equal(v, w, err_msg=f"{be} {what}")
        for w, v, what in zip(want_grads, got_grads, ("vars", "per_channel")):
            np.testing.assert_array_equal(v[0], w[0], err_msg=f"{be} {what} wrt inputs")
            np.testing.assert_allclose(v[1], w[1], rtol=1e-5, err_msg=f"{be} {what} wrt min")
            np.testing.assert_allclose(v[2], w[2], rtol=1e-5, err_msg=f"{be} {what} wrt max")


@pytest.mark.parametrize("backend", BACKENDS)
def test_known_values_and_special_inputs(backend):
    """TF's documented example range: [-6, 6] nudges to [-6.0235295, 5.9764705] (scale 12/255);
    NaN stays NaN, infinities clamp, min == max == 0 gives zeros."""
    x = np.array([-100, -6.03, -6, -0.02, 0, 0.03, 5.97, 6, np.inf, -np.inf, np.nan], np.float32)
    s = f32(12) / f32(255)
    ga, gv, gz = feed_run(backend, lambda p, lo, hi, z: [
        tf.fake_quant_with_min_max_args(p), tf.fake_quant_with_min_max_vars(p, lo, hi),
        tf.fake_quant_with_min_max_vars(p, z, z)], x, f32(-6), f32(6), f32(0))
    nmin, nmax = f32(-128 * s), f32(127 * s)
    assert (nmin, nmax) == (f32(-6.0235295), f32(5.9764705))
    np.testing.assert_array_equal(ga[[0, 1, 8, 9]], [nmin, nmin, nmax, nmin])
    assert ga[4] == 0 and np.isnan(ga[10]) and np.isnan(gv[10])
    np.testing.assert_array_equal(ga[:10], oracle_args(x[:10], -6, 6, 8, False))
    np.testing.assert_array_equal(gv[:10], oracle_vars(x[:10], -6, 6, 8, False))
    np.testing.assert_array_equal(gz, np.zeros_like(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_zero_point_half_way_rounds_away_from_zero(backend):
    """2 bits over [-0.5, 2.5]: scale 1, zero_point_from_min 0.5 rounds (std::round) to 1, so
    the range nudges to [-1, 2] (round-half-even would give [0, 3]); over [-2.5, 0.5] the
    zero point 2.5 rounds to 3: [-3, 0]. With narrow_range the levels are 1..3."""
    x = np.array([-4, -1, -0.6, 0.4, 0.5, 2, 3], np.float32)
    lo = np.array([-0.5, -2.5], np.float32)
    hi = np.array([2.5, 0.5], np.float32)
    got = feed_run(backend, lambda p, a, b, pc: [
        tf.fake_quant_with_min_max_args(p, -0.5, 2.5, num_bits=2),
        tf.fake_quant_with_min_max_args(p, -2.5, 0.5, num_bits=2),
        tf.fake_quant_with_min_max_vars(p, a[0], b[0], num_bits=2),
        tf.fake_quant_with_min_max_vars_per_channel(pc, a, b, num_bits=2),
        tf.fake_quant_with_min_max_args(p, -0.5, 1.5, num_bits=2, narrow_range=True)],
        x, lo, hi, np.stack([x, x], 1))
    up = [-1, -1, -1, 0, 1, 2, 2]
    down = [-3, -1, -1, 0, 0, 0, 0]
    for v in got[0], got[2], got[3][:, 0]:
        np.testing.assert_array_equal(v, up)
    np.testing.assert_array_equal(got[1], down)
    np.testing.assert_array_equal(got[3][:, 1], down)
    # narrow: scale 2/2 = 1, zero point 1 - (-0.5) = 1.5 -> 2: [-1, 1]
    np.testing.assert_array_equal(got[4], [-1, -1, -1, 0, 1, 1, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_channel_on_ranks_1_2_and_4(backend):
    rng = np.random.default_rng(3)
    mn, mx = np.array([-1.0, -0.3, 0.2], np.float32), np.array([1.0, 2.5, 0.9], np.float32)
    xs = [rng.uniform(-3, 3, s).astype(np.float32) for s in ((3,), (4, 3), (2, 3, 2, 3))]
    outs = feed_run(backend, lambda lo, hi, *ps: [
        tf.quantization.fake_quant_with_min_max_vars_per_channel(p, lo, hi, num_bits=5)
        for p in ps], mn, mx, *xs)
    for x, got in zip(xs, outs):
        np.testing.assert_array_equal(got, oracle_vars(x, mn, mx, 5, False))


# ------------------------------------------------------------------ gradients --------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_straight_through_masks_and_range_sums(backend):
    """d/dx passes g where nudged_min <= x <= nudged_max (edges included); d/dmin sums g
    below nudged_min, d/dmax sums g above nudged_max; per channel each channel's own."""
    tf.reset_default_graph()
    nmin, nmax, _ = tf_nudge(-6, 6, 8, False)
    xv = np.array([-7, nmin, np.nextafter(nmin, f32(-10)), 0, nmax,
                   np.nextafter(nmax, f32(10)), 9], np.float32)
    gv = np.array([1, 2, 4, 8, 16, 32, 64], np.float32)
    inside = np.array([0, 1, 0, 1, 1, 0, 0], np.float32)
    x = tf.placeholder(tf.float32, xv.shape)
    mn, mx = tf.Variable(-6.0), tf.Variable(6.0)
    ya = tf.quantization.fake_quant_with_min_max_args(x)
    yv = tf.quantization.fake_quant_with_min_max_vars(x, mn, mx)
    dxa = tf.gradients(ya, x, grad_ys=gv)[0]
    dxv, dmin, dmax = tf.gradients(yv, [x, mn, mx], grad_ys=gv)
    direct = tf.quantization.fake_quant_with_min_max_vars_gradient(gv, x, mn, mx)
    args_direct = tf.quantization.fake_quant_with_min_max_args_gradient(gv, x)
    x2v = np.stack([xv, xv * f32(0.5)], 1)          # [7, 2]
    x2 = tf.placeholder(tf.float32, x2v.shape)
    cmn, cmx = tf.Variable([-6.0, -1.0]), tf.Variable([6.0, 1.0])
    g2 = np.stack([gv, gv], 1)
    dx2, dcmin, dcmax = tf.gradients(
        tf.quantization.fake_quant_with_min_max_vars_per_channel(x2, cmn, cmx), [x2, cmn, cmx],
        grad_ys=g2)
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        r = s.run(dict(dxa=dxa, dxv=dxv, dmin=dmin, dmax=dmax, direct=direct,
                       args_direct=args_direct, dx2=dx2, dcmin=dcmin, dcmax=dcmax),
                  {x: xv, x2: x2v})
    for k in ("dxa", "dxv", "args_direct"):
        np.testing.assert_array_equal(r[k], gv * inside, err_msg=k)
    assert (r["dmin"], r["dmax"]) == (1 + 4, 32 + 64)
    np.testing.assert_array_equal(r["direct"].backprops_wrt_input, gv * inside)
    assert (r["direct"].backprop_wrt_min, r["direct"].backprop_wrt_max) == (5, 96)
    n1min, n1max, _ = tf_nudge(-1, 1, 8, False)
    c1 = x2v[:, 1]
    in1 = ((c1 >= n1min) & (c1 <= n1max)).astype(np.float32)
    np.testing.assert_array_equal(r["dx2"], np.stack([gv * inside, gv * in1], 1))
    np.testing.assert_array_equal(r["dcmin"], [5, gv[c1 < n1min].sum()])
    np.testing.assert_array_equal(r["dcmax"], [96, gv[c1 > n1max].sum()])


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_range_passes_the_whole_gradient_to_the_inputs(backend):
    def fn(x, mn, mx):
        y = tf.quantization.fake_quant_with_min_max_vars_per_channel(x, mn, mx)
        return [y] + tf.gradients(y, [x, mn, mx], grad_ys=[[1.0, 2.0, 3.0]])
    zeros = np.zeros(3, np.float32)
    got = feed_run(backend, fn, np.array([-2.0, 0.0, 3.0], np.float32), zeros, zeros)
    np.testing.assert_array_equal(got[0], [0, 0, 0])
    np.testing.assert_array_equal(got[1], [1, 2, 3])
    np.testing.assert_array_equal(got[2], [0, 0, 0])
    np.testing.assert_array_equal(got[3], [0, 0, 0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences_away_from_the_edges(backend):
    """With 16 bits a step is ~2e-4, so a central difference over h = 0.05 (~270 steps)
    sees the quantizer as the identity inside the range and as the clamp value outside:
    the straight-through gradients are the finite differences there (within steps / h)."""
    tf.reset_default_graph()
    rng = np.random.default_rng(7)
    lo, hi, h = -2.0, 3.0, 0.05
    x0 = rng.uniform(-4, 5, (40,)).astype(np.float32)
    x0 = x0[(np.abs(x0 - lo) > 0.2) & (np.abs(x0 - hi) > 0.2)][:24]
    w = rng.uniform(0.5, 1.5, x0.shape).astype(np.float32)
    x = tf.placeholder(tf.float32, x0.shape)
    mn, mx = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [])
    loss_v = tf.reduce_sum(w * tf.quantization.fake_quant_with_min_max_vars(x, mn, mx, 16))
    loss_a = tf.reduce_sum(w * tf.quantization.fake_quant_with_min_max_args(x, lo, hi, 16))
    grads = tf.gradients(loss_v, [x, mn, mx]) + tf.gradients(loss_a, [x])
    with tf.Session(backend=backend) as s:
        def loss(xv, a, b, which=loss_v):
            return float(s.run(which, {x: xv, mn: a, mx: b}))
        gx, gmin, gmax, gxa = s.run(grads, {x: x0, mn: lo, mx: hi})
        e = np.eye(len(x0), dtype=np.float32) * f32(h)
        fd_x = [(loss(x0 + e[i], lo, hi) - loss(x0 - e[i], lo, hi)) / (2 * h)
                for i in range(len(x0))]
        fd_xa = [(loss(x0 + e[i], lo, hi, loss_a) - loss(x0 - e[i], lo, hi, loss_a)) / (2 * h)
                 for i in range(len(x0))]
        fd_min = (loss(x0, lo + h, hi) - loss(x0, lo - h, hi)) / (2 * h)
        fd_max = (loss(x0, lo, hi + h) - loss(x0, lo, hi - h)) / (2 * h)
    inside = (x0 > lo) & (x0 < hi)
    np.testing.assert_array_equal(gx, np.where(inside, w, 0))
    np.testing.assert_array_equal(gxa, np.where(inside, w, 0))
    np.testing.assert_allclose(gx, fd_x, atol=0.01)
    np.testing.assert_allclose(gxa, fd_xa, atol=0.01)
    assert gmin == pytest.approx(w[x0 < lo].sum(), rel=1e-6) and gmin > 0
    assert gmax == pytest.approx(w[x0 > hi].sum(), rel=1e-6) and gmax > 0
    assert fd_min == pytest.approx(gmin, abs=0.05)
    assert fd_max == pytest.approx(gmax, abs=0.05)


# ------------------------------------------------------------------ errors -----------------

def test_errors_say_what_was_expected():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 3])
    with pytest.raises(InvalidArgumentError, match="num_bits must be between 2 and 16"):
        tf.quantization.fake_quant_with_min_max_args(x, num_bits=17)
    with pytest.raises(InvalidArgumentError, match="num_bits must be between 2 and 16"):
        tf.quantization.fake_quant_with_min_max_vars(x, -1.0, 1.0, num_bits=1)
    with pytest.raises(InvalidArgumentError, match="min has to be smaller than max, was: 2 >= 1"):
        tf.quantization.fake_quant_with_min_max_args(x, min=2.0, max=1.0)
    with pytest.raises(TypeError, match="DataType float64 not in list of allowed values"):
        tf.quantization.fake_quant_with_min_max_args(tf.zeros([2], tf.float64))
    with pytest.raises(TypeError, match="Expected float for argument 'min'"):
        tf.quantization.fake_quant_with_min_max_args(x, min=tf.constant(1.0))
    with pytest.raises(ValueError, match="Shape must be rank 0 but is rank 1"):
        tf.quantization.fake_quant_with_min_max_vars(x, [-1.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="Dimensions must be equal, but are 3 and 2"):
        tf.quantization.fake_quant_with_min_max_vars_per_channel(x, [-1.0, 0.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="Shape must be rank 1 but is rank 0"):
        tf.quantization.fake_quant_with_min_max_vars_per_channel(x, -1.0, 1.0)
    with pytest.raises(ValueError, match="gradients and inputs must have the same shape"):
        tf.quantization.fake_quant_with_min_max_args_gradient(tf.zeros([3, 2]), x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_channel_size_is_checked_at_run_time(backend):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, None])
    lo, hi = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.float32, [None])
    y = tf.quantization.fake_quant_with_min_max_vars_per_channel(x, lo, hi)
    with tf.Session(backend=backend) as s:
        ok = s.run(y, {x: np.full((2, 3), 0.5), lo: -np.ones(3), hi: np.ones(3)})
        np.testing.assert_array_equal(ok, oracle_vars(np.full((2, 3), f32(0.5)), -1, 1, 8, False))
        with pytest.raises(InvalidArgumentError, match="Dimensions must be equal, but are 3 and 4"):
            s.run(y, {x: np.ones((2, 3)), lo: -np.ones(4), hi: np.ones(4)})


def test_names_and_shapes():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.fake_quant_with_min_max_args(x)
    assert y.op.type == "FakeQuantWithMinMaxArgs" and y.shape.as_list() == [None, 4]
    assert y.op.name == "FakeQuantWithMinMaxArgs"
    v = tf.fake_quant_with_min_max_vars(x, -1.0, 1.0, name="q")
    assert v.op.name == "q" and [t.op.name for t in v.op.inputs[1:]] == ["q/min", "q/max"]
    assert tf.fake_quant_with_min_max_vars(x, -1.0, 1.0, name="q").op.name == "q_1"
    assert tf.fake_quant_with_min_max_vars is tf.quantization.fake_quant_with_min_max_vars
    assert tf.fake_quant_with_min_max_vars_per_channel_gradient is \
        tf.quantization.fake_quant_with_min_max_vars_per_channel_gradient
    out = tf.quantization.fake_quant_with_min_max_vars_per_channel_gradient(
        x, x, tf.zeros([4]), tf.ones([4]))
    assert out.backprops_wrt_input.shape.as_list() == [None, 4]
    assert out.backprop_wrt_min.shape.as_list() == [4] == out.backprop_wrt_max.shape.as_list()
    assert out.backprop_wrt_min.op.type == "FakeQuantWithMinMaxVarsPerChannelGradient"


# ------------------------------------------------------------------ GraphDef ---------------

def _fake_quant_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        tf.quantization.fake_quant_with_min_max_args(x, min=-1.1, max=2.3, num_bits=5,
                                                     narrow_range=True, name="args")
        tf.quantization.fake_quant_with_min_max_vars(x, -0.7, 1.9, num_bits=6, name="vars")
        tf.quantization.fake_quant_with_min_max_vars_per_channel(
            x, [-1.0, -0.5, 0.0], [1.0, 2.0, 3.0], num_bits=3, name="per_channel")
        tf.quantization.fake_quant_with_min_max_args_gradient(x, x * 2, name="args_grad")
        tf.quantization.fake_quant_with_min_max_vars_gradient(x, x * 2, -1.0, 1.0,
                                                              name="vars_grad")
        tf.quantization.fake_quant_with_min_max_vars_per_channel_gradient(
            x, x * 2, [-1.0, -0.5, 0.0], [1.0, 2.0, 3.0], name="pc_grad")
    return g


FETCHES = ["args:0", "vars:0", "per_channel:0", "args_grad:0", "vars_grad:0", "vars_grad:1",
           "vars_grad:2", "pc_grad:0", "pc_grad:1", "pc_grad:2"]


def test_graph_def_round_trip_uses_tf_names_and_attrs():
    g = _fake_quant_graph()
    gd = g.as_graph_def()
    nodes = {n.name: n for n in gd.node}
    assert {nodes[k].op for k in ("args", "vars", "per_channel", "args_grad", "vars_grad",
                                  "pc_grad")} == {
        "FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel",
        "FakeQuantWithMinMaxArgsGradient", "FakeQuantWithMinMaxVarsGradient",
        "FakeQuantWithMinMaxVarsPerChannelGradient"}
    a = nodes["args"].attr
    assert set(a) == {"min", "max", "num_bits", "narrow_range"}
    assert (a["min"].f, a["max"].f, a["num_bits"].i, a["narrow_range"].b) == (
        pytest.approx(-1.1), pytest.approx(2.3), 5, True)
    assert set(nodes["vars"].attr) == {"num_bits", "narrow_range"}
    assert nodes["vars"].attr["num_bits"].i == 6 and len(nodes["vars"].input) == 3
    assert len(nodes["pc_grad"].input) == 4
    xv = np.random.default_rng(0).uniform(-3, 3, (5, 3)).astype(np.float32)
    with tf.Session(graph=g, backend="reference") as s:
        want = s.run(FETCHES, {"x:0": xv})
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd, name="")
    assert g2.get_operation_by_name("args").type == "FakeQuantWithMinMaxArgs"
    for be in BACKENDS:
        with tf.Session(graph=g2, backend=be) as s:
            got = s.run(FETCHES, {"x:0": xv})
        for name, w, v in zip(FETCHES, want, got):
            np.testing.assert_allclose(v, w, rtol=1e-6, atol=0, err_msg=f"{be} {name}")
    gd2 = g2.as_graph_def()
    assert {n.name: n.op for n in gd2.node} == {n.name: n.op for n in gd.node}


def test_a_tf_written_graph_def_imports_and_runs():
    """A GraphDef as TF writes it (text form): the defaults of omitted attrs are TF's."""
    text = """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }
node { name: "lo" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: -0.5 } } } }
node { name: "hi" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape {} float_val: 1.5 } } } }
node { name: "fq" op: "FakeQuantWithMinMaxVars" input: "x" input: "lo" input: "hi"
       attr { key: "num_bits" value { i: 4 } } attr { key: "narrow_range" value { b: false } } }
node { name: "fa" op: "FakeQuantWithMinMaxArgs" input: "x" }
"""
    from jitflow.interop import tf_protos as P
    gd = P.graph_pb2.GraphDef()
    P.text_format.Parse(text, gd)
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="m")
    xv = np.linspace(-3, 8, 12).astype(np.float32)
    for be in BACKENDS:
        with tf.Session(graph=g, backend=be) as s:
            fq, fa = s.run(["m/fq:0", "m/fa:0"], {"m/x:0": xv})
        np.testing.assert_array_equal(fq, oracle_vars(xv[:, None], -0.5, 1.5, 4, False)[:, 0])
        np.testing.assert_array_equal(fa, oracle_args(xv, -6, 6, 8, False))
