"""Regressions found in the llvm backend and its pipeline, each checked against reference."""
import numpy as np

import jitflow.compat.v1 as tf


def _run_both(build, feeds_fn):
    out = {}
    for backend in ("reference", "llvm"):
        g = tf.Graph()
        with g.as_default():
            fetches, feeds = build()
            with tf.Session(backend=backend) as sess:
                out[backend] = sess.run(fetches, feeds_fn(feeds))
    return out


def test_returned_value_feeding_a_reduction_and_dead_reduction():
    # dropout's output is returned and also summed; the sum is only used for its shape
    def build():
        x = tf.placeholder(tf.float32, [None, 8])
        d = tf.nn.dropout(x, keep_prob=0.5, seed=1)
        return [d, tf.gradients(tf.reduce_sum(d), x)[0]], x
    out = _run_both(build, lambda x: {x: np.ones((3, 8), np.float32)})
    for r, l in zip(out["reference"], out["llvm"]):
        np.testing.assert_array_equal(r, l)
    assert set(np.unique(out["llvm"][0])) <= {0.0, 2.0}


def test_returned_prologue_value_of_reduction():
    def build():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.exp(x) * 2.0
        return [y, tf.reduce_sum(y, axis=1)], x
    xv = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    out = _run_both(build, lambda x: {x: xv})
    for r, l in zip(out["reference"], out["llvm"]):
        np.testing.assert_allclose(r, l, rtol=2e-6)


def test_run_time_parameters_are_keyed_by_ops_of_the_function_only():
    """The llvm parameter table keys its run-time values by id() of ops and values. A key
    naming a temporary op (strided_slice_grad's synthesized slice) was found again by a later
    temporary reusing that id, so a second slice gradient read the first one's offsets: the
    bidirectional-RNN gradient was wrong in 1 run of 5-10. Every key must name a live op or
    value of the Function, and several slice gradients in one step must all be right."""
    import jitflow.compat.v1 as tf
    from jitflow.backends.llvm.executable import LLVMExecutable
    x = tf.placeholder(tf.float32, [None, 6, 4])
    parts = [x[:, 1:], x[:, ::2, :1], x[:, 5:1:-2, 2:], x[:, :3, ::-1], x[:, 4]]
    loss = sum(tf.reduce_sum(p * float(i + 1)) for i, p in enumerate(parts))
    g = tf.gradients(loss, x)[0]
    v = np.random.RandomState(0).rand(3, 6, 4).astype(np.float32)
    want = np.zeros_like(v)
    for i, sl in enumerate([np.s_[:, 1:], np.s_[:, ::2, :1], np.s_[:, 5:1:-2, 2:],
                            np.s_[:, :3, ::-1], np.s_[:, 4]]):
        want[sl] += i + 1
    with tf.Session() as s:
        for _ in range(3):
            np.testing.assert_array_equal(s.run(g, {x: v}), want)
        exe = next(c.executable for c in s._cache.values())
    exe = getattr(exe, "executable", exe)
    assert isinstance(exe, LLVMExecutable)
    live = {id(o) for o in exe.function.ops} | {id(v) for v in exe.function.values()}
    for key in exe.mb.table.keys:
        ids = [k for k in key[1:] if isinstance(k, int) and k > 1 << 16]
        assert all(k in live for k in ids), f"parameter key {key[0]!r} names a temporary object"
