"""ops/sparse.py's sparse_reduce_sum and sparse_dense_matmul (tf.sparse_reduce_sum /
tf.sparse.reduce_sum, tf.sparse_tensor_dense_matmul / tf.sparse.sparse_dense_matmul) against
NumPy on the dense matrix, their gradients (values, the dense matrix; and sparse_to_dense's
for the values) against central differences, on reference and llvm (host placement)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients
from jitflow.errors import InvalidArgumentError

BACKENDS = ("reference", "llvm")


def random_sparse(r, shape, density=0.4):
    dense = np.where(r.rand(*shape) < density, r.randn(*shape), 0.0)
    idx = np.argwhere(dense != 0).astype(np.int64)
    return idx, dense[tuple(idx.T)], np.asarray(shape, np.int64), dense


def sp_tensor(idx, vals, shape):
    return tf.SparseTensor(tf.constant(idx), vals, tf.constant(shape))


shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@settings(max_examples=20, deadline=None)
@given(shapes, st.integers(0, 1000), st.booleans(), st.data())
def test_reduce_sum_matches_numpy(shape, seed, keepdims, data):
    r = np.random.RandomState(seed)
    idx, vals, dshape, dense = random_sparse(r, shape)
    rank = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-rank, rank - 1),
                               st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank,
                                        unique=True)))
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.float64, shape=[None] * rank)
    out = tf.sparse.reduce_sum(sp, axis=axis, keepdims=keepdims)
    ax = None if axis is None else tuple(np.atleast_1d(axis))
    want = dense.sum(axis=ax, keepdims=keepdims)
    with tf.Session(backend="reference") as s:
        got = s.run(out, {sp: (idx, vals, dshape)})
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reduce_sum_static_shape_and_llvm(backend):
    r = np.random.RandomState(1)
    idx, vals, dshape, dense = random_sparse(r, (3, 4, 2))
    tf.reset_default_graph()
    sp = sp_tensor(idx, vals.astype(np.float32), dshape)
    outs = [tf.sparse_reduce_sum(sp), tf.sparse_reduce_sum(sp, axis=1),
            tf.sparse_reduce_sum(sp, axis=[0, 2], keepdims=True),
            tf.sparse_reduce_sum(sp, reduction_axes=-1, keep_dims=True)]
    assert [o.shape.as_list() for o in outs] == [[], [3, 2], [1, 4, 1], [3, 4, 1]]
    with tf.Session(backend=backend) as s:
        got = s.run([o * 2.0 for o in outs])      # a native op after the host op
    wants = [dense.sum(), dense.sum(1), dense.sum((0, 2), keepdims=True),
             dense.sum(-1, keepdims=True)]
    for g, w in zip(got, wants):
        np.testing.assert_allclose(g, 2 * w, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="axis \\[3\\] out of range"):
        tf.sparse_reduce_sum(sp, axis=3)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), ([0, 2], True)])
def test_reduce_sum_gradient_values(backend, axis, keepdims):
    r = np.random.RandomState(2)
    idx, vals, dshape, _ = random_sparse(r, (3, 4, 2), 0.5)
    check_gradients(lambda v: tf.sparse_reduce_sum(sp_tensor(idx, v, dshape), axis=axis,
                                                   keepdims=keepdims), [vals], backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_to_dense_gradient_values(backend):
    r = np.random.RandomState(3)
    idx, vals, dshape, _ = random_sparse(r, (4, 3), 0.5)
    check_gradients(lambda v: tf.sparse.to_dense(sp_tensor(idx, v, dshape)), [vals],
                    backend=backend)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.booleans(), st.booleans(),
       st.integers(0, 1000))
def test_sparse_dense_matmul_matches_numpy(m, k, n, adj_a, adj_b, seed):
    r = np.random.RandomState(seed)
    a_shape = (k, m) if adj_a else (m, k)
    idx, vals, dshape, dense = random_sparse(r, a_shape)
    b = r.randn(*((n, k) if adj_b else (k, n)))
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.float64, shape=[None, None])
    bp = tf.placeholder(tf.float64, [None, None])
    out = tf.sparse.sparse_dense_matmul(sp, bp, adjoint_a=adj_a, adjoint_b=adj_b)
    with tf.Session(backend="reference") as s:
        got = s.run(out, {sp: (idx, vals, dshape), bp: b})
    want = (dense.T if adj_a else dense) @ (b.T if adj_b else b)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("adj_a,adj_b", [(False, False), (True, False), (False, True),
                                         (True, True)])
def test_sparse_dense_matmul_gradients(backend, adj_a, adj_b):
    r = np.random.RandomState(4)
    idx, vals, dshape, _ = random_sparse(r, (3, 4), 0.5)
    k = 3 if adj_a else 4
    b = r.randn(*((2, k) if adj_b else (k, 2)))
    check_gradients(lambda v, bm: tf.sparse_tensor_dense_matmul(
        sp_tensor(idx, v, dshape), bm, adjoint_a=adj_a, adjoint_b=adj_b), [vals, b],
        backend=backend)


def test_sparse_dense_matmul_llvm_training_step():
    """A sparse-input linear model trained on llvm: the host op and its gradients between
    native segments; the loss after 30 steps is below its start, as NumPy's would be."""
    r = np.random.RandomState(5)
    idx, vals, dshape, dense = random_sparse(r, (16, 6), 0.5)
    target = dense @ r.randn(6, 1)
    tf.reset_default_graph()
    w = tf.Variable(np.zeros((6, 1)), dtype=tf.float64)
    pred = tf.sparse_tensor_dense_matmul(sp_tensor(idx, vals, dshape), w)
    loss = tf.reduce_mean(tf.square(pred - target))
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss)
        for _ in range(30):
            s.run(step)
        last, got_w = s.run([loss, w])
    wn = np.zeros((6, 1))
    for _ in range(30):
        wn -= 0.1 * 2 * dense.T @ (dense @ wn - target) / 16
    assert first == pytest.approx(np.mean(target ** 2))
    np.testing.assert_allclose(got_w, wn, rtol=1e-8, atol=1e-10)
    assert last < first


def test_sparse_dense_matmul_errors():
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.float32, shape=[None, None])
    b = tf.placeholder(tf.float32, [None, None])
    out = tf.sparse_tensor_dense_matmul(sp, b)
    with tf.Session(backend="reference") as s:
        with pytest.raises(InvalidArgumentError, match="inner dimensions differ: 3"):
            s.run(out, {sp: (np.array([[0, 1]], np.int64), np.array([1.0], np.float32),
                             np.array([2, 3], np.int64)), b: np.ones((4, 2), np.float32)})
    with pytest.raises(ValueError, match="rank-2 SparseTensor"):
        tf.sparse_tensor_dense_matmul(tf.sparse_placeholder(tf.float32, shape=[2, 3, 4]), b)
    with pytest.raises(TypeError, match="requested dtype float32"):
        tf.sparse_tensor_dense_matmul(sp, tf.placeholder(tf.int32, [None, None]))


def test_gradient_ops_references():
    """The values-gradient ops the VJPs emit, against NumPy on the dense operands:
    sparse_gather_dense (reduced axes dropped, or 0 with keepdims) and
    sparse_dense_matmul_values_grad (<g[row], op(B)[col]> per entry)."""
    from jitflow.ir.opdef import OPS
    r = np.random.RandomState(6)
    idx, _, _, _ = random_sparse(r, (3, 4, 2), 0.6)
    g = r.randn(3, 2)
    got = OPS["sparse_gather_dense"].reference(idx, g, axes=(1,), keepdims=False, rank=3)
    np.testing.assert_array_equal(got, [g[i, k] for i, _, k in idx])
    gk = r.randn(1, 4, 1)
    got = OPS["sparse_gather_dense"].reference(idx, gk, axes=(0, 2), keepdims=True, rank=3)
    np.testing.assert_array_equal(got, [gk[0, j, 0] for _, j, _ in idx])
    idx2, _, _, _ = random_sparse(r, (3, 4), 0.6)
    gm, bm = r.randn(3, 2), r.randn(4, 2)
    got = OPS["sparse_dense_matmul_values_grad"].reference(idx2, gm, bm.T, adjoint_a=False,
                                                           adjoint_b=True)
    np.testing.assert_allclose(got, [gm[i] @ bm[k] for i, k in idx2])
    with pytest.raises(InvalidArgumentError,
                       match="expected a rank-1 dense operand, got shape \\[1, 4, 1\\]"):
        OPS["sparse_gather_dense"].reference(idx, gk, axes=(0, 2), keepdims=False, rank=3)


SPARSE_OPS = {"sparse_reduce_sum", "sparse_gather_dense", "sparse_dense_matmul",
              "sparse_dense_matmul_values_grad"}


@pytest.mark.parametrize("backend", ["llvm", "cuda"])
def test_only_the_sparse_ops_leave_the_native_backend(backend):
    """No kernel for them on llvm or cuda: the Session runs them (and the ops their
    gradients emit) on the host between native segments; everything else stays native,
    and the values and gradients are NumPy's."""
    if backend == "cuda":
        from _cuda_util import usable_or_skip
        usable_or_skip()
    from jitflow.runtime import compile as compile_mod
    from jitflow.runtime.placement import Segment
    r = np.random.RandomState(7)
    idx, vals, dshape, dense = random_sparse(r, (5, 4), 0.5)
    wv = r.randn(4, 2).astype(np.float32)
    tf.reset_default_graph()
    v = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [4, 2])
    sp = sp_tensor(idx, v, dshape)
    prod = tf.sparse_tensor_dense_matmul(sp, tf.tanh(w))
    loss = tf.reduce_sum(tf.square(prod)) + \
        tf.reduce_sum(tf.sparse_reduce_sum(sp, axis=1) * 3.0)
    grads = tf.gradients(loss, [v, w])
    events: list = []
    compile_mod.COMPILE_HOOKS.append(events.append)
    try:
        with tf.Session(backend=backend) as s:
            got_loss, gv, gw = s.run([loss] + grads, {v: vals.astype(np.float32), w: wv})
    finally:
        compile_mod.COMPILE_HOOKS.remove(events.append)
    segs = [(type(st.executable).__name__, {op.opname for op in st.function.ops})
            for st in events[-1].executable.steps if isinstance(st, Segment)]
    host = set().union(*(ops for kind, ops in segs if kind == "ReferenceExecutable"))
    native = set().union(*(ops for kind, ops in segs if kind != "ReferenceExecutable"))
    assert SPARSE_OPS <= host and not (SPARSE_OPS & native) and native, segs
    t = np.tanh(wv.astype(np.float64))
    p = dense @ t
    assert got_loss == pytest.approx((p ** 2).sum() + 3 * dense.sum(), rel=1e-5)
    np.testing.assert_allclose(gv, [2 * p[i] @ t[k] + 3 for i, k in idx], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gw, (2 * dense.T @ p) * (1 - t ** 2), rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(shapes, st.integers(0, 1000), st.booleans(), st.data())
def test_reduce_sum_sparse_matches_numpy(shape, seed, keepdims, data):
    """sparse_reduce_sum_sparse: one entry per output position some input entry reaches
    (an explicit zero sum stays), in row-major order; to_dense gives the dense sum."""
    r = np.random.RandomState(seed)
    idx, vals, dshape, dense = random_sparse(r, shape)
    rank = len(shape)
    axis = data.draw(st.one_of(st.none(), st.lists(st.integers(-rank, rank - 1), min_size=1,
                                                   max_size=rank, unique=True)))
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.float64, shape=[None] * rank)
    out = tf.sparse.reduce_sum_sparse(sp, axis=axis, keepdims=keepdims)
    with tf.Session(backend="reference") as s:
        got = s.run(out, {sp: (idx, vals, dshape)})
    ax = tuple(range(rank)) if axis is None else tuple(sorted({a % rank for a in axis}))
    kept = [a for a in range(rank) if keepdims or a not in ax]
    reach = np.zeros(dense.shape, bool)
    reach[tuple(idx.T)] = True
    want_dense = dense.sum(axis=ax, keepdims=keepdims)
    hit = reach.any(axis=ax, keepdims=keepdims)
    want_idx = np.argwhere(hit) if kept else np.zeros((int(hit), 0), np.int64)
    np.testing.assert_array_equal(got.dense_shape, want_dense.shape)
    np.testing.assert_array_equal(got.indices, want_idx)
    np.testing.assert_allclose(got.values, want_dense[tuple(want_idx.T)], rtol=1e-12, atol=1e-12)
