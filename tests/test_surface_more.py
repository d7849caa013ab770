"""More composed TF1 names (frontend/array_extra.py, nn_extra.py), keras BatchNormalization and
Embedding, and the host-side tf.logging / tf.flags / tf.app.run / tf.gfile."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rng = np.random.RandomState(0)
X = rng.randn(3, 4)


def test_size_rank_slice_strided_slice_reverse_roll():
    tf.reset_default_graph()
    x = tf.constant(X)
    p = tf.placeholder(tf.float32, [None, 4])
    got = run([tf.size(x), tf.rank(x), tf.slice(x, [1, 0], [2, -1]),
               tf.strided_slice(x, [0, 3], [3, 0], [2, -1], begin_mask=1),
               tf.strided_slice(x, [1, 0], [2, 4], shrink_axis_mask=1),
               tf.reverse(x, [0, -1]), tf.roll(x, [1, -1], [0, 1]), tf.size(p)],
              {p: np.zeros((5, 4))})
    assert got[0] == 12 and got[1] == 2 and got[7] == 20
    np.testing.assert_array_equal(got[2], X[1:3])
    np.testing.assert_array_equal(got[3], X[::2, 3:0:-1])
    np.testing.assert_array_equal(got[4], X[1])
    np.testing.assert_array_equal(got[5], X[::-1, ::-1])
    np.testing.assert_array_equal(got[6], np.roll(X, [1, -1], [0, 1]))
    check_gradients(lambda t: tf.roll(t, 2, 1), [X])
    check_gradients(lambda t: tf.reverse(t, [1]), [X])


def test_diag_band_part_count_nonzero_confusion_matrix():
    tf.reset_default_graph()
    m = rng.randn(2, 4, 4)
    got = run([tf.diag(X[0]), tf.diag_part(m), tf.matrix_band_part(m, 1, 0),
               tf.matrix_band_part(m, -1, 2), tf.matrix_diag(X),
               tf.count_nonzero([[0, 1, 2], [0, 0, 3]], axis=1),
               tf.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1]),
               tf.confusion_matrix([0, 1], [1, 1], num_classes=3, weights=[0.5, 2.0],
                                   dtype=tf.float32)])
    np.testing.assert_array_equal(got[0], np.diag(X[0]))
    np.testing.assert_array_equal(got[1], np.diagonal(m, axis1=1, axis2=2))
    i, j = np.arange(4)[:, None], np.arange(4)[None, :]
    np.testing.assert_array_equal(got[2], m * ((i - j <= 1) & (j <= i)))
    np.testing.assert_array_equal(got[3], m * (j - i <= 2))
    assert got[4].shape == (3, 4, 4) and np.array_equal(got[4][1], np.diag(X[1]))
    assert got[5].dtype == np.int64 and list(got[5]) == [2, 1]
    np.testing.assert_array_equal(got[6], [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(got[7], [[0, 0.5, 0], [0, 2.0, 0], [0, 0, 0]])
    check_gradients(tf.diag_part, [m])
    check_gradients(lambda t: tf.matrix_band_part(t, 0, 1), [m])


@SETTINGS
@given(seed=st.integers(0, 10000), depth=st.integers(1, 3))
def test_gather_nd_and_scatter_nd(seed, depth):
    r = np.random.RandomState(seed)
    params = r.randn(3, 4, 2)
    idx = np.stack([r.randint(0, d, 5) for d in params.shape[:depth]], -1).astype(np.int32)
    tf.reset_default_graph()
    got = run(tf.gather_nd(params, idx))
    np.testing.assert_array_equal(got, params[tuple(idx.T)])
    upd = r.randn(*((5,) + params.shape[depth:]))
    sc = run(tf.scatter_nd(idx, upd, params.shape))
    ref = np.zeros(params.shape)
    np.add.at(ref, tuple(idx.T), upd)
    np.testing.assert_allclose(sc, ref, rtol=1e-12, atol=1e-12)


def test_gather_nd_scatter_nd_batch_gather_gradients():
    idx = np.array([[0, 1], [2, 3], [0, 1]], np.int32)
    check_gradients(lambda p: tf.gather_nd(p, idx), [X])
    check_gradients(lambda u: tf.scatter_nd(idx, u, [3, 4]), [rng.randn(3)])
    bidx = np.array([[3, 0], [1, 1], [2, 0]], np.int32)
    tf.reset_default_graph()
    np.testing.assert_array_equal(run(tf.batch_gather(X, bidx)),
                                  np.take_along_axis(X, bidx, 1))
    check_gradients(lambda p: tf.batch_gather(p, bidx), [X])


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum(axis, exclusive, reverse):
    def ref(x):
        y = np.flip(x, axis) if reverse else x
        c = np.cumsum(y, axis)
        if exclusive:
            c = c - y
        return np.flip(c, axis) if reverse else c
    tf.reset_default_graph()
    got = run(tf.cumsum(X, axis, exclusive=exclusive, reverse=reverse))
    np.testing.assert_allclose(got, ref(X), rtol=1e-12, atol=1e-12)
    check_gradients(lambda t: tf.cumsum(t, axis, exclusive, reverse), [X])


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_float_predicates_and_round(backend):
    v = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2, -2.7, np.nan, np.inf, -np.inf, 3.0],
                 np.float32)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None])
    with tf.Session(backend=backend) as s:
        nan, inf, fin = s.run([tf.is_nan(x), tf.is_inf(x), tf.is_finite(x)], {x: v})
        rounded = s.run(tf.round(x), {x: v[:7]})
    np.testing.assert_array_equal(nan, np.isnan(v))
    np.testing.assert_array_equal(inf, np.isinf(v))
    np.testing.assert_array_equal(fin, np.isfinite(v))
    np.testing.assert_array_equal(rounded, np.round(v[:7]))


@SETTINGS
@given(x=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-50, 50, width=64)))
def test_round_half_to_even(x):
    x = np.concatenate([x, np.round(x) + 0.5])
    tf.reset_default_graph()
    np.testing.assert_array_equal(run(tf.round(tf.constant(x))), np.round(x))


def test_get_local_variable():
    tf.reset_default_graph()
    v = tf.get_local_variable("counter", [2], initializer=tf.zeros_initializer())
    assert tf.local_variables() == [v] and tf.trainable_variables() == []
    assert v not in tf.global_variables()


# ---------------------------------------------------------------------- nn -----------------

def _conv_ref(x, w, stride, dil=1, padding="VALID"):
    """NWC 1-D correlation."""
    k = w.shape[0]
    ke = (k - 1) * dil + 1
    n = x.shape[1]
    if padding == "SAME":
        out_n = -(-n // stride)
        pad = max((out_n - 1) * stride + ke - n, 0)
        x = np.pad(x, [(0, 0), (pad // 2, pad - pad // 2), (0, 0)])
    out_n = (x.shape[1] - ke) // stride + 1
    out = np.zeros((x.shape[0], out_n, w.shape[2]))
    for o in range(out_n):
        for t in range(k):
            out[:, o] += x[:, o * stride + t * dil] @ w[t]
    return out


@pytest.mark.parametrize("stride, dil, padding", [(1, 1, "VALID"), (2, 1, "SAME"),
                                                  (1, 2, "VALID")])
def test_conv1d(stride, dil, padding):
    x, w = rng.randn(2, 7, 3), rng.randn(3, 3, 2)
    tf.reset_default_graph()
    got = run(tf.nn.conv1d(x, w, stride, padding, dilations=dil))
    np.testing.assert_allclose(got, _conv_ref(x, w, stride, dil, padding), rtol=1e-10)
    check_gradients(lambda a, b: tf.nn.conv1d(a, b, stride, padding, dilations=dil),
                    [x[:1, :5, :2], w[:, :2]])


def test_depthwise_separable_atrous_conv():
    x = rng.randn(1, 5, 5, 2)
    dw = rng.randn(3, 3, 2, 2)
    pw = rng.randn(1, 1, 4, 3)
    tf.reset_default_graph()
    d, sep, at = run([tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], "VALID"),
                      tf.nn.separable_conv2d(x, dw, pw, [1, 1, 1, 1], "VALID"),
                      tf.nn.atrous_conv2d(x, dw[..., :1], 2, "VALID")])
    ref = np.zeros((1, 3, 3, 4))
    for c in range(2):
        for m in range(2):
            for i in range(3):
                for j in range(3):
                    ref[0, i, j, c * 2 + m] = (x[0, i:i + 3, j:j + 3, c] * dw[:, :, c, m]).sum()
    np.testing.assert_allclose(d, ref, rtol=1e-10)
    np.testing.assert_allclose(sep, ref @ pw[0, 0], rtol=1e-10)
    ref_at = sum(x[0, 2 * a:2 * a + 1, 2 * b:2 * b + 1] @ dw[a, b, :, :1]
                 for a in range(3) for b in range(3))
    np.testing.assert_allclose(at[0], ref_at, rtol=1e-10)
    check_gradients(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, 1, 1, 1], "SAME"),
                    [x[:, :3, :3], dw[:2, :2]])


def test_lrn():
    x = rng.randn(1, 2, 2, 6)
    tf.reset_default_graph()
    got = run(tf.nn.lrn(x, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75))
    sq = np.zeros_like(x)
    for c in range(6):
        sq[..., c] = (x[..., max(c - 2, 0):c + 3] ** 2).sum(-1)
    np.testing.assert_allclose(got, x / (1.5 + 0.3 * sq) ** 0.75, rtol=1e-10)
    check_gradients(lambda t: tf.nn.lrn(t, 1, 1.0, 0.5, 0.5), [x[:, :1, :1, :4]])


def test_1d_and_separable_layers():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 10, 3])
    y = tf.layers.conv1d(x, 4, 3, strides=2, padding="same", name="c1")
    p = tf.layers.max_pooling1d(y, 2, 2)
    a = tf.layers.average_pooling1d(y, 2, 1)
    img = tf.placeholder(tf.float32, [None, 6, 6, 2])
    s = tf.layers.separable_conv2d(img, 5, 3, depth_multiplier=2, name="sep")
    assert y.shape.as_list() == [None, 5, 4] and p.shape.as_list() == [None, 2, 4]
    assert a.shape.as_list() == [None, 4, 4] and s.shape.as_list() == [None, 4, 4, 5]
    assert [v.op.name for v in tf.trainable_variables()] == [
        "c1/kernel", "c1/bias", "sep/depthwise_kernel", "sep/pointwise_kernel", "sep/bias"]
    xv = rng.rand(2, 10, 3).astype(np.float32)
    with tf.Session(backend="reference") as sess:
        sess.run(tf.global_variables_initializer())
        k, b = sess.run(["c1/kernel:0", "c1/bias:0"])
        yv, pv = sess.run([y, p], {x: xv})
    np.testing.assert_allclose(yv, _conv_ref(xv, k, 2, 1, "SAME") + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pv, yv[:, :4].reshape(2, 2, 2, 4).max(2), rtol=1e-6)


# ---------------------------------------------------------------------- keras --------------

def test_keras_batch_normalization_and_embedding():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    bn = tf.keras.layers.BatchNormalization(momentum=0.5)
    train_out = bn(x, training=True)
    infer_out = bn(x)
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == [] and len(bn.updates) == 2
    ids = tf.placeholder(tf.int32, [None, 2])
    emb = tf.keras.layers.Embedding(10, 4)
    e = emb(ids)
    assert e.shape.as_list() == [None, 2, 4] and emb.embeddings.op.name == "embedding/embeddings"
    xv = rng.randn(6, 3).astype(np.float32)
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        t, i, _ = s.run([train_out, infer_out, bn.updates], {x: xv})
        table, ev = s.run([emb.embeddings, e], {ids: [[1, 2], [9, 0]]})
        mm = s.run(bn.moving_mean)
    np.testing.assert_allclose(t, (xv - xv.mean(0)) / np.sqrt(xv.var(0) + 1e-3), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(i, xv / np.sqrt(1 + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(mm, 0.5 * xv.mean(0), rtol=1e-5)
    assert np.all(np.abs(table) <= 0.05)
    np.testing.assert_array_equal(ev, table[[[1, 2], [9, 0]]])


# ---------------------------------------------------------------------- host ---------------

def test_gfile_and_logging(tmp_path, capsys):
    d = tmp_path / "a" / "b"
    tf.gfile.MakeDirs(str(d))
    assert tf.gfile.Exists(str(d)) and tf.io.gfile.isdir(str(d))
    with tf.gfile.GFile(str(d / "f.txt"), "w") as f:
        f.write("hi")
    tf.gfile.Copy(str(d / "f.txt"), str(d / "g.txt"))
    assert sorted(tf.gfile.ListDirectory(str(d))) == ["f.txt", "g.txt"]
    assert tf.io.gfile.glob(str(d / "*.txt"))
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Copy(str(d / "f.txt"), str(d / "g.txt"))
    tf.gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not tf.gfile.Exists(str(tmp_path / "a"))
    tf.logging.set_verbosity(tf.logging.INFO)
    tf.logging.info("step %d", 3)
    assert "INFO:tensorflow:step 3" in capsys.readouterr().err
    tf.logging.set_verbosity(tf.logging.WARN)


def test_flags_and_app_run(tmp_path):
    prog = tmp_path / "flags_prog.py"
    prog.write_text(
        "import tensorflow as tf\n"
        "flags = tf.app.flags\n"
        "flags.DEFINE_integer('epochs', 2, 'number of epochs')\n"
        "flags.DEFINE_string('name', 'x', 'a name')\n"
        "flags.DEFINE_boolean('fast', False, 'go fast')\n"
        "FLAGS = flags.FLAGS\n"
        "def main(argv):\n"
        "    print(FLAGS.epochs, FLAGS.name, FLAGS.fast, argv[1:])\n"
        "    return 4\n"
        "if __name__ == '__main__':\n"
        "    tf.app.run()\n")
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "jitflow", "run", str(prog), "--epochs", "7",
                        "--fast", "rest"], capture_output=True, text=True, cwd=str(root),
                       env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert r.returncode == 4, r.stderr
    assert r.stdout.strip() == "7 x True ['rest']"


# ---------------------------------------------------------------------- sort / segments ----

@SETTINGS
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 6)),
                    elements=st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.inf])),
       k=st.integers(0, 6))
def test_sort_argsort_top_k_with_ties(x, k):
    k = min(k, x.shape[1])
    tf.reset_default_graph()
    t = tf.constant(x)
    s_up, s_down, a_up, a_down, (tv, ti) = run([
        tf.sort(t), tf.sort(t, direction="DESCENDING"), tf.argsort(t),
        tf.argsort(t, direction="DESCENDING"), tf.nn.top_k(t, k)])
    np.testing.assert_array_equal(s_up, np.sort(x, -1))
    np.testing.assert_array_equal(s_down, -np.sort(-x, -1))
    np.testing.assert_array_equal(a_up, np.argsort(x, -1, kind="stable"))
    np.testing.assert_array_equal(a_down, np.argsort(-x, -1, kind="stable"))
    np.testing.assert_array_equal(ti, np.argsort(-x, -1, kind="stable")[:, :k])
    np.testing.assert_array_equal(tv, np.take_along_axis(x, ti, -1))


def test_sort_axis0_ints_and_top_k_gradient():
    tf.reset_default_graph()
    xi = np.array([[3, 1], [1, 2], [2, 0]], np.int32)
    np.testing.assert_array_equal(run(tf.sort(xi, axis=0)), np.sort(xi, 0))
    check_gradients(lambda t: tf.nn.top_k(t, 2)[0], [np.array([[0.3, 2.0, -1.0, 0.7]])])
    check_gradients(lambda t: tf.sort(t, axis=0), [X])


@pytest.mark.parametrize("kind", ["sum", "mean", "max", "min"])
def test_unsorted_segment_reductions(kind):
    data = rng.randn(6, 2)
    ids = np.array([0, 2, 0, 3, 2, 0], np.int32)
    tf.reset_default_graph()
    got = run(getattr(tf, f"unsorted_segment_{kind}")(data, ids, 5))
    sorted_got = run(getattr(tf, f"segment_{kind}")(data[np.argsort(ids, kind="stable")],
                                                     np.sort(ids)))
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[kind]
    empty = {"sum": 0.0, "mean": 0.0, "max": np.finfo(np.float64).min,
             "min": np.finfo(np.float64).max}[kind]
    ref = np.array([fn(data[ids == s], 0) if (ids == s).any() else [empty] * 2
                    for s in range(5)])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(sorted_got, ref[:4], rtol=1e-12)
    if kind in ("sum", "mean", "max"):
        full = np.array([0, 1, 0, 3, 2, 1], np.int32)     # no empty segment
        check_gradients(lambda t: getattr(tf, f"unsorted_segment_{kind}")(t, full, 4), [data])


def test_random_shuffle_and_multinomial():
    tf.reset_default_graph()
    x = np.arange(5.0)
    sh = tf.random_shuffle(tf.constant(x), seed=1)
    logits = tf.constant(np.log([[0.1, 0.6, 0.3], [0.98, 0.01, 0.01]]), dtype=tf.float32)
    samples = tf.multinomial(logits, 400, seed=2)
    cat = tf.random.categorical(logits, 5)
    orders = set()
    with tf.Session(backend="reference") as s:
        for _ in range(10):
            v = s.run(sh)
            np.testing.assert_array_equal(np.sort(v), x)
            orders.add(tuple(v))
        sv, cv = s.run([samples, cat])
    assert len(orders) > 3
    assert sv.dtype == np.int64 and sv.shape == (2, 400) and cv.shape == (2, 5)
    freq = np.bincount(sv[0], minlength=3) / 400
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.08)
    assert (sv[1] == 0).mean() > 0.9


@pytest.mark.parametrize("seq_axis, batch_axis", [(1, 0), (0, 1)])
def test_reverse_sequence(seq_axis, batch_axis):
    x = rng.randn(3, 5, 2) if batch_axis == 0 else rng.randn(5, 3, 2)
    lens = np.array([2, 5, 0])
    ref = x.copy()
    for b, n in enumerate(lens):
        if batch_axis == 0:
            ref[b, :n] = x[b, :n][::-1]
        else:
            ref[:n, b] = x[:n, b][::-1]
    tf.reset_default_graph()
    ln = tf.placeholder(tf.int64, [3])
    got = run(tf.reverse_sequence(tf.constant(x), ln, seq_axis=seq_axis, batch_axis=batch_axis),
              {ln: lens})
    np.testing.assert_array_equal(got, ref)
    check_gradients(lambda t: tf.reverse_sequence(t, lens, seq_axis, batch_axis), [x])


def test_tensor_scatter_nd():
    t = rng.randn(4, 3)
    idx = np.array([[1], [3]], np.int32)
    upd = rng.randn(2, 3)
    tf.reset_default_graph()
    a, s_, u = run([tf.tensor_scatter_nd_add(t, idx, upd), tf.tensor_scatter_nd_sub(t, idx, upd),
                    tf.tensor_scatter_nd_update(t, idx, upd)])
    ra, rs, ru = t.copy(), t.copy(), t.copy()
    ra[[1, 3]] += upd
    rs[[1, 3]] -= upd
    ru[[1, 3]] = upd
    np.testing.assert_allclose(a, ra) and np.testing.assert_allclose(s_, rs)
    np.testing.assert_allclose(u, ru, rtol=1e-12)
    check_gradients(lambda x, v: tf.tensor_scatter_nd_update(x, idx, v), [t, upd])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.integers(1, 9), batch=st.integers(1, 5), width=st.integers(1, 3),
       data=st.data())
def test_reverse_sequence_any_lengths_unknown_batch_and_non_finite_values(steps, batch, width,
                                                                           data):
    """Exact for every value (NaN, infinities), every length 0..T, a batch unknown at build."""
    x = data.draw(hnp.arrays(np.float32, (batch, steps, width),
                             elements=st.sampled_from([0.5, -2.0, np.inf, -np.inf, np.nan, 3.25])))
    lens = np.array(data.draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch)),
                    np.int32)
    ref = x.copy()
    for b, n in enumerate(lens):
        ref[b, :n] = x[b, :n][::-1]
    for known in (steps, None):          # a sequence axis known only at run time: a gather
        tf.reset_default_graph()
        xp = tf.placeholder(tf.float32, [None, known, width])
        lp = tf.placeholder(tf.int32, [None])
        got = run(tf.reverse_sequence(xp, lp, seq_axis=1, batch_axis=0), {xp: x, lp: lens})
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_reverse_sequence_of_a_run_time_sequence_axis_and_its_gradient(backend):
    x = rng.randn(4, 3, 2)                  # [time, batch, depth], time fed
    lens = np.array([2, 4, 0], np.int64)
    ref = x.copy()
    for b, n in enumerate(lens):
        ref[:n, b] = x[:n, b][::-1]
    tf.reset_default_graph()
    xp = tf.placeholder(tf.float64, [None, None, 2])
    lp = tf.placeholder(tf.int64, [None])
    y = tf.reverse_sequence(xp, lp, seq_axis=0, batch_axis=1)
    w = rng.randn(*x.shape)
    g, = tf.gradients(tf.reduce_sum(y * w), xp)
    got, gv = run([y, g], {xp: x, lp: lens}, backend=backend)
    np.testing.assert_array_equal(got, ref)
    wr = w.copy()                          # the gradient is w reversed the same way
    for b, n in enumerate(lens):
        wr[:n, b] = w[:n, b][::-1]
    np.testing.assert_array_equal(gv, wr)
    with pytest.raises(NotImplementedError, match="other than the batch and sequence axes"):
        tf.reverse_sequence(tf.placeholder(tf.float64, [None, None, None]), lp, seq_axis=1)


# ---------------------------------------------------------------------- 3-D ----------------

def _geo(n, k, s, padding):
    if padding == "VALID":
        return (n - k) // s + 1, 0
    out = -(-n // s)
    return out, max((out - 1) * s + k - n, 0) // 2


def _conv3d_ref(x, w, st, padding):
    out_dims, pads = zip(*[_geo(x.shape[1 + a], w.shape[a], st[a], padding) for a in range(3)])
    full = [max((o - 1) * s + k - n, 0) for o, s, k, n in zip(out_dims, st, w.shape[:3],
                                                              x.shape[1:4])]
    xp = np.pad(x, [(0, 0)] + [(p, f - p) for p, f in zip(pads, full)] + [(0, 0)])
    out = np.zeros((x.shape[0],) + out_dims + (w.shape[4],))
    for i in range(out_dims[0]):
        for j in range(out_dims[1]):
            for k in range(out_dims[2]):
                patch = xp[:, i * st[0]:i * st[0] + w.shape[0], j * st[1]:j * st[1] + w.shape[1],
                           k * st[2]:k * st[2] + w.shape[2]]
                out[:, i, j, k] = np.einsum("ndhwc,dhwco->no", patch, w)
    return out


def _pool3d_ref(x, k, st, padding, kind):
    out_dims, pads = zip(*[_geo(x.shape[1 + a], k[a], st[a], padding) for a in range(3)])
    out = np.zeros((x.shape[0],) + out_dims + (x.shape[4],))
    for idx in np.ndindex(*out_dims):
        sl = [slice(max(i * s - p, 0), min(i * s - p + kk, n))
              for i, s, p, kk, n in zip(idx, st, pads, k, x.shape[1:4])]
        win = x[:, sl[0], sl[1], sl[2]]
        out[(slice(None),) + idx] = win.max((1, 2, 3)) if kind == "max" else win.mean((1, 2, 3))
    return out


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("strides", [(1, 1, 1), (2, 1, 2)])
def test_conv3d_and_pool3d(padding, strides):
    x = rng.randn(2, 5, 4, 5, 2)
    w = rng.randn(3, 2, 3, 2, 3)
    st = [1, *strides, 1]
    tf.reset_default_graph()
    c, mp, ap = run([tf.nn.conv3d(x, w, st, padding),
                     tf.nn.max_pool3d(x, [1, 2, 3, 2, 1], st, padding),
                     tf.nn.avg_pool3d(x, [1, 2, 3, 2, 1], st, padding)])
    np.testing.assert_allclose(c, _conv3d_ref(x, w, strides, padding), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mp, _pool3d_ref(x, (2, 3, 2), strides, padding, "max"))
    np.testing.assert_allclose(ap, _pool3d_ref(x, (2, 3, 2), strides, padding, "avg"),
                               rtol=1e-12)


def test_conv3d_gradients_and_layers():
    check_gradients(lambda a, b: tf.nn.conv3d(a, b, [1, 1, 1, 1, 1], "SAME"),
                    [rng.randn(1, 3, 2, 2, 1), rng.randn(2, 2, 1, 1, 2)])
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 4, 6, 6, 1])
    y = tf.layers.conv3d(x, 2, 3, padding="same", activation=tf.nn.relu, name="c3")
    p = tf.layers.max_pooling3d(y, 2, 2)
    q = tf.layers.average_pooling3d(y, [2, 2, 2], 1)
    assert y.shape.as_list() == [None, 4, 6, 6, 2] and p.shape.as_list() == [None, 2, 3, 3, 2]
    assert q.shape.as_list() == [None, 3, 5, 5, 2]
    assert [v.op.name for v in tf.trainable_variables()] == ["c3/kernel", "c3/bias"]


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("k, s", [((2, 2), (2, 2)), ((3, 2), (1, 2))])
def test_max_pool_with_argmax(padding, k, s):
    x = rng.choice([0.0, 1.0, 2.0, -1.0], size=(2, 5, 4, 3))     # ties on purpose
    tf.reset_default_graph()
    vals, arg, arg_b, ref_vals = run([
        *tf.nn.max_pool_with_argmax(x, [1, *k, 1], [1, *s, 1], padding),
        tf.nn.max_pool_with_argmax(x, [1, *k, 1], [1, *s, 1], padding,
                                   include_batch_in_index=True)[1],
        tf.nn.max_pool(x, [1, *k, 1], [1, *s, 1], padding)])
    np.testing.assert_array_equal(vals, ref_vals)
    assert arg.dtype == np.int64
    n, h, w, c = x.shape
    oh, ph = _geo(h, k[0], s[0], padding)
    ow, pw = _geo(w, k[1], s[1], padding)
    for b, i, j, ch in np.ndindex(n, oh, ow, c):
        best, where_ = -np.inf, None
        for dy in range(k[0]):
            for dx in range(k[1]):
                y, xx = i * s[0] + dy - ph, j * s[1] + dx - pw
                if 0 <= y < h and 0 <= xx < w and x[b, y, xx, ch] > best:
                    best, where_ = x[b, y, xx, ch], (y * w + xx) * c + ch
        assert arg[b, i, j, ch] == where_
        assert arg_b[b, i, j, ch] == where_ + b * h * w * c
    check_gradients(lambda t: tf.nn.max_pool_with_argmax(t, [1, 2, 2, 1], [1, 2, 2, 1],
                                                         "VALID")[0], [rng.randn(1, 4, 4, 1)])


def test_variable_scatter_ops():
    tf.reset_default_graph()
    v0 = rng.randn(4, 2)
    v = tf.Variable(v0)
    up = tf.scatter_update(v, [1, 3], np.ones((2, 2)))
    add = tf.scatter_add(v, [0, 0], np.full((2, 2), 0.5))
    sub = tf.scatter_nd_sub(v, [[2, 1]], [3.0])
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        a = s.run(up)
        b = s.run(add)
        c = s.run(sub)
        final = s.run(v)
    r = v0.copy()
    r[[1, 3]] = 1.0
    np.testing.assert_allclose(a, r)
    r[0] += 1.0
    np.testing.assert_allclose(b, r)
    r[2, 1] -= 3.0
    np.testing.assert_allclose(c, r) and np.testing.assert_allclose(final, r)
