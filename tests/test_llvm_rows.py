"""llvm: a serial elementwise kernel over [rows, C] (C static, 3..ROWS_MAX) whose flat loop
would divide by C (a row broadcast, a column broadcast, an inline outer-product matmul) loops
over rows instead (compiler.KernelGen._rows_instead); from PARALLEL_MIN elements on the same
kernel keeps its flat, threaded loop. Both must give the reference interpreter's values."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.backends.llvm.compiler import ROWS_MAX
from jitflow.backends.llvm.parallel import PARALLEL_MIN


def build(width: int):
    x = tf.placeholder(tf.float32, [None, 1])
    m = tf.placeholder(tf.float32, [None, width])
    rng = np.random.RandomState(width)
    w = tf.constant(rng.randn(1, width).astype(np.float32))
    b = tf.constant(rng.randn(width).astype(np.float32))
    h = tf.nn.tanh(tf.matmul(x, w) + b)          # outer product, row broadcast (lin % C)
    out = h * (x + 1.0) - m * b                   # column broadcast (lin // C), identity
    grad = (1.0 - tf.square(h)) * tf.matmul(x * 2.0, w)     # (1 - h^2: tanh ulps x 8)
    return x, m, [out, grad]


def run(backend: str, width: int, rows: int, seed: int = 0):
    g = tf.Graph()
    with g.as_default():
        x, m, fetches = build(width)
        rng = np.random.RandomState(seed)
        feed = {x: rng.uniform(-2, 2, (rows, 1)).astype(np.float32),
                m: rng.uniform(-1, 1, (rows, width)).astype(np.float32)}
        with tf.Session(backend=backend) as sess:
            return [sess.run(fetches, feed) for _ in range(2)][-1]


@settings(max_examples=12, deadline=None)
@given(st.sampled_from([3, 5, 8, 10, 17, 32, ROWS_MAX, ROWS_MAX + 1]), st.integers(1, 300))
def test_row_loops_match_the_reference(width, rows):
    got, want = run("llvm", width, rows), run("reference", width, rows)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("width", [10, 16])
def test_the_flat_threaded_loop_above_parallel_min_matches_too(width):
    rows = PARALLEL_MIN // width + 7           # past the threshold: the flat loop
    got, want = run("llvm", width, rows, 1), run("reference", width, rows, 1)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
