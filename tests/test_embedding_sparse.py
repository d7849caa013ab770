"""tf.nn.embedding_lookup over partitioned tables (mod/div) and with max_norm,
tf.nn.embedding_lookup_sparse and tf.nn.safe_embedding_lookup_sparse /
tf.contrib.layers.safe_embedding_lookup_sparse (frontend/embedding_ops.py) against NumPy
references written here, fed through tf.sparse_placeholder, their gradients for the tables
and the weights against central differences, on reference and llvm."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf

BACKENDS = ("reference", "llvm")
COMBINERS = ("sum", "mean", "sqrtn")


# ------------------------------------------------------------------ NumPy references -------

def shard(table: np.ndarray, n: int, strategy: str) -> list:
    """TF's layout of a table over n shards: mod deals rows round robin, div gives each
    shard a contiguous block, the first (rows % n) shards one row more."""
    if strategy == "mod":
        return [table[p::n] for p in range(n)]
    return np.array_split(table, n)


def np_combine(table, rows, ids, weights, combiner, num_rows, pruned_empty_zero=True):
    out = np.zeros((num_rows,) + table.shape[1:])
    den = np.zeros(num_rows)
    sq = np.zeros(num_rows)
    for r, i, w in zip(rows, ids, weights):
        out[r] += w * table[i]
        den[r] += w
        sq[r] += w * w
    with np.errstate(invalid="ignore", divide="ignore"):
        if combiner == "mean":
            out = out / den[:, None]
        elif combiner == "sqrtn":
            out = out / np.sqrt(sq)[:, None]
    return out


def np_lookup_sparse(table, idx, ids, weights, combiner):
    rows = idx[:, 0]
    n = int(rows.max()) + 1 if len(rows) else 0
    w = np.ones(len(ids)) if weights is None else weights
    out = np_combine(table, rows, ids, w, combiner, n)
    if weights is None:                     # TF's sparse segment ops: empty rows are 0
        present = np.zeros(n, bool)
        present[rows] = True
        out[~present] = 0.0
    return out


def np_safe(table, idx, ids, weights, combiner, default_id, dense_shape):
    lead = tuple(int(d) for d in dense_shape[:-1])
    n = int(np.prod(lead))
    rows = np.ravel_multi_index(tuple(idx[:, :-1].T), lead) if len(idx) else np.zeros(0, int)
    keep = ids >= 0
    if weights is not None and combiner != "sum":
        keep &= weights > 0
    w = np.ones(len(ids)) if weights is None else weights
    out = np_combine(table, rows[keep], ids[keep], w[keep], combiner, n)
    empty = np.ones(n, bool)
    empty[rows[keep]] = False
    out[empty] = 0.0 if default_id is None else table[default_id]
    return out.reshape(lead + table.shape[1:])


def random_sparse(r, rows, cols, vocab, density=0.5, negative=False):
    mask = r.rand(rows, cols) < density
    idx = np.argwhere(mask).astype(np.int64)
    ids = r.randint(-2 if negative else 0, vocab, len(idx)).astype(np.int64)
    w = np.round(r.randn(len(idx)) * 2, 1) if negative else r.rand(len(idx)) + 0.25
    return idx, ids, w


# ------------------------------------------------------------------ lookups ----------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_partitioned_embedding_lookup(backend, strategy):
    r = np.random.RandomState(0)
    table = r.randn(11, 3, 2)
    tf.reset_default_graph()
    shards = [tf.constant(s) for s in shard(table, 3, strategy)]
    ids = tf.placeholder(tf.int32, [None, 2])
    out = tf.nn.embedding_lookup(shards, ids, partition_strategy=strategy)
    clipped = tf.nn.embedding_lookup(shards, ids, partition_strategy=strategy, max_norm=1.5)
    assert out.shape.as_list() == [None, 2, 3, 2]
    feed = r.randint(0, 11, (5, 2))
    with tf.Session(backend=backend) as s:
        got, gc = s.run([out, clipped], {ids: feed})
        for bad in (11, -1):
            with pytest.raises(tf.errors.InvalidArgumentError, match="is not in"):
                s.run(out, {ids: [[0, bad]]})
    np.testing.assert_allclose(got, table[feed])
    norms = np.sqrt((table[feed] ** 2).sum(axis=(2, 3), keepdims=True))
    np.testing.assert_allclose(gc, table[feed] * 1.5 / np.maximum(norms, 1.5), rtol=1e-12)


def test_lookup_errors():
    tf.reset_default_graph()
    shards = [tf.zeros([2, 3]), tf.zeros([2, 3])]
    with pytest.raises(ValueError, match="Unrecognized partition strategy: bad"):
        tf.nn.embedding_lookup(shards, [0], partition_strategy="bad")
    with pytest.raises(ValueError, match="same shape but for the first"):
        tf.nn.embedding_lookup([tf.zeros([2, 3]), tf.zeros([2, 4])], [0])
    with pytest.raises(ValueError, match="at least one param"):
        tf.nn.embedding_lookup([], [0])
    sp = tf.sparse_placeholder(tf.int64, shape=[None, None])
    with pytest.raises(ValueError, match="combiner must be one of"):
        tf.nn.embedding_lookup_sparse(shards, sp, None, combiner="max")
    with pytest.raises(TypeError, match="sp_ids must be SparseTensor"):
        tf.nn.embedding_lookup_sparse(shards, tf.constant([0]), None)
    with pytest.raises(TypeError, match="sp_weights must be either None or SparseTensor"):
        tf.nn.embedding_lookup_sparse(shards, sp, tf.constant([1.0]))
    w64 = tf.sparse_placeholder(tf.float64, shape=[None, None])
    with pytest.raises(ValueError, match="one float dtype"):
        tf.nn.safe_embedding_lookup_sparse(shards, sp, w64)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(COMBINERS), st.booleans(), st.integers(1, 3),
       st.sampled_from(["mod", "div"]))
def test_lookup_sparse_matches_numpy(seed, combiner, weighted, nshards, strategy):
    r = np.random.RandomState(seed)
    vocab, dim = int(r.randint(nshards, 9)), int(r.randint(1, 4))
    table = r.randn(vocab, dim)
    idx, ids, w = random_sparse(r, int(r.randint(1, 6)), 4, vocab)
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.int64, shape=[None, None])
    spw = tf.sparse_placeholder(tf.float64, shape=[None, None]) if weighted else None
    shards = [tf.constant(s) for s in shard(table, nshards, strategy)]
    out = tf.nn.embedding_lookup_sparse(shards, sp, spw, partition_strategy=strategy,
                                        combiner=combiner)
    dense_shape = np.array([6, 4], np.int64)
    feed = {sp: tf.SparseTensorValue(idx, ids, dense_shape)}
    if weighted:
        feed[spw] = tf.SparseTensorValue(idx, w, dense_shape)
    with tf.Session(backend="reference") as s:
        got = s.run(out, feed)
    want = np_lookup_sparse(table, idx, ids, w if weighted else None, combiner)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lookup_sparse_llvm_and_reference(backend):
    r = np.random.RandomState(3)
    table = r.randn(10, 4).astype(np.float32)
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.int64, shape=[None, None])
    spw = tf.sparse_placeholder(tf.float32, shape=[None, None])
    shards = [tf.Variable(s) for s in shard(table, 2, "mod")]
    outs = [tf.nn.embedding_lookup_sparse(shards, sp, w, combiner=c)
            for c in COMBINERS for w in (spw, None)]
    dflt = tf.nn.embedding_lookup_sparse(shards, sp, None)          # combiner None: mean
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        for rows in (5, 3):
            idx, ids, w = random_sparse(r, rows, 4, 10, density=0.6)
            idx[-1, 0] = rows - 1                               # the last row has an id
            shape = np.array([rows, 4], np.int64)
            got = s.run(outs + [dflt], {sp: (idx, ids, shape), spw: (idx, w, shape)})
            k = 0
            for c in COMBINERS:
                for weights in (w, None):
                    want = np_lookup_sparse(table.astype(np.float64), idx, ids, weights, c)
                    np.testing.assert_allclose(got[k], want, rtol=2e-5, atol=1e-5)
                    assert got[k].shape == (rows, 4) and got[k].dtype == np.float32
                    k += 1
            np.testing.assert_allclose(got[-1], got[3], rtol=1e-6)   # mean, unweighted
        empty = s.run(outs[0], {sp: (np.zeros((0, 2), np.int64), np.zeros(0, np.int64), [3, 4]),
                                spw: (np.zeros((0, 2), np.int64), np.zeros(0, np.float32),
                                      [3, 4])})
        assert empty.shape == (0, 4)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(COMBINERS), st.booleans(), st.booleans(),
       st.integers(1, 3), st.booleans())
def test_safe_lookup_matches_numpy(seed, combiner, weighted, use_default, nshards, rank3):
    r = np.random.RandomState(seed)
    vocab, dim = int(r.randint(nshards, 8)), 3
    table = r.randn(vocab, dim)
    lead = (3, 2) if rank3 else (5,)
    cols = 3
    mask = r.rand(*lead, cols) < 0.5
    idx = np.argwhere(mask).astype(np.int64)
    ids = r.randint(-2, vocab, len(idx)).astype(np.int64)
    w = np.round(r.randn(len(idx)) * 2, 1)
    dense_shape = np.array(lead + (cols,), np.int64)
    default_id = int(r.randint(0, vocab)) if use_default else None
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.int64, shape=[None] * len(dense_shape))
    spw = tf.sparse_placeholder(tf.float64, shape=[None] * len(dense_shape)) if weighted else None
    shards = [tf.constant(s) for s in shard(table, nshards, "div")]
    out = tf.nn.safe_embedding_lookup_sparse(shards, sp, spw, combiner=combiner,
                                             default_id=default_id)
    assert out.shape.as_list() == [None] * len(lead) + [dim]
    feed = {sp: tf.SparseTensorValue(idx, ids, dense_shape)}
    if weighted:
        feed[spw] = tf.SparseTensorValue(idx, w, dense_shape)
    with tf.Session(backend="reference") as s:
        got = s.run(out, feed)
    want = np_safe(table, idx, ids, w if weighted else None, combiner, default_id, dense_shape)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_safe_lookup_llvm_and_contrib(backend):
    r = np.random.RandomState(5)
    table = r.randn(9, 2).astype(np.float32)
    tf.reset_default_graph()
    sp = tf.sparse_placeholder(tf.int64, shape=[None, None])
    spw = tf.sparse_placeholder(tf.float32, shape=[None, None])
    shards = [tf.constant(s) for s in shard(table, 2, "div")]
    outs = [tf.nn.safe_embedding_lookup_sparse(shards, sp, spw, combiner=c, default_id=d,
                                               max_norm=m)
            for c, d, m in (("sum", None, None), ("mean", 4, None), ("sqrtn", None, 1.0))]
    contrib = tf.contrib.layers.safe_embedding_lookup_sparse(shards, sp)   # mean, unweighted
    idx, ids, w = random_sparse(r, 6, 3, 9, negative=True)
    shape = np.array([6, 3], np.int64)
    with tf.Session(backend=backend) as s:
        got = s.run(outs + [contrib], {sp: (idx, ids, shape), spw: (idx, w, shape)})
    t64 = table.astype(np.float64)
    norms = np.sqrt((t64 ** 2).sum(1, keepdims=True))
    clipped = t64 / np.maximum(norms, 1.0)
    np.testing.assert_allclose(got[0], np_safe(t64, idx, ids, w, "sum", None, shape),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], np_safe(t64, idx, ids, w, "mean", 4, shape),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], np_safe(clipped, idx, ids, w, "sqrtn", None, shape),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[3], np_safe(t64, idx, ids, None, "mean", None, shape),
                               rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ gradients --------------

def _numeric(s, loss, feed, ph, value, eps=1e-6):
    num = np.zeros_like(value)
    for j in range(value.size):
        hi, lo = value.copy(), value.copy()
        hi.flat[j] += eps
        lo.flat[j] -= eps
        num.flat[j] = (s.run(loss, {**feed, ph: hi}) - s.run(loss, {**feed, ph: lo})) / (2 * eps)
    return num


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("safe", [False, True])
def test_gradients_vs_finite_differences(backend, safe):
    r = np.random.RandomState(7 + safe)
    table = r.randn(7, 2)
    parts = shard(table, 2, "div" if safe else "mod")
    idx, ids, w = random_sparse(r, 4, 3, 7, density=0.7, negative=safe)
    idx[-1, 0] = 3
    w[w == 0] = 0.5                     # no weight at the pruning threshold
    shape = np.array([4, 3], np.int64)
    tf.reset_default_graph()
    p_phs = [tf.placeholder(tf.float64, p.shape) for p in parts]
    w_ph = tf.placeholder(tf.float64, [None])
    sp = tf.sparse_placeholder(tf.int64, shape=[None, None])
    spw = tf.SparseTensor(sp.indices, w_ph, sp.dense_shape)
    losses = []
    for k, c in enumerate(COMBINERS):
        if safe:
            out = tf.nn.safe_embedding_lookup_sparse(p_phs, sp, spw, combiner=c, default_id=1)
        else:
            out = tf.nn.embedding_lookup_sparse(p_phs, sp, spw, combiner=c)
        losses.append(tf.reduce_sum(out * tf.constant(r.randn(4, 2))))
    loss = tf.add_n(losses)
    grads = tf.gradients(loss, p_phs + [w_ph])
    assert all(g is not None for g in grads)
    feed = {**dict(zip(p_phs, parts)), w_ph: w, sp: (idx, ids, shape)}
    with tf.Session(backend=backend) as s:
        got = s.run(grads, feed)
        for g, ph, v in zip(got, p_phs + [w_ph], parts + [w]):
            np.testing.assert_allclose(np.asarray(g), _numeric(s, loss, feed, ph, v),
                                       rtol=1e-5, atol=1e-6)
