"""Python operators and value conversion on Tensor/Variable with TF1's dtype rules
(TF1_API.md rows 12, 34, 43 and §5.4)."""
import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


@pytest.fixture
def sess(graph):
    with tf.Session(graph=graph) as s:
        yield s


def test_python_values_take_the_tensor_dtype(sess):
    m = tf.Variable(2.0, name="m")
    b = tf.Variable(1.0, name="b")
    xs = [1.0, 2.0, 3.0]
    sess.run(tf.global_variables_initializer())
    y = m * xs + b                              # TE/hunkim: lists on the right and left
    np.testing.assert_array_equal(sess.run(y), [3.0, 5.0, 7.0])
    assert y.dtype == tf.float32
    sq = (tf.constant(xs) - [1, 1, 1]) ** 2       # ints converted to float32
    np.testing.assert_array_equal(sess.run(sq), [0.0, 1.0, 4.0])
    assert sess.run(2 ** tf.constant(3.0)) == 8.0
    assert sess.run(10 - tf.constant(4)) == 6
    assert sess.run(1.0 / tf.constant(4.0)) == 0.25
    np.testing.assert_array_equal(sess.run(np.array([1, 2], np.float32) * tf.constant(3.0)),
                                  [3.0, 6.0])
    assert sess.run(np.float32(2.0) * tf.constant(3.0)) == 6.0


def test_default_dtypes_of_converted_values():
    assert tf.constant(1.5).dtype == tf.float32
    assert tf.constant(3).dtype == tf.int32
    assert tf.constant(2 ** 40).dtype == tf.int64
    assert tf.constant(True).dtype == tf.bool
    assert tf.constant(np.float64(1.5)).dtype == tf.float64        # numpy keeps its dtype
    assert tf.constant(np.arange(3)).dtype == tf.int64
    assert tf.constant([1, 2], dtype=tf.float32).dtype == tf.float32
    assert tf.placeholder("float").dtype == tf.float32
    assert tf.Variable(1).dtype == tf.int32
    assert tf.Variable(np.zeros(2)).dtype == tf.float64
    assert tf.convert_to_tensor([[1.0, 2.0]]).shape.as_list() == [1, 2]


def test_constant_shape_fill_and_reshape(sess):
    np.testing.assert_array_equal(sess.run(tf.constant(0, shape=[2, 2])), np.zeros((2, 2)))
    np.testing.assert_array_equal(sess.run(tf.constant([1, 2, 3, 4], shape=[2, 2])),
                                  [[1, 2], [3, 4]])
    # TF1 fills a short list with its last value
    np.testing.assert_array_equal(sess.run(tf.constant([1, 2, 3], shape=[2, 2])),
                                  [[1, 2], [3, 3]])
    with pytest.raises(ValueError, match="Too many elements provided. Takes at most 2, but got 3"):
        tf.constant([1, 2, 3], shape=[2])
    zb, ob = tf.zeros([3], tf.bool), tf.ones([2, 1], tf.bool)     # False / True, as TF
    assert zb.dtype == ob.dtype == tf.bool
    np.testing.assert_array_equal(sess.run(zb), [False] * 3)
    np.testing.assert_array_equal(sess.run(ob), [[True], [True]])


def test_division_and_modulo_semantics(sess):
    i = tf.constant([7, -7])
    np.testing.assert_array_equal(sess.run(i // 2), [3, -4])     # floor division
    np.testing.assert_array_equal(sess.run(i % 3), [1, 2])       # floor modulo
    t = i / 2                                                    # truediv: int32 -> float64
    assert t.dtype == tf.float64
    np.testing.assert_array_equal(sess.run(t), [3.5, -3.5])
    f = tf.constant([7.0, -7.0]) / 2
    assert f.dtype == tf.float32
    assert sess.run(tf.div(tf.constant(7), tf.constant(2))) == 3


def test_comparisons_return_bool_tensors_and_eq_is_identity(sess):
    h = tf.constant([0.2, 0.7])
    pred = h > 0.5
    assert pred.dtype == tf.bool
    np.testing.assert_array_equal(sess.run(pred), [False, True])
    np.testing.assert_array_equal(sess.run(h <= 0.2), [True, False])
    a = tf.constant(1.0)
    b = tf.constant(1.0)
    assert (a == b) is False and (a == a) is True   # identity, not elementwise
    assert a != b
    d = {a: 1, b: 2}                                 # tensors are usable as dict keys
    assert d[a] == 1 and d[b] == 2
    with pytest.raises(TypeError, match="as a Python `bool`"):
        bool(a)
    np.testing.assert_array_equal(sess.run(tf.equal(tf.constant([1, 2]), [1, 3])), [True, False])
    c = tf.cast(tf.equal(tf.constant([1, 2]), tf.constant([1, 3])), tf.float32)
    assert sess.run(tf.reduce_mean(c)) == 0.5


def test_unary_operators_and_logical_ops(sess):
    x = tf.constant([-1.5, 2.0])
    np.testing.assert_array_equal(sess.run(-x), [1.5, -2.0])
    np.testing.assert_array_equal(sess.run(abs(x)), [1.5, 2.0])
    t, f = tf.constant(True), tf.constant(False)
    assert sess.run(t & f) == False  # noqa: E712
    assert sess.run(t | f) == True  # noqa: E712
    assert sess.run(~t) == False  # noqa: E712
    assert sess.run(t ^ t) == False  # noqa: E712


def test_matmul_operator_and_variable_operators(sess):
    a = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    w = tf.Variable([[1.0], [1.0]], name="w")
    sess.run(w.initializer)
    np.testing.assert_array_equal(sess.run(a @ w), [[3.0], [7.0]])
    np.testing.assert_array_equal(sess.run(w * 2.0 + w), [[3.0], [3.0]])
    np.testing.assert_array_equal(sess.run(-w), [[-1.0], [-1.0]])
    assert sess.run(w[1, 0]) == 1.0


def test_slicing(sess):
    m = tf.constant([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(sess.run(m[1, ::-1]), [6, 5, 4])
    np.testing.assert_array_equal(sess.run(m[:, 1:]), [[2, 3], [5, 6]])
    assert sess.run(m[0, -1]) == 3
    assert m[..., None].shape.as_list() == [2, 3, 1]
    assert m[:, tf.newaxis, 0].shape.as_list() == [2, 1]
    x = tf.placeholder(tf.float32, [None, 3])
    assert x[:, 0].shape.as_list() == [None]
    np.testing.assert_array_equal(sess.run(x[:, 0], {x: np.ones((4, 3))}), np.ones(4))


def test_reductions_aliases_and_integer_mean(sess):
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(sess.run(tf.reduce_sum(x, reduction_indices=1)), [3.0, 7.0])
    np.testing.assert_array_equal(sess.run(tf.reduce_sum(x, 0, keep_dims=True)), [[4.0, 6.0]])
    np.testing.assert_array_equal(sess.run(tf.reduce_mean(x, axis=1, keepdims=True)),
                                  [[1.5], [3.5]])
    assert sess.run(tf.reduce_max(x)) == 4.0
    assert sess.run(tf.reduce_mean(tf.constant([1, 2]))) == 1      # integer mean truncates
    assert sess.run(tf.reduce_mean(tf.constant([1, 2]))).dtype == np.int32
    with pytest.raises(ValueError, match="both 'axis' and 'reduction_indices'"):
        tf.reduce_sum(x, axis=0, reduction_indices=0)


def test_array_ops(sess):
    p = tf.placeholder(tf.float32, [None, 3])
    ones = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(sess.run(tf.shape(p), {p: ones}), [4, 3])
    assert sess.run(tf.reshape(p, tf.shape(p)), {p: ones}).shape == (4, 3)
    assert tf.reshape(p, [-1, 1, 3]).shape.as_list() == [None, 1, 3]
    np.testing.assert_array_equal(sess.run(tf.transpose(tf.constant([[1, 2]]))), [[1], [2]])
    np.testing.assert_array_equal(sess.run(tf.expand_dims(tf.constant([1, 2]), 1)), [[1], [2]])
    np.testing.assert_array_equal(sess.run(tf.squeeze(tf.constant([[1, 2]]))), [1, 2])
    np.testing.assert_array_equal(sess.run(tf.zeros_like(tf.constant([1.0, 2.0]))), [0, 0])
    np.testing.assert_array_equal(sess.run(tf.ones([2], dtype=tf.int32)), [1, 1])
    np.testing.assert_array_equal(sess.run(tf.fill([2, 2], 3.0)), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(sess.run(tf.stack([tf.constant(1.0), 2.0])), [1.0, 2.0])
    a, b = tf.unstack(tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(sess.run(b), [3.0, 4.0])
    assert sess.run(tf.add_n([tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)])) == 6.0
    np.testing.assert_array_equal(
        sess.run(tf.where(tf.constant([True, False]), tf.constant([1.0, 2.0]),
                          tf.constant([3.0, 4.0]))), [1.0, 4.0])
    np.testing.assert_array_equal(sess.run(tf.cast(tf.constant([1.7, -1.7]), tf.int32)), [1, -1])
    np.testing.assert_array_equal(sess.run(tf.cast(tf.constant([True, False]), tf.float32)),
                                  [1.0, 0.0])
    assert sess.run(tf.squared_difference(tf.constant(3.0), 1.0)) == 4.0


def test_tensor_len_and_iteration():
    t = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError):
        len(t)
    rows = list(t)
    assert len(rows) == 2 and rows[0].shape.as_list() == [2]
    with pytest.raises(TypeError):
        iter(tf.placeholder(tf.float32, [None, 2]))


def test_numpy_values_on_the_left_of_variables_and_tensors(sess):
    v = tf.Variable([1.0, 2.0], name="v")
    sess.run(v.initializer)
    for expr in (np.ones(2, np.float32) * v, np.ones(2, np.float32) - v,
                 np.ones(2, np.float32) * v.value(), np.float32(3.0) + v):
        assert isinstance(expr, tf.Tensor)
    np.testing.assert_array_equal(sess.run(np.ones(2, np.float32) - v), [0.0, -1.0])
    m = np.array([[1.0, 1.0]], np.float32) @ tf.Variable([[1.0], [2.0]], name="m")
    assert isinstance(m, tf.Tensor) and m.shape.as_list() == [1, 1]
    with pytest.raises(TypeError, match="not iterable"):
        list(v)
