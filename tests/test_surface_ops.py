"""TF1 ops built from existing jitflow ops (frontend/composite_ops.py): values vs NumPy,
gradients vs finite differences, hypothesis over shapes and values."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def arrays(shape_min=1, shape_max=4, ndim=(1, 3), lo=-3.0, hi=3.0):
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=ndim[0], max_dims=ndim[1],
                                                   min_side=shape_min, max_side=shape_max),
                      elements=st.floats(lo, hi, allow_nan=False, width=64))


def softplus_np(x):
    return np.logaddexp(0, x)


ACTIVATIONS = {
    "softsign": (tf.nn.softsign, lambda x: x / (1 + np.abs(x))),
    "selu": (tf.nn.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    "log_sigmoid": (tf.log_sigmoid, lambda x: -softplus_np(-x)),
    "crelu": (tf.nn.crelu, lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], -1)),
    "l2_normalize": (lambda x: tf.nn.l2_normalize(x, axis=-1),
                     lambda x: x / np.sqrt(np.maximum((x * x).sum(-1, keepdims=True), 1e-12))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@SETTINGS
@given(x=arrays())
def test_activation_values(name, x):
    tf.reset_default_graph()
    fn, ref = ACTIVATIONS[name]
    np.testing.assert_allclose(run(fn(tf.constant(x))), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradients(name):
    x = np.array([[-2.1, -0.7, 0.4], [1.3, 2.2, -0.2]])
    check_gradients(ACTIVATIONS[name][0], [x])


def test_weighted_cross_entropy_values_and_gradients():
    rng = np.random.RandomState(0)
    z = rng.uniform(0, 1, (3, 4))
    x = rng.randn(3, 4) * 3
    q = 2.5
    ref = -(q * z * np.log(1 / (1 + np.exp(-x))) + (1 - z) * np.log(1 - 1 / (1 + np.exp(-x))))
    tf.reset_default_graph()
    got = run(tf.nn.weighted_cross_entropy_with_logits(labels=z, logits=tf.constant(x),
                                                       pos_weight=q))
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    check_gradients(lambda lg, lb: tf.nn.weighted_cross_entropy_with_logits(
        labels=lb, logits=lg, pos_weight=q), [x, z])


@pytest.mark.parametrize("ord_, axis", [("euclidean", None), (1, 1), (np.inf, 0), (3, -1),
                                        ("fro", [0, 1]), ("euclidean", [0, 1])])
def test_norm_values_and_gradients(ord_, axis):
    x = np.array([[1.5, -2.0, 0.5], [-0.3, 4.0, 1.0]])
    tf.reset_default_graph()
    got = run(tf.norm(tf.constant(x), ord=ord_, axis=axis))
    if axis is None:
        ref = np.linalg.norm(x.ravel())
    elif isinstance(axis, list):
        ref = np.linalg.norm(x, "fro")
    else:
        ref = np.linalg.norm(x, ord=ord_, axis=axis)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    check_gradients(lambda t: tf.norm(t, ord=ord_, axis=axis), [x])


def test_norm_spectral_is_the_largest_singular_value():
    """ord=2 over two axes is the spectral norm (an SVD, tests/test_linalg_decomp.py)."""
    x = np.random.RandomState(0).randn(3, 2)
    with tf.Session(backend="reference") as s:
        got = s.run(tf.norm(tf.constant(x), ord=2, axis=[0, 1]))
    np.testing.assert_allclose(got, np.linalg.norm(x, ord=2), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="matrix norm"):
        tf.norm(tf.constant(x), ord=1, axis=[0, 1])


@SETTINGS
@given(x=arrays(lo=-5, hi=5), clip=st.floats(0.1, 3.0))
def test_clip_by_average_norm(x, clip):
    tf.reset_default_graph()
    got = run(tf.clip_by_average_norm(tf.constant(x), clip))
    l2 = np.sqrt((x * x).sum())
    ref = x if l2 / x.size <= clip else x * clip * x.size / l2
    if l2 > 0:
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


def test_eye_linspace_range():
    tf.reset_default_graph()
    e, e2, ls, r1, r2, r3 = run([tf.eye(3), tf.eye(2, 3, batch_shape=[2], dtype=tf.float64),
                                 tf.linspace(1.0, 2.0, 5), tf.range(5), tf.range(1, 2, 0.25),
                                 tf.range(10, 2, -3)])
    np.testing.assert_array_equal(e, np.eye(3, dtype=np.float32))
    assert e2.shape == (2, 2, 3) and e2.dtype == np.float64
    np.testing.assert_allclose(ls, np.linspace(1, 2, 5), rtol=1e-6)
    assert r1.dtype == np.int32 and list(r1) == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(r2, [1.0, 1.25, 1.5, 1.75])
    assert list(r3) == [10, 7, 4]
    x = tf.placeholder(tf.int32, [])          # a run-time bound: a loop (control flow)
    assert list(run(tf.range(x), {x: 4})) == [0, 1, 2, 3]


def test_linspace_of_computed_endpoints_has_gradients():
    check_gradients(lambda a, b: tf.linspace(a, b, 4), [np.array(0.5), np.array(2.0)])


@SETTINGS
@given(x=arrays(ndim=(1, 2), shape_max=3), extra=st.integers(1, 3))
def test_broadcast_to(x, extra):
    tf.reset_default_graph()
    shape = [extra] + list(x.shape)
    np.testing.assert_array_equal(run(tf.broadcast_to(tf.constant(x), shape)),
                                  np.broadcast_to(x, shape))


def test_broadcast_to_errors_and_gradient():
    with pytest.raises(ValueError, match="cannot be broadcast"):
        tf.broadcast_to(tf.constant(np.ones(3)), [2, 4])
    check_gradients(lambda t: tf.broadcast_to(t, [2, 3]), [np.array([1.0, 2.0, 3.0])])


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid(indexing):
    a, b, c = np.arange(3.0), np.arange(4.0) * 10, np.arange(2.0) * 100
    tf.reset_default_graph()
    got = run(tf.meshgrid(a, b, c, indexing=indexing))
    for g, r in zip(got, np.meshgrid(a, b, c, indexing=indexing)):
        np.testing.assert_array_equal(g, r)


def test_sequence_mask():
    tf.reset_default_graph()
    lens = tf.placeholder(tf.int32, [None])
    m = tf.sequence_mask(lens, 5)
    mf = tf.sequence_mask(lens, 5, dtype=tf.float32)
    got, gotf = run([m, mf], {lens: [0, 2, 5]})
    ref = np.arange(5)[None, :] < np.array([0, 2, 5])[:, None]
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(gotf, ref.astype(np.float32))
    assert run(tf.sequence_mask([1, 3])).shape == (2, 3)
    x = tf.placeholder(tf.float32, [None, None])        # maxlen known only at run time
    md = tf.sequence_mask(lens, tf.shape(x)[1], dtype=tf.float64)
    got = run(md, {lens: [0, 2, 5], x: np.zeros((3, 4))})
    np.testing.assert_array_equal(got, np.arange(4)[None, :] < np.array([0, 2, 5])[:, None])
    assert got.dtype == np.float64
    with pytest.raises(NotImplementedError, match="pass maxlen"):
        tf.sequence_mask(lens)


@pytest.mark.parametrize("axes", [1, 2, [[0], [1]], [[1, 0], [0, 2]]])
def test_tensordot(axes):
    rng = np.random.RandomState(1)
    shapes = {1: ((2, 3), (3, 4)), 2: ((2, 3, 4), (3, 4, 2)), str([[0], [1]]): ((3, 2), (4, 3)),
              str([[1, 0], [0, 2]]): ((2, 3), (3, 4, 2))}[axes if isinstance(axes, int)
                                                           else str(axes)]
    a, b = rng.randn(*shapes[0]), rng.randn(*shapes[1])
    tf.reset_default_graph()
    np.testing.assert_allclose(run(tf.tensordot(a, b, axes)), np.tensordot(a, b, axes),
                               rtol=1e-12)
    check_gradients(lambda x, y: tf.tensordot(x, y, axes), [a, b])


EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
           ("i,i->", [(4,), (4,)]), ("ij->ji", [(2, 3)]), ("i,j->ij", [(2,), (3,)]),
           ("ij,j", [(3, 2), (2,)]), ("bi,bi->b", [(3, 4), (3, 4)]), ("ijk->k", [(2, 3, 2)]),
           ("ij,kj->ik", [(2, 3), (4, 3)])]


@pytest.mark.parametrize("eq, shapes", EINSUMS)
def test_einsum_values_and_gradients(eq, shapes):
    rng = np.random.RandomState(2)
    ops = [rng.randn(*s) for s in shapes]
    tf.reset_default_graph()
    np.testing.assert_allclose(run(tf.einsum(eq, *ops)), np.einsum(eq, *ops), rtol=1e-12,
                               atol=1e-12)
    check_gradients(lambda *xs: tf.einsum(eq, *xs), ops)


def test_einsum_refuses_what_it_cannot_do():
    x = tf.constant(np.ones((2, 2)))
    with pytest.raises(NotImplementedError, match="repeat"):
        tf.einsum("ii->i", x)
    with pytest.raises(NotImplementedError, match="ellipsis"):
        tf.einsum("...i->i", x)
    with pytest.raises(ValueError, match="sizes"):
        tf.einsum("ij,jk->ik", x, tf.constant(np.ones((3, 2))))


@SETTINGS
@given(x=arrays(lo=-10, hi=10))
def test_floor_ceil(x):
    tf.reset_default_graph()
    f, c = run([tf.floor(tf.constant(x)), tf.ceil(tf.constant(x))])
    np.testing.assert_array_equal(f, np.floor(x))
    np.testing.assert_array_equal(c, np.ceil(x))


def test_tuple_identity_n_and_their_control_dependencies():
    tf.reset_default_graph()
    v = tf.Variable(0.0)
    inc = tf.assign_add(v, 1.0)
    a = tf.constant(2.0)
    ta, = tf.tuple([a], control_inputs=[inc])
    i1, i2 = tf.identity_n([a, v])
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        assert s.run(ta) == 2.0 and s.run(v) == 1.0       # the control input ran
        assert s.run([i1, i2]) == [2.0, 1.0]


def test_make_template_shares_variables():
    tf.reset_default_graph()

    def scale(x, factor):
        w = tf.get_variable("w", [], initializer=tf.constant_initializer(factor))
        return x * w
    t = tf.make_template("scale", scale, factor=3.0)
    y1, y2 = t(tf.constant(1.0)), t(tf.constant(2.0))
    assert [v.name for v in tf.global_variables()] == ["scale/w:0"]
    assert t.variable_scope_name == "scale" and len(t.trainable_variables) == 1
    assert run([y1, y2]) == [3.0, 6.0]
    t2 = tf.make_template("scale", scale, factor=1.0)
    t2(tf.constant(1.0))
    assert [v.name for v in tf.global_variables()] == ["scale/w:0", "scale_1/w:0"]
