"""tf.custom_gradient, tf.RegisterGradient + gradient_override_map (frontend/custom_gradient.py,
the custom_gradient pseudo op of ops/custom_grad.py): gradients against hand-computed values
on the reference and llvm backends."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.ir import OPS

BACKENDS = ("reference", "llvm")
X = np.array([0.1, 0.5, -2.0, 1.6], np.float32)


def _run(backend, fetches, feed):
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_gradient_clips_the_gradient(backend):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None])

        @tf.custom_gradient
        def square_clipped(v):
            def grad(dy):
                return tf.clip_by_value(dy * 2.0 * v, -1.0, 1.0)
            return tf.square(v), grad

        y = square_clipped(x)
        gx, = tf.gradients(tf.reduce_sum(y * 3.0), [x])
        got_y, got_g = _run(backend, [y, gx], {x: X})
    np.testing.assert_allclose(got_y, X * X, rtol=1e-6)
    np.testing.assert_allclose(got_g, np.clip(3.0 * 2.0 * X, -1, 1), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_gradient_with_two_inputs_and_a_none_gradient(backend):
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None])
        b = tf.placeholder(tf.float32, [None])

        @tf.custom_gradient
        def mul(u, v):
            return u * v, lambda dy: (dy * 7.0, None)

        ga, gb = tf.gradients(tf.reduce_sum(mul(a, b)), [a, b])
        got = _run(backend, [ga, gb], {a: X, b: X + 1})
    np.testing.assert_allclose(got[0], np.full(4, 7.0))
    np.testing.assert_array_equal(got[1], np.zeros(4))


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_gradient_with_variables_trains_with_the_given_gradient(backend):
    x_np = np.array([[1, 2], [3, 4]], np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 2])
        w = tf.Variable(np.array([[1.0], [2.0]], np.float32))

        @tf.custom_gradient
        def layer(v):
            def grad(dy, variables=None):
                assert variables == [w]
                return (tf.matmul(dy, w, transpose_b=True) * 10.0,
                        [tf.matmul(v, dy, transpose_a=True) * 0.5])
            return tf.matmul(v, w), grad

        loss = tf.reduce_sum(layer(x))
        gx, gw = tf.gradients(loss, [x, w])
        train = tf.train.GradientDescentOptimizer(1.0).minimize(loss)
        with tf.Session(backend=backend) as sess:
            sess.run(tf.global_variables_initializer())
            got_gx, got_gw = sess.run([gx, gw], {x: x_np})
            sess.run(train, {x: x_np})
            w_after = sess.run(w)
    ones = np.ones((2, 1), np.float32)
    np.testing.assert_allclose(got_gx, ones @ np.array([[1.0, 2.0]]) * 10.0)
    np.testing.assert_allclose(got_gw, x_np.T @ ones * 0.5)
    np.testing.assert_allclose(w_after, np.array([[1.0], [2.0]]) - x_np.T @ ones * 0.5)


def test_custom_gradient_reading_variables_needs_a_variables_argument():
    with tf.Graph().as_default():
        w = tf.Variable(2.0)

        @tf.custom_gradient
        def f(v):
            return v * w, lambda dy: dy

        with pytest.raises(TypeError, match="'variables'"):
            f(tf.constant(1.0))


def test_custom_gradient_must_return_one_gradient_per_input():
    with tf.Graph().as_default():
        @tf.custom_gradient
        def f(u, v):
            return u + v, lambda dy: dy

        with pytest.raises(ValueError, match="2 gradient"):
            f(tf.constant(1.0), tf.constant(2.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_gradient_inside_a_while_loop(backend):
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [])

        @tf.custom_gradient
        def half_grad(v):
            return v * 1.0, lambda dy: dy * 0.5

        out = tf.while_loop(lambda i, c: i < 3, lambda i, c: (i + 1, half_grad(c) * 2.0),
                            [0, a])[1]
        ga, = tf.gradients(out, [a])
        got = _run(backend, [out, ga], {a: 1.5})
    assert got == [12.0, 1.0]      # d/da: (0.5 * 2) ** 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_override_map_reverses_and_straight_throughs(backend):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None])
        name = f"TestReverseGrad_{backend}"

        @tf.RegisterGradient(name)
        def _reverse(op, grad):
            return [-grad]

        with g.gradient_override_map({"Identity": name}):
            z = tf.identity(x)
        plain = tf.identity(x)                 # outside the block: the ordinary gradient
        with g.gradient_override_map({"Round": "Identity"}):
            r = tf.round(x)                    # straight-through rounding
        g_all, = tf.gradients(tf.reduce_sum(z * z) + tf.reduce_sum(plain * plain)
                              + tf.reduce_sum(r * 2.0), [x])
        gz_only, = tf.gradients(tf.reduce_sum(z * z), [x])
        gp_only, = tf.gradients(tf.reduce_sum(plain * plain), [x])
        gr_only, = tf.gradients(tf.reduce_sum(r * 2.0), [x])
        got = _run(backend, [z, r, gz_only, gp_only, gr_only, g_all], {x: X})
    np.testing.assert_array_equal(got[0], X)
    np.testing.assert_array_equal(got[1], np.round(X))
    np.testing.assert_allclose(got[2], -2 * X)
    np.testing.assert_allclose(got[3], 2 * X)
    np.testing.assert_allclose(got[4], np.full(4, 2.0))
    np.testing.assert_allclose(got[5], -2 * X + 2 * X + 2.0, atol=1e-6)


def test_gradient_override_uses_the_op_and_its_outputs():
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None])

        @tf.RegisterGradient("TestTanhAsSigmoidGrad")
        def _grad(op, grad):            # d tanh = 1 - y^2, scaled by the input
            y = op.outputs[0]
            return grad * (1.0 - y * y) * op.inputs[0]

        with g.gradient_override_map({"Tanh": "TestTanhAsSigmoidGrad"}):
            y = tf.tanh(x)
        gx, = tf.gradients(tf.reduce_sum(y), [x])
        got = _run("llvm", gx, {x: X})
    np.testing.assert_allclose(got, (1 - np.tanh(X) ** 2) * X, rtol=1e-5)


def test_override_errors_name_what_is_missing():
    with tf.Graph().as_default() as g:
        with g.gradient_override_map({"Identity": "NoSuchGradient"}):
            with pytest.raises(LookupError, match="NoSuchGradient"):
                tf.identity(tf.constant(1.0))
        with pytest.raises(TypeError, match="str -> str"):
            with g.gradient_override_map({"Identity": 3}):
                pass
    with pytest.raises(KeyError, match="two gradient"):
        tf.RegisterGradient("Identity")(lambda op, grad: grad)


def test_custom_gradient_op_is_gone_after_autodiff():
    from jitflow.ir.builder import Builder
    from jitflow.ir.core import Function
    from jitflow.ir.dtypes import float32
    from jitflow.ir.types import TensorType
    from jitflow.passes import expand_gradients
    t = TensorType(float32, (3,))
    grad = Function("grad")
    dy = grad.add_param(t)
    gb = Builder(grad.ops)
    grad.set_results([gb.neg(dy)])
    f = Function("f")
    x = f.add_param(t)
    b = Builder(f.ops)
    y = b.op("custom_gradient", b.exp(x), x, regions=[grad], num_ys=1, num_xs=1)
    gx = b.op("gradients", b.reduce_sum(y, axes=None, keepdims=False), x, num_ys=1, num_xs=1)
    f.set_results([y, gx])
    expand_gradients(f)
    assert "custom_gradient" not in {op.opname for op in f.walk()}
    from jitflow.backends import get_backend
    got = get_backend("reference").compile(f).run([np.array([0.0, 1.0, 2.0], np.float32)])
    np.testing.assert_allclose(got[0], np.exp([0.0, 1.0, 2.0]), rtol=1e-6)
    np.testing.assert_array_equal(got[1], [-1.0, -1.0, -1.0])
    assert OPS["custom_gradient"].pseudo


def test_tf_gradients_inside_a_gradient_function_is_refused():
    with tf.Graph().as_default():
        @tf.custom_gradient
        def f(v):
            y = tf.square(v)
            return y, lambda dy: tf.gradients(y, v, grad_ys=dy)[0]

        with pytest.raises(NotImplementedError, match="tf.gradients inside"):
            f(tf.constant([1.0]))


def test_custom_gradient_on_the_cuda_backend():
    from _cuda_util import HAVE_NUMBA_CUDA, usable_or_skip
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda is not installed")
    usable_or_skip()
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None])

        @tf.custom_gradient
        def f(v):
            return tf.exp(v), lambda dy: dy * 3.0

        with g.gradient_override_map({"Identity": "Identity"}):
            y = tf.identity(f(x))
        gx, = tf.gradients(tf.reduce_sum(y * 2.0), [x])
        with tf.Session(backend="cuda") as sess:
            got = sess.run([y, gx], {x: X})
    np.testing.assert_allclose(got[0], np.exp(X), rtol=1e-6)
    np.testing.assert_allclose(got[1], np.full(4, 6.0))


def test_custom_gradient_op_prints_and_parses_back():
    from jitflow.ir import parse
    from jitflow.ir.builder import Builder
    from jitflow.ir.core import Function
    from jitflow.ir.dtypes import float32
    from jitflow.ir.printer import print_function
    from jitflow.ir.types import TensorType
    from jitflow.ir.verifier import verify
    t = TensorType(float32, (3,))
    grad = Function("grad")
    grad.set_results([Builder(grad.ops).neg(grad.add_param(t))])
    f = Function("f")
    x = f.add_param(t)
    b = Builder(f.ops)
    f.set_results([b.op("custom_gradient", b.exp(x), x, regions=[grad], num_ys=1, num_xs=1)])
    text = print_function(verify(f))
    assert "custom_gradient(" in text and "func @grad" in text
    assert print_function(verify(parse(text))) == text


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_override_inside_a_while_loop(backend):
    with tf.Graph().as_default() as g:
        a = tf.placeholder(tf.float32, [])
        name = f"TestHalfGrad_{backend}"

        @tf.RegisterGradient(name)
        def _half(op, grad):
            return [grad * 0.5]

        def body(i, c):
            with g.gradient_override_map({"Identity": name}):
                return i + 1, tf.identity(c) * 3.0

        out = tf.while_loop(lambda i, c: i < 2, body, [0, a])[1]
        ga, = tf.gradients(out, [a])
        got = _run(backend, [out, ga], {a: 2.0})
    assert got == [18.0, 2.25]      # d/da: (0.5 * 3) ** 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_gradient_stops_gradients_through_an_op_type(backend):
    from jitflow.frontend.op_builder import make_op
    op_type = f"TestNoGradSquare_{backend}"
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None])
        before = make_op(op_type, "square", [x]).outputs[0]     # made before the declaration
        tf.no_gradient(op_type)
        assert tf.NotDifferentiable is tf.NoGradient is tf.no_gradient
        after = make_op(op_type, "square", [x]).outputs[0]
        assert tf.gradients(tf.reduce_sum(before), [x]) == [None]
        g_mixed, = tf.gradients(tf.reduce_sum(after) + tf.reduce_sum(x * 3.0), [x])
        got = _run(backend, [before, after, g_mixed], {x: X})
    np.testing.assert_allclose(got[0], X * X, rtol=1e-6)
    np.testing.assert_allclose(got[1], X * X, rtol=1e-6)
    np.testing.assert_allclose(got[2], np.full(4, 3.0))
    with pytest.raises(TypeError, match="str"):
        tf.no_gradient(3)
