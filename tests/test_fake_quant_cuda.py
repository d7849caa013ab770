"""The fake quantization ops (ops/quant.py) on the cuda backend, on Numba's CUDA simulator in
CI: each op against the reference bit for bit (the Vars gradients' sums within float32
roundings), inputs at the rounding ties and their neighbours, NaN and infinities, a
zero range, and a TF1 program with tf.gradients through them."""
from __future__ import annotations

import numpy as np
import pytest

from _cuda_util import build, cuda_run, needs_cuda, reference, usable_or_skip
import jitflow.compat.v1 as tf
from jitflow.ops.quant import nudge

pytestmark = needs_cuda
f32 = np.float32


def inputs(shape, mn, mx, num_bits, narrow, seed=0) -> np.ndarray:
    """Uniform values around the range, exact half steps (ties), NaN and +-inf."""
    rng = np.random.default_rng(seed)
    nmin, _, scale = (f32(v) for v in nudge(mn, mx, num_bits, narrow))
    x = rng.uniform(mn - 1, mx + 1, shape).astype(np.float32).reshape(-1)
    k = rng.integers(0, (1 << num_bits) - 1, x.size // 2)
    x[: x.size // 2] = nmin + (k + f32(0.5)).astype(np.float32) * scale
    x[-3:] = [np.nan, np.inf, -np.inf]
    return x.reshape(shape)


def same(f, args, exact=True):
    want, got = reference(f, args), cuda_run(f, args)
    for w, g in zip(want, got):
        assert g.dtype == w.dtype and g.shape == w.shape
        if exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("num_bits,narrow", [(8, False), (3, True)])
def test_args_and_its_gradient(num_bits, narrow):
    usable_or_skip()
    x = inputs((4, 6), -1.3, 2.2, num_bits, narrow)
    g = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    a = dict(min=-1.3, max=2.2, num_bits=num_bits, narrow_range=narrow)
    same(build([("f32", (4, 6))], lambda b, p: b.fake_quant_with_min_max_args(p, **a)), [x])
    same(build([("f32", (4, 6)), ("f32", (4, 6))],
               lambda b, dy, p: b.fake_quant_with_min_max_args_gradient(dy, p, **a)), [g, x])


def test_vars_per_channel_and_their_gradients():
    usable_or_skip()
    x = inputs((5, 3), -0.8, 1.7, 5, False, seed=2)
    g = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    lo, hi = np.array([-0.8, 0.0, -2.0], np.float32), np.array([1.7, 0.0, -0.5], np.float32)
    kw = dict(num_bits=5)
    same(build([("f32", (5, 3)), ("f32", ()), ("f32", ())],
               lambda b, p, a, c: b.fake_quant_with_min_max_vars(p, a, c, **kw)),
         [x, f32(-0.8), f32(1.7)])
    same(build([("f32", (5, 3)), ("f32", (3,)), ("f32", (3,))],
               lambda b, p, a, c: b.fake_quant_with_min_max_vars_per_channel(p, a, c, **kw)),
         [x, lo, hi])
    for wrt in ("inputs", "min", "max"):
        same(build([("f32", (5, 3))] * 2 + [("f32", (3,))] * 2,
                   lambda b, dy, p, a, c, wrt=wrt: b.fake_quant_vars_backprop(
                       dy, p, a, c, wrt=wrt, **kw)), [g, x, lo, hi])
    same(build([("f32", (5, 3))] * 2 + [("f32", ())] * 2,
               lambda b, dy, p, a, c: list(b.fake_quant_with_min_max_vars_gradient(
                   dy, p, a, c, **kw))), [g, x, f32(-0.8), f32(1.7)], exact=False)
    same(build([("f32", (5, 3))] * 2 + [("f32", (3,))] * 2,
               lambda b, dy, p, a, c: list(b.fake_quant_with_min_max_vars_per_channel_gradient(
                   dy, p, a, c, **kw))), [g, x, lo, hi], exact=False)


def test_a_tf1_program_with_gradients_on_cuda():
    usable_or_skip()
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    lo, hi = tf.Variable([-1.0, -0.5, 0.0]), tf.Variable([1.0, 2.0, 3.0])
    y = tf.quantization.fake_quant_with_min_max_vars_per_channel(x, lo, hi, num_bits=4)
    z = tf.quantization.fake_quant_with_min_max_args(x, -2.0, 2.0, narrow_range=True)
    loss = tf.reduce_sum(y * y) + tf.reduce_sum(z)
    fetches = [y, z] + tf.gradients(loss, [x, lo, hi])
    xv = np.random.default_rng(4).uniform(-3, 4, (4, 3)).astype(np.float32)
    out = {}
    for be in ("reference", "cuda"):
        with tf.Session(backend=be) as s:
            s.run(tf.global_variables_initializer())
            out[be] = s.run(fetches, {x: xv})
    for w, g in zip(out["reference"], out["cuda"]):
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-6)
    np.testing.assert_array_equal(out["cuda"][0], out["reference"][0])
