"""ops/linalg_solve.py: matrix_inverse, matrix_determinant, cholesky, matrix_solve (the TF
names tf.linalg.inv/det/cholesky/solve, tf.matrix_inverse/matrix_determinant/cholesky/
matrix_solve): values against NumPy on batched well-conditioned matrices (hypothesis),
gradients against central finite differences, llvm and cuda (a Session places these ops on
the host device, run by the reference interpreter between native segments; a bare llvm
compile falls back whole with a warning) equal to the reference, and a training run."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients
from jitflow.errors import InvalidArgumentError
from jitflow.errors import GraphShapeError


def well_conditioned(rng, batch, n, dtype):
    """Random [*batch, n, n] with singular values in [1, 3]: Q diag(s) R."""
    q1 = np.linalg.qr(rng.randn(*batch, n, n))[0]
    q2 = np.linalg.qr(rng.randn(*batch, n, n))[0]
    s = rng.uniform(1, 3, size=(*batch, n))
    return (q1 * s[..., None, :] @ q2).astype(dtype)


def spd(rng, batch, n, dtype):
    a = well_conditioned(rng, batch, n, np.float64)
    return (a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(n)).astype(dtype)


TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
cases = st.tuples(st.sampled_from([(), (2,), (2, 3)]), st.integers(1, 5),
                  st.sampled_from([np.float32, np.float64]), st.integers(0, 2 ** 16))


def _run(fetches, feed, backend):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


@settings(max_examples=12, deadline=None)
@given(cases)
def test_values_match_numpy(case):
    batch, n, dt, seed = case
    rng = np.random.RandomState(seed)
    a, p, rhs = (well_conditioned(rng, batch, n, dt), spd(rng, batch, n, dt),
                 rng.randn(*batch, n, 2).astype(dt))
    tf.reset_default_graph()
    ta, tp, tb = (tf.placeholder(tf.as_dtype(dt), v.shape) for v in (a, p, rhs))
    outs = [tf.linalg.inv(ta), tf.matrix_inverse(ta, adjoint=True), tf.linalg.det(ta),
            tf.cholesky(tp), tf.linalg.solve(ta, tb), tf.matrix_solve(ta, tb, adjoint=True)]
    assert outs[2].shape.as_list() == list(batch)
    got = _run(outs, {ta: a, tp: p, tb: rhs}, "reference")
    a64, at64 = a.astype(np.float64), np.swapaxes(a, -1, -2).astype(np.float64)
    want = [np.linalg.inv(a64), np.linalg.inv(at64), np.linalg.det(a64),
            np.linalg.cholesky(p.astype(np.float64)), np.linalg.solve(a64, rhs),
            np.linalg.solve(at64, rhs)]
    for g, w in zip(got, want):
        assert g.dtype == dt and g.shape == w.shape
        np.testing.assert_allclose(g, w, **TOL[dt])


def test_tf_names_are_the_same_functions():
    assert tf.linalg.inv is tf.matrix_inverse and tf.linalg.det is tf.matrix_determinant
    assert tf.linalg.cholesky is tf.cholesky and tf.linalg.solve is tf.matrix_solve


@pytest.mark.parametrize("name", ["inv", "det", "cholesky", "solve", "solve_adjoint"])
def test_gradients_match_finite_differences(name):
    rng = np.random.RandomState(3)
    a = well_conditioned(rng, (2,), 3, np.float64)
    rhs = rng.randn(2, 3, 2)
    if name == "cholesky":
        # the op reads the lower triangle only: the function of A is chol(sym(A)) so the
        # finite differences see the same dependence as TF's symmetrized gradient
        check_gradients(lambda x: tf.cholesky(0.5 * (x + tf.transpose(x, [0, 2, 1]))),
                        [spd(rng, (2,), 3, np.float64)], rtol=1e-5, atol=1e-7)
        return
    fns = {"inv": (lambda x: tf.linalg.inv(x), [a]),
           "det": (lambda x: tf.linalg.det(x), [a]),
           "solve": (lambda x, y: tf.linalg.solve(x, y), [a, rhs]),
           "solve_adjoint": (lambda x, y: tf.matrix_solve(x, y, adjoint=True), [a, rhs])}
    fn, arrays = fns[name]
    check_gradients(fn, arrays, rtol=1e-5, atol=1e-7)


def test_inverse_adjoint_gradient():
    a = well_conditioned(np.random.RandomState(4), (), 4, np.float64)
    check_gradients(lambda x: tf.matrix_inverse(x, adjoint=True), [a], rtol=1e-5, atol=1e-7)


LINALG = {"matrix_inverse", "matrix_determinant", "cholesky", "matrix_solve"}


def _segments(events):
    """(backend, op names) of each compiled segment of the last partitioned compile."""
    from jitflow.runtime.placement import Segment
    exe = events[-1].executable
    return [(type(st.executable).__name__, {op.opname for op in st.function.ops})
            for st in exe.steps if isinstance(st, Segment)]


@pytest.mark.parametrize("backend", ["llvm", "cuda"])
def test_only_the_linalg_ops_leave_the_native_backend_and_values_match(backend):
    """llvm and cuda have no kernel for them: the Session places them (and the inverses
    their gradients use) on the host device, run by the reference interpreter between the
    backend's compiled segments; everything else stays native. Values and gradients equal
    the all-reference run."""
    if backend == "cuda":
        from _cuda_util import usable_or_skip
        usable_or_skip()
    from jitflow.runtime import compile as compile_mod
    rng = np.random.RandomState(5)
    a, p = well_conditioned(rng, (3,), 4, np.float32), spd(rng, (3,), 4, np.float32)
    rhs = rng.randn(3, 4, 2).astype(np.float32)
    tf.reset_default_graph()
    ta, tp, tb = (tf.placeholder(tf.float32, v.shape) for v in (a, p, rhs))
    outs = [tf.linalg.inv(ta), tf.linalg.det(ta), tf.linalg.cholesky(tp),
            tf.linalg.solve(ta, tb)]
    loss = tf.add_n([tf.reduce_sum(tf.tanh(o) * 2.0) for o in outs])
    grads = tf.gradients(loss, [ta, tp, tb])
    feed = {ta: a, tp: p, tb: rhs}
    events: list = []
    compile_mod.COMPILE_HOOKS.append(events.append)
    try:
        got = _run(outs + grads, feed, backend)
    finally:
        compile_mod.COMPILE_HOOKS.remove(events.append)
    assert events and events[-1].backend.startswith("partitioned("), events[-1].backend
    segs = _segments(events)
    host = set().union(*(ops for kind, ops in segs if kind == "ReferenceExecutable"))
    native = set().union(*(ops for kind, ops in segs if kind != "ReferenceExecutable"))
    assert LINALG <= host and not (LINALG & native), segs
    assert "tanh" in native or any("fused" in o for o in native), segs
    want = _run(outs + grads, feed, "reference")
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_a_function_holding_one_falls_back_whole_on_llvm_with_a_warning(capfd):
    """Outside a Session's placement (a backend compile of the Function itself) llvm names
    every unlowered op in one warning and runs the Function on the reference interpreter."""
    from jitflow.backends import get_backend
    from jitflow.ir import Builder, Function, TensorType, as_dtype
    f = Function("f")
    x = f.add_param(TensorType(as_dtype("f64"), (2, 3, 3)))
    b = Builder(f.ops)
    f.set_results([b.matrix_determinant(b.exp(x)), b.matrix_inverse(x)])
    capfd.readouterr()
    exe = get_backend("llvm").compile(f)
    err = capfd.readouterr().err
    assert "reference backend" in err and "matrix_determinant" in err and \
        "matrix_inverse" in err, err
    arr = well_conditioned(np.random.RandomState(0), (2,), 3, np.float64)
    det, inv = exe.run([arr])
    np.testing.assert_allclose(det, np.linalg.det(np.exp(arr)), rtol=1e-10)
    np.testing.assert_allclose(inv, np.linalg.inv(arr), rtol=1e-10)


def test_training_through_solve_and_det_lowers_the_loss():
    """Fit W so that solve(W, B) = X* and log|det W| stays near 0 (llvm -> reference)."""
    rng = np.random.RandomState(6)
    w_true = well_conditioned(rng, (), 3, np.float32)
    rhs = rng.randn(3, 4).astype(np.float32)
    x_star = np.linalg.solve(w_true, rhs).astype(np.float32)
    tf.reset_default_graph()
    w = tf.Variable(np.eye(3, dtype=np.float32) * 2)
    x = tf.linalg.solve(w, tf.constant(rhs))
    loss = tf.reduce_mean(tf.square(x - x_star)) + 1e-3 * tf.square(tf.log(tf.abs(
        tf.linalg.det(w))))
    step = tf.train.AdamOptimizer(0.05).minimize(loss)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        first = s.run(loss)
        for _ in range(200):
            s.run(step)
        last = s.run(loss)
    assert last < 0.1 * first, (first, last)


def test_errors():
    with pytest.raises((GraphShapeError, ValueError)):
        tf.linalg.inv(tf.zeros([2, 3]))
    with pytest.raises((GraphShapeError, ValueError)):
        tf.linalg.solve(tf.zeros([3, 3]), tf.zeros([4, 2]))
    with pytest.raises((TypeError, ValueError)):
        tf.linalg.det(tf.zeros([3, 3], tf.int32))
    with pytest.raises(InvalidArgumentError, match="not invertible"):
        _run(tf.linalg.inv(tf.zeros([2, 2])), None, "reference")
    with pytest.raises(InvalidArgumentError, match="Cholesky"):
        _run(tf.cholesky(-tf.eye(2)), None, "reference")

