"""Gradients of the neural-network ops (``jitflow.ops.conv``, ``pool``, ``softmax``, ...) against central finite differences in float64.

Pattern: an ``ir.Function`` with the inputs as parameters, the op, a scalar loss
``sum_k reduce_sum(out_k * W_k)`` (fixed random weights), a ``gradients`` op; the reference
pipeline (autodiff + DCE) expands it and the reference backend runs it. The finite differences
perturb each input element of a loss-only Function. Backprop ops (conv2d_backprop_*, pooling
gradients, gather_grad, tile_grad) are checked as ops of their own, and second-order gradients
(a ``gradients`` op differentiating another one's expansion) for conv2d, pooling and the
cross-entropies. Non-smooth ops get inputs away from their kinks.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import jitflow  # noqa: F401  (registers the ops)
from jitflow.backends import get_backend
from jitflow.ir import OPS, Builder, Function, TensorType, as_dtype
from jitflow.passes import PassManager, pipeline_for

from _op_coverage import NN_MODULES

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
BACKEND = get_backend("reference")
EPS = 1e-6
seeds = st.integers(0, 2**31 - 1)
modes = st.sampled_from(["static", "symbolic", "unknown"])


def declared(shape, mode):
    if mode == "static":
        return tuple(shape)
    if mode == "symbolic":
        return tuple(f"d{n}" for n in shape)
    return tuple(None for _ in shape)


def _compile(build, args, wrt, weights, mode, with_grads):
    f = Function("g")
    params = [f.add_param(TensorType(as_dtype(a.dtype), declared(a.shape, mode))) for a in args]
    b = Builder(f.ops)
    outs = build(b, params)
    loss = None
    for o, w in zip(outs, weights):
        if w is None:
            continue
        term = b.reduce_sum(b.mul(o, b.const(w)), axes=None)
        loss = term if loss is None else b.add(loss, term)
    results = [loss]
    if with_grads:
        gs = b.op("gradients", loss, *[params[i] for i in wrt], num_ys=1, num_xs=len(wrt))
        results += list(gs) if isinstance(gs, tuple) else [gs]
    f.set_results(results)
    f = PassManager(pipeline_for("reference")).run(f)
    return BACKEND.compile(f)


def _forward(build, args):
    f = Function("fwd")
    params = [f.add_param(TensorType(as_dtype(a.dtype), a.shape)) for a in args]
    outs = build(Builder(f.ops), params)
    f.set_results(list(outs))
    f = PassManager(pipeline_for("reference")).run(f)
    return BACKEND.compile(f).run(args)


def grad_check(build, args, wrt, *, use=None, mode="static", seed=0, rtol=1e-5, atol=1e-6):
    """Compare d(loss)/d(args[i]) for i in wrt with central differences. ``build(b, params)``
    returns the op's outputs; ``use`` picks which outputs enter the loss (default all float)."""
    args = [np.asarray(a) for a in args]
    rng = np.random.default_rng(seed)
    outs = _forward(build, args)
    weights = []
    for k, o in enumerate(outs):
        keep = (use is None or k in use) and o.dtype.kind == "f"
        weights.append(rng.uniform(-1, 1, size=o.shape) if keep else None)
    analytic = _compile(build, args, wrt, weights, mode, True).run(args)[1:]
    loss_only = _compile(build, args, wrt, weights, mode, False)
    for i, got in zip(wrt, analytic):
        assert got.shape == args[i].shape and got.dtype == args[i].dtype
        num = np.zeros(args[i].shape)
        for pos in np.ndindex(*args[i].shape):
            vals = []
            for step in (EPS, -EPS):
                pert = [a.copy() for a in args]
                pert[i][pos] += step
                vals.append(float(loss_only.run(pert)[0]))
            num[pos] = (vals[0] - vals[1]) / (2 * EPS)
        np.testing.assert_allclose(got, num, rtol=rtol, atol=atol, err_msg=f"input {i}")


def single(opname, **attrs):
    def build(b, ps):
        out = b.op(opname, *ps, **attrs)
        return list(out) if isinstance(out, tuple) else [out]
    return build


def rand(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def distinct(rng, shape):
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.02, 0.02, n)).reshape(shape)


def out_size(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    return -(-n // s) if padding == "SAME" else -(-(n - eff + 1) // s)


# ----------------------------------------------------------------------------- conv2d -------

@st.composite
def conv_cases(draw):
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    c, o = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    dil = draw(st.sampled_from([(1, 1), (1, 1), (2, 1)]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID":
        assume((kh - 1) * dil[0] + 1 <= h and (kw - 1) * dil[1] + 1 <= w)
    attrs = dict(strides=strides, padding=padding, dilations=dil)
    oh, ow = out_size(h, kh, strides[0], dil[0], padding), out_size(w, kw, strides[1], dil[1], padding)
    return (n, h, w, c), (kh, kw, c, o), (n, oh, ow, o), attrs


@SETTINGS
@given(conv_cases(), modes, seeds)
def test_conv2d_gradient(case, mode, seed):
    xs, ws, _, attrs = case
    rng = np.random.default_rng(seed)
    grad_check(single("conv2d", **attrs), [rand(rng, xs), rand(rng, ws)], [0, 1], mode=mode,
               seed=seed)


@SETTINGS
@given(conv_cases(), modes, seeds)
def test_conv2d_backprop_gradients(case, mode, seed):
    xs, ws, gs, attrs = case
    rng = np.random.default_rng(seed)
    g = rand(rng, gs)
    grad_check(single("conv2d_backprop_input", **attrs), [g, rand(rng, ws), np.zeros(xs)], [0, 1],
               mode=mode, seed=seed)
    grad_check(single("conv2d_backprop_filter", **attrs), [rand(rng, xs), g, np.zeros(ws)], [0, 1],
               mode=mode, seed=seed)


def second_order(opname, n_in, wrt, **attrs):
    """outputs: the gradients of sum(op(*ins) * V) wrt ins[wrt] (V a fixed constant)."""
    def build(b, ps):
        y = b.op(opname, *ps, **attrs)
        y = y[0] if isinstance(y, tuple) else y
        loss = b.reduce_sum(b.square(y), axes=None)      # a non-linear use of the output
        gs = b.op("gradients", loss, *[ps[i] for i in wrt], num_ys=1, num_xs=len(wrt))
        return list(gs) if isinstance(gs, tuple) else [gs]
    return build


def test_second_order_conv2d():
    rng = np.random.default_rng(3)
    attrs = dict(strides=(2, 1), padding="SAME", dilations=(1, 1))
    grad_check(second_order("conv2d", 2, [0, 1], **attrs),
               [rand(rng, (1, 4, 3, 2)), rand(rng, (2, 2, 2, 2))], [0, 1], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- pooling ------

@st.composite
def pool_cases(draw):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)),
             draw(st.integers(1, 2)))
    ksize = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    if padding == "VALID":
        assume(ksize[0] <= shape[1] and ksize[1] <= shape[2])
    out = (shape[0], out_size(shape[1], ksize[0], strides[0], 1, padding),
           out_size(shape[2], ksize[1], strides[1], 1, padding), shape[3])
    return shape, out, dict(ksize=ksize, strides=strides, padding=padding)


@SETTINGS
@given(pool_cases(), modes, seeds)
def test_max_pool_gradients(case, mode, seed):
    shape, out, attrs = case
    rng = np.random.default_rng(seed)
    x = distinct(rng, shape)
    grad_check(single("max_pool", **attrs), [x], [0], mode=mode, seed=seed)
    grad_check(single("max_pool_grad", **attrs), [x, rand(rng, out)], [1], mode=mode, seed=seed)
    grad_check(single("max_pool_grad_grad", **attrs), [x, rand(rng, shape)], [1], mode=mode,
               seed=seed)


@SETTINGS
@given(pool_cases(), modes, seeds)
def test_avg_pool_gradients(case, mode, seed):
    shape, out, attrs = case
    rng = np.random.default_rng(seed)
    grad_check(single("avg_pool", **attrs), [rand(rng, shape)], [0], mode=mode, seed=seed)
    grad_check(single("avg_pool_grad", **attrs), [rand(rng, out), np.zeros(shape)], [0],
               mode=mode, seed=seed)


def test_second_order_pooling():
    rng = np.random.default_rng(5)
    attrs = dict(ksize=(2, 2), strides=(1, 2), padding="SAME")
    grad_check(second_order("max_pool", 1, [0], **attrs), [distinct(rng, (1, 3, 4, 2))], [0])
    grad_check(second_order("avg_pool", 1, [0], **attrs), [rand(rng, (1, 3, 4, 2))], [0])


# ----------------------------------------------------------------------------- softmax etc. -

@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(-3, 2), modes, seeds)
def test_softmax_family_gradients(shape, axis, mode, seed):
    assume(-len(shape) <= axis < len(shape))
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, -3, 3)
    grad_check(single("softmax", axis=axis), [x], [0], mode=mode, seed=seed)
    grad_check(single("log_softmax", axis=axis), [x], [0], mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), modes, seeds,
       st.sampled_from([None, [0], [1]]))
def test_sparse_softmax_cross_entropy_gradient(outer, depth, mode, seed, use):
    rng = np.random.default_rng(seed)
    z = rand(rng, outer + [depth], -3, 3)
    y = rng.integers(0, depth, size=outer).astype(np.int32)
    # use=[1]: only the backprop output enters the loss (its gradient is softmax's Jacobian)
    grad_check(single("sparse_softmax_cross_entropy"), [z, y], [0], use=use, mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), modes, seeds,
       st.sampled_from([None, [0], [1]]), st.booleans())
def test_softmax_cross_entropy_gradient(outer, depth, mode, seed, use, bcast):
    rng = np.random.default_rng(seed)
    z = rand(rng, outer + [depth], -3, 3)
    # labels are distributions (TF's backprop softmax - labels assumes they sum to 1)
    y = rng.dirichlet(np.ones(depth), size=[1] * len(outer) if bcast else outer)
    grad_check(single("softmax_cross_entropy"), [z, y], [0, 1], use=use, mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=3), modes, seeds, st.booleans())
def test_sigmoid_cross_entropy_gradient(shape, mode, seed, bcast):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape, -4, 4)
    z = rng.uniform(0, 1, size=[1] * len(shape) if bcast else shape)
    grad_check(single("sigmoid_cross_entropy"), [x, z], [0, 1], mode=mode, seed=seed)


def test_broadcast_gradients_with_unknown_dims():
    """Unknown (None) dims that are equal in the types may differ at run time: canonicalize
    must keep the sum_to/broadcast_like that undo a broadcast."""
    rng = np.random.default_rng(11)
    x, z = rand(rng, (2, 3)), rng.uniform(0, 1, (1, 3))
    grad_check(single("sigmoid_cross_entropy"), [x, z], [0, 1], mode="unknown")
    grad_check(single("softmax_cross_entropy"), [x, rng.dirichlet(np.ones(3), size=1)], [0, 1],
               mode="unknown")


def test_second_order_cross_entropies():
    rng = np.random.default_rng(9)
    z = rand(rng, (2, 3))
    y = np.array([2, 0], np.int32)
    grad_check(second_order("sparse_softmax_cross_entropy", 2, [0]), [z, y], [0])
    grad_check(second_order("softmax_cross_entropy", 2, [0, 1]),
               [z, rng.dirichlet(np.ones(3), size=2)], [0, 1])
    grad_check(second_order("sigmoid_cross_entropy", 2, [0, 1]),
               [z, rng.uniform(0, 1, (2, 3))], [0, 1])


# ----------------------------------------------------------------------------- activations --

def away_from_kinks(rng, shape, kinks):
    x = rand(rng, shape, -8, 8)
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x = np.where(near, k + 0.1, x)
    return x


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=3), modes, seeds, st.floats(0.0, 1.0))
def test_activation_gradients(shape, mode, seed, alpha):
    rng = np.random.default_rng(seed)
    x = away_from_kinks(rng, shape, [0.0, 6.0])
    grad_check(single("elu"), [x], [0], mode=mode, seed=seed)
    grad_check(single("leaky_relu", alpha=alpha), [x], [0], mode=mode, seed=seed)
    grad_check(single("softplus"), [x], [0], mode=mode, seed=seed)
    grad_check(single("relu6"), [x], [0], mode=mode, seed=seed)
    grad_check(single("l2_loss"), [x], [0], mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.integers(1, 4), modes, seeds)
def test_bias_add_gradient(shape, c, mode, seed):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape + [c])
    grad_check(single("bias_add"), [x, rand(rng, (c,))], [0, 1], mode=mode, seed=seed)
    if len(shape) >= 2:
        grad_check(single("bias_add", axis=1), [x, rand(rng, (shape[1],))], [0, 1], mode=mode,
                   seed=seed)


# ----------------------------------------------------------------------------- array ops ----

@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.lists(st.integers(0, 3), max_size=2),
       modes, seeds, st.integers(-3, 2))
def test_gather_gradients(pshape, ishape, mode, seed, axis):
    assume(-len(pshape) <= axis < len(pshape))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, pshape[axis % len(pshape)], size=ishape).astype(np.int64)   # repeats
    p = rand(rng, pshape)
    grad_check(single("gather", axis=axis), [p, idx], [0], mode=mode, seed=seed)
    gshape = _forward(single("gather", axis=axis), [p, idx])[0].shape
    grad_check(single("gather_grad", axis=axis), [rand(rng, gshape), idx, np.zeros(pshape)], [0],
               mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), modes, seeds, st.data())
def test_split_gradient(shape, mode, seed, data):
    rng = np.random.default_rng(seed)
    ax = data.draw(st.integers(0, len(shape) - 1))
    shape[ax] = data.draw(st.sampled_from([2, 4, 6]))
    x = rand(rng, shape)
    grad_check(single("split", axis=ax, num=2), [x], [0], mode=mode, seed=seed)
    # only one piece used: the other's cotangent is zeros
    grad_check(single("split", axis=ax - len(shape), num=3, sizes=(1, -1, 1)), [x], [0],
               use=[1], mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=3), modes, seeds, st.data())
def test_pad_and_tile_gradients(shape, mode, seed, data):
    rng = np.random.default_rng(seed)
    x = rand(rng, shape)
    pads = tuple(data.draw(st.integers(0, 2)) for _ in range(2 * len(shape)))
    grad_check(single("pad", paddings=pads, value=1.5), [x], [0], mode=mode, seed=seed)
    mult = tuple(data.draw(st.integers(1, 3)) for _ in shape)
    grad_check(single("tile", multiples=mult), [x], [0], mode=mode, seed=seed)
    tiled = np.tile(x, mult)
    grad_check(single("tile_grad", multiples=mult), [rand(rng, tiled.shape), x], [0], mode=mode,
               seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 3), max_size=3), modes, seeds, st.data())
def test_reduce_logsumexp_gradient(shape, mode, seed, data):
    rng = np.random.default_rng(seed)
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(0, max(len(shape) - 1, 0)),
                                                   max_size=len(shape), unique=True).map(tuple)))
    keep = data.draw(st.booleans())
    grad_check(single("reduce_logsumexp", axes=axes, keepdims=keep), [rand(rng, shape, -5, 5)],
               [0], mode=mode, seed=seed)


# ----------------------------------------------------------------------------- registry -----

NOT_DIFFERENTIABLE = {"argmax", "argmin", "in_top_k", "one_hot", "reduce_all", "reduce_any"}
NN_OPS = sorted(n for n, d in OPS.items() if (d.reference or d.infer).__module__ in NN_MODULES)


@pytest.mark.parametrize("name", NN_OPS)
def test_every_nn_op_has_a_gradient_test_or_says_it_has_no_gradient(name):
    d = OPS[name]
    if name in NOT_DIFFERENTIABLE:
        assert not d.differentiable and d.grad is None
        return
    assert d.differentiable and callable(d.grad)
    assert f'"{name}"' in open(__file__).read(), f"{name}: add a finite-difference test"


def test_non_differentiable_ops_stop_gradients():
    """d/dx of sum(x) + sum(one_hot(argmax(x))) is just ones: argmax/one_hot pass nothing."""
    def build(b, ps):
        x = ps[0]
        am = b.argmax(x, axis=1, dtype=as_dtype("int32"))
        oh = b.one_hot(am, b.const(1.0, as_dtype("f64")), b.const(0.0, as_dtype("f64")), depth=3)
        return [b.add(x, oh)]
    grad_check(build, [np.random.default_rng(0).uniform(size=(2, 3))], [0])


@SETTINGS
@given(conv_cases(), st.booleans(), st.sampled_from(["none", "relu"]), modes, seeds)
def test_fused_conv2d_gradient(case, with_bias, activation, mode, seed):
    """The fused conv + bias + relu op's rule (the composition's gradients, ops/conv_fused.py)."""
    xs, ws, _, attrs = case
    rng = np.random.default_rng(seed)
    args = [rand(rng, xs), rand(rng, ws)] + ([rand(rng, (ws[3],))] if with_bias else [])
    grad_check(single("fused_conv2d", activation=activation, **attrs), args,
               list(range(len(args))), mode=mode, seed=seed)


@SETTINGS
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), modes, seeds)
def test_relu_bias_grad_gradient(shape, mode, seed):
    """relu_bias_grad is linear in g (y only masks it): both results' gradients w.r.t. g."""
    rng = np.random.default_rng(seed)
    grad_check(single("relu_bias_grad"), [rand(rng, shape), rand(rng, shape)], [0], mode=mode,
               seed=seed)
