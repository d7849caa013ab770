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
