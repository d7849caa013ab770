"""ops/linalg_decomp.py: matrix_triangular_solve, self_adjoint_eig, svd, qr,
log_matrix_determinant, matrix_exponential (tf.linalg.triangular_solve/eigh/eigvalsh/svd/qr/
slogdet/expm and their TF1 names) and the frontend compositions logdet, lstsq/matrix_solve_ls,
cholesky_solve, trace, set_diag, norm(ord=2) of matrices: values against SciPy on batched
random matrices (hypothesis), decompositions by their defining properties, gradients against
central finite differences in float64 (sign-invariant losses for eigenvectors and singular
vectors), the llvm/cuda placement on the host, and a training run."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients
from jitflow.errors import GraphShapeError, InvalidArgumentError
from test_linalg_solve import spd, well_conditioned

TOL = {np.float32: dict(rtol=2e-4, atol=5e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
GRAD_TOL = dict(rtol=1e-5, atol=1e-7)
cases = st.tuples(st.sampled_from([(), (2,)]), st.integers(1, 4), st.integers(1, 4),
                  st.sampled_from([np.float32, np.float64]), st.integers(0, 2 ** 16))


def _run(fetches, feed=None, backend="reference"):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


def _per_matrix(fn, *arrays):
    """fn applied to each matrix of the batch (SciPy's routines take one matrix)."""
    batch = arrays[0].shape[:-2]
    out = [fn(*(a[i] for a in arrays)) for i in np.ndindex(*batch)]
    return np.asarray(out).reshape(batch + np.shape(out[0]))


def _mt(x):
    return np.swapaxes(x, -1, -2)


def _eye_like(x):
    return np.broadcast_to(np.eye(x.shape[-1]), x.shape[:-2] + (x.shape[-1],) * 2)


@settings(max_examples=10, deadline=None)
@given(cases)
def test_svd_and_qr_values(case):
    batch, m, n, dt, seed = case
    a = np.random.RandomState(seed).randn(*batch, m, n).astype(dt)
    k = min(m, n)
    tf.reset_default_graph()
    x = tf.placeholder(tf.as_dtype(dt), a.shape)
    s, u, v = tf.linalg.svd(x)
    sf, uf, vf = tf.svd(x, full_matrices=True)
    q, r = tf.linalg.qr(x)
    qf, rf = tf.qr(x, full_matrices=True)
    outs = [s, u, v, sf, uf, vf, tf.svd(x, compute_uv=False), q, r, qf, rf]
    got = _run(outs, {x: a})
    assert [o.shape.as_list() for o in outs] == [list(g.shape) for g in got]
    s_, u_, v_, sf_, uf_, vf_, s_only, q_, r_, qf_, rf_ = got
    assert all(g.dtype == dt for g in got)
    assert u_.shape[-2:] == (m, k) and v_.shape[-2:] == (n, k) and uf_.shape[-2:] == (m, m)
    assert vf_.shape[-2:] == (n, n) and q_.shape[-2:] == (m, k) and rf_.shape[-2:] == (m, n)
    want_s = _per_matrix(sla.svdvals, a.astype(np.float64))
    for sv in (s_, sf_, s_only):
        np.testing.assert_allclose(sv, want_s, **TOL[dt])
    tol = {np.float32: dict(atol=2e-5), np.float64: dict(atol=1e-12)}[dt]
    np.testing.assert_allclose((u_ * s_[..., None, :]) @ _mt(v_), a, **tol)   # v, not v^T
    for orth in (u_, v_, uf_, vf_, q_, qf_):
        np.testing.assert_allclose(_mt(orth) @ orth, _eye_like(_mt(orth) @ orth), **tol)
    for qq, rr in ((q_, r_), (qf_, rf_)):
        np.testing.assert_allclose(qq @ rr, a, **tol)
        assert np.all(np.tril(rr, -1) == 0)


@settings(max_examples=10, deadline=None)
@given(cases)
def test_eigh_slogdet_logdet_trace_set_diag_values(case):
    batch, n, m, dt, seed = case
    rng = np.random.RandomState(seed)
    h = rng.randn(*batch, n, n)
    sym = (h + _mt(h)).astype(dt)
    lower_only = np.tril(sym) + np.triu(rng.randn(*batch, n, n), 1).astype(dt)
    a, p = well_conditioned(rng, batch, n, dt), spd(rng, batch, n, dt)
    rect, d = rng.randn(*batch, n, m).astype(dt), rng.randn(*batch, min(n, m)).astype(dt)
    tf.reset_default_graph()
    ph = [tf.placeholder(tf.as_dtype(dt), v.shape) for v in (lower_only, a, p, rect, d)]
    e, v = tf.linalg.eigh(ph[0])
    sign, logabs = tf.linalg.slogdet(ph[1])
    outs = [e, v, tf.self_adjoint_eigvals(ph[0]), tf.linalg.eigvalsh(ph[0]), sign, logabs,
            tf.linalg.logdet(ph[2]), tf.trace(ph[3]), tf.linalg.set_diag(ph[3], ph[4]),
            tf.linalg.diag_part(ph[3])]
    got = _run(outs, dict(zip(ph, (lower_only, a, p, rect, d))))
    e_, v_, ev1, ev2, sign_, logabs_, logdet_, tr_, sd_, dp_ = got
    np.testing.assert_array_equal(dp_, np.diagonal(rect, axis1=-2, axis2=-1))
    assert all(g.dtype == dt for g in got)
    want_e = _per_matrix(sla.eigvalsh, sym.astype(np.float64))   # only the lower triangle
    for ev in (e_, ev1, ev2):
        np.testing.assert_allclose(ev, want_e, **TOL[dt])
    tol = {np.float32: dict(atol=5e-5), np.float64: dict(atol=1e-11)}[dt]
    np.testing.assert_allclose((v_ * e_[..., None, :]) @ _mt(v_), sym, **tol)
    det = _per_matrix(sla.det, a.astype(np.float64))
    np.testing.assert_allclose(sign_, np.sign(det))
    np.testing.assert_allclose(logabs_, np.log(np.abs(det)), **tol)
    np.testing.assert_allclose(logdet_, np.log(_per_matrix(sla.det, p.astype(np.float64))),
                               **TOL[dt])
    np.testing.assert_allclose(tr_, np.trace(rect, axis1=-2, axis2=-1), **TOL[dt])
    want_sd = rect.copy()
    idx = np.arange(min(n, m))
    want_sd[..., idx, idx] = d
    np.testing.assert_array_equal(sd_, want_sd)


@pytest.mark.parametrize("lower,adjoint", list(itertools.product([True, False], repeat=2)))
def test_triangular_solve_values_read_only_their_triangle(lower, adjoint):
    rng = np.random.RandomState(1)
    a = rng.randn(2, 3, 4, 4) + 4 * np.eye(4)
    rhs = rng.randn(2, 3, 4, 2)
    tf.reset_default_graph()
    x = tf.linalg.triangular_solve(tf.constant(a), tf.constant(rhs), lower=lower,
                                   adjoint=adjoint)
    assert x.shape.as_list() == [2, 3, 4, 2]
    got = _run(x)
    tri = np.tril(a) if lower else np.triu(a)   # SciPy ignores the other triangle too
    want = _per_matrix(lambda t, b: sla.solve_triangular(t, b, lower=lower,
                                                         trans=1 if adjoint else 0), tri, rhs)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert tf.matrix_triangular_solve is tf.linalg.triangular_solve


@pytest.mark.parametrize("m,n", [(5, 3), (3, 3), (2, 4)])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_lstsq_values(m, n, reg):
    rng = np.random.RandomState(m * 10 + n)
    a, b = rng.randn(2, m, n), rng.randn(2, m, 3)
    tf.reset_default_graph()
    outs = [tf.linalg.lstsq(tf.constant(a), tf.constant(b), l2_regularizer=reg),
            tf.matrix_solve_ls(tf.constant(a), tf.constant(b), fast=False)]
    fast, robust = _run(outs)
    if m >= n:   # the regularized normal equations, as TF's fast path
        want = np.linalg.solve(_mt(a) @ a + reg * np.eye(n), _mt(a) @ b)
    else:
        want = _mt(a) @ np.linalg.solve(a @ _mt(a) + reg * np.eye(m), b)
    np.testing.assert_allclose(fast, want, rtol=1e-9, atol=1e-11)
    min_norm = _per_matrix(lambda x, y: sla.lstsq(x, y)[0], a, b)
    np.testing.assert_allclose(robust, min_norm, rtol=1e-9, atol=1e-11)
    if reg == 0.0:
        np.testing.assert_allclose(fast, min_norm, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_expm_and_spectral_norm_values(dt):
    rng = np.random.RandomState(8)
    a, x = (0.7 * rng.randn(2, 3, 3)).astype(dt), rng.randn(2, 4, 3, 5).astype(dt)
    tf.reset_default_graph()
    outs = [tf.linalg.expm(tf.constant(a)), tf.norm(tf.constant(x), ord=2, axis=[1, 3]),
            tf.linalg.norm(tf.constant(x), ord=2, axis=(-1, 1), keepdims=True)]
    got = _run(outs)
    assert all(g.dtype == dt for g in got) and got[2].shape == (2, 1, 3, 1)
    np.testing.assert_allclose(got[0], _per_matrix(sla.expm, a.astype(np.float64)), **TOL[dt])
    spectral = np.linalg.norm(np.moveaxis(x.astype(np.float64), 2, 1), ord=2, axis=(-2, -1))
    np.testing.assert_allclose(got[1], spectral, **TOL[dt])
    np.testing.assert_allclose(got[2][:, 0, :, 0], spectral, **TOL[dt])


def test_expm_and_spectral_norm_gradients():
    rng = np.random.RandomState(9)
    check_gradients(lambda x: tf.linalg.expm(x), [0.7 * rng.randn(2, 3, 3)], **GRAD_TOL)
    check_gradients(lambda x: tf.norm(x, ord=2, axis=[-2, -1]),
                    [_with_singular_values(rng, (2,), 4, 3)], **GRAD_TOL)


def test_tf_names_are_the_same_functions():
    assert tf.linalg.eigh is tf.self_adjoint_eig and tf.linalg.svd is tf.svd
    assert tf.linalg.eigvalsh is tf.self_adjoint_eigvals and tf.linalg.qr is tf.qr
    assert tf.linalg.lstsq is tf.matrix_solve_ls and tf.linalg.trace is tf.trace
    assert tf.linalg.set_diag is tf.matrix_set_diag
    assert tf.linalg.diag_part is tf.matrix_diag_part
    assert tf.linalg.matrix_transpose is tf.matrix_transpose is tf.linalg.adjoint
    assert tf.linalg.cholesky_solve is tf.cholesky_solve


def _sym(x):
    return 0.5 * (x + tf.linalg.adjoint(x))


@pytest.mark.parametrize("lower,adjoint", list(itertools.product([True, False], repeat=2)))
def test_triangular_solve_gradient(lower, adjoint):
    rng = np.random.RandomState(2)
    a, rhs = rng.randn(2, 3, 3) + 3 * np.eye(3), rng.randn(2, 3, 2)
    check_gradients(lambda x, y: tf.matrix_triangular_solve(x, y, lower=lower,
                                                            adjoint=adjoint),
                    [a, rhs], **GRAD_TOL)


def _distinct_spectrum(rng, batch, n, lo=1.0, hi=4.0):
    """A symmetric matrix with eigenvalues spread evenly over [lo, hi] (well separated)."""
    q = np.linalg.qr(rng.randn(*batch, n, n))[0]
    return (q * np.linspace(lo, hi, n)) @ _mt(q)


@pytest.mark.parametrize("part", ["values", "vectors", "eigvalsh"])
@pytest.mark.parametrize("symmetrize", [True, False])
def test_eigh_gradient(part, symmetrize):
    """Of eigh(sym(x)), and of eigh(x) itself: the op reads only the lower triangle and TF's
    gradient is lower triangular (an off-diagonal entry moves both of its symmetric pair);
    eigenvectors through v*v (invariant under each column's sign)."""
    rng = np.random.RandomState(3)
    a = _distinct_spectrum(rng, (2,), 4, -2.0, 3.0)
    sym = _sym if symmetrize else (lambda x: x)
    fns = {"values": lambda x: tf.linalg.eigh(sym(x))[0],
           "vectors": lambda x: tf.square(tf.self_adjoint_eig(sym(x))[1]),
           "eigvalsh": lambda x: tf.linalg.eigvalsh(sym(x))}
    check_gradients(fns[part], [a], **GRAD_TOL)


def _with_singular_values(rng, batch, m, n):
    """[*batch, m, n] with well-separated singular values in [1, 3]."""
    k = min(m, n)
    u = np.linalg.qr(rng.randn(*batch, m, k))[0]
    v = np.linalg.qr(rng.randn(*batch, n, k))[0]
    return (u * np.linspace(1.0, 3.0, k)) @ _mt(v)


@pytest.mark.parametrize("m,n", [(3, 3), (4, 3), (3, 4)])
@pytest.mark.parametrize("full", [False, True])
def test_svd_gradient(m, n, full):
    """s, u*u and v*v (sign invariant) of A = U S V^T: TF's formula against differences;
    with full_matrices the extra columns (|m - n| = 1) are unique up to sign too."""
    a = _with_singular_values(np.random.RandomState(m + 7 * n), (2,), m, n)

    def fn(x):
        s, u, v = tf.linalg.svd(x, full_matrices=full)
        return tf.concat([tf.reshape(s, [2, -1]), tf.reshape(tf.square(u), [2, -1]),
                          tf.reshape(tf.square(v), [2, -1])], axis=1)
    check_gradients(fn, [a], **GRAD_TOL)


@pytest.mark.parametrize("m,n", [(3, 3), (4, 3), (3, 5)])
def test_singular_values_gradient(m, n):
    a = _with_singular_values(np.random.RandomState(m * n), (2,), m, n)
    check_gradients(lambda x: tf.svd(x, compute_uv=False), [a], **GRAD_TOL)


@pytest.mark.parametrize("m,n", [(3, 3), (5, 3), (3, 5)])
def test_qr_gradient(m, n):
    a = well_conditioned(np.random.RandomState(m + n), (), max(m, n), np.float64)[:m, :n]

    def fn(x):
        q, r = tf.linalg.qr(x)
        return tf.concat([tf.reshape(q, [-1]), tf.reshape(r, [-1])], axis=0)
    check_gradients(fn, [a + 0.1], **GRAD_TOL)


def test_slogdet_logdet_lstsq_trace_set_diag_gradients():
    rng = np.random.RandomState(4)
    a, p = well_conditioned(rng, (2,), 3, np.float64), spd(rng, (2,), 3, np.float64)
    a *= np.array([1.0, -1.0])[:, None, None]     # one negative determinant
    check_gradients(lambda x: tf.linalg.slogdet(x)[1], [a], **GRAD_TOL)
    check_gradients(lambda x: tf.linalg.logdet(_sym(x)), [p], **GRAD_TOL)
    for m, n in ((4, 3), (2, 3)):
        mat, rhs = rng.randn(m, n), rng.randn(m, 2)
        check_gradients(lambda x, y: tf.linalg.lstsq(x, y, l2_regularizer=0.3), [mat, rhs],
                        **GRAD_TOL)
        check_gradients(lambda x, y: tf.linalg.lstsq(x, y, fast=False), [mat, rhs],
                        **GRAD_TOL)
    check_gradients(lambda x: tf.trace(x), [rng.randn(2, 3, 4)], **GRAD_TOL)
    check_gradients(lambda x, d: tf.linalg.set_diag(x, d), [rng.randn(4, 3), rng.randn(3)],
                    **GRAD_TOL)
    check_gradients(lambda x: tf.matrix_diag_part(x), [rng.randn(2, 3, 5)], **GRAD_TOL)


DECOMP = {"matrix_triangular_solve", "self_adjoint_eig", "svd", "qr",
          "log_matrix_determinant", "matrix_exponential"}


@pytest.mark.parametrize("backend", ["llvm", "cuda"])
def test_native_backends_run_them_on_the_host_and_values_match_the_reference(backend):
    """No native kernel: the Session places the decompositions (and their gradients'
    solves) on the host device; the rest of the graph stays native. Values and gradients
    equal the all-reference run."""
    if backend == "cuda":
        from _cuda_util import usable_or_skip
        usable_or_skip()
    from jitflow.runtime import compile as compile_mod
    from test_linalg_solve import _segments
    rng = np.random.RandomState(5)
    a = _with_singular_values(rng, (3,), 4, 3).astype(np.float32)
    sq = _distinct_spectrum(rng, (3,), 3).astype(np.float32)
    tf.reset_default_graph()
    ta, ts = tf.placeholder(tf.float32, a.shape), tf.placeholder(tf.float32, sq.shape)
    s, u, v = tf.linalg.svd(ta)
    q, r = tf.linalg.qr(ta)
    e, vec = tf.linalg.eigh(ts)
    outs = [s, tf.square(u), tf.square(vec), e, q, r, tf.linalg.slogdet(ts)[1],
            tf.linalg.triangular_solve(ts, tf.tanh(ta[..., :3, :])), tf.linalg.expm(ts * 0.3)]
    loss = tf.add_n([tf.reduce_sum(tf.tanh(o)) for o in outs])
    grads = tf.gradients(loss, [ta, ts])
    feed = {ta: a, ts: sq}
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
    assert DECOMP <= host and not (DECOMP & native), segs
    want = _run(outs + grads, feed, "reference")
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_errors():
    with pytest.raises((GraphShapeError, ValueError)):
        tf.linalg.triangular_solve(tf.zeros([3, 3]), tf.zeros([4, 2]))
    with pytest.raises((GraphShapeError, ValueError)):
        tf.linalg.eigh(tf.zeros([2, 3]))
    with pytest.raises((GraphShapeError, ValueError)):
        tf.linalg.svd(tf.zeros([3]))
    with pytest.raises((TypeError, ValueError)):
        tf.linalg.qr(tf.zeros([3, 3], tf.int32))
    with pytest.raises(ValueError, match="min of the matrix dims"):
        tf.linalg.set_diag(tf.zeros([3, 4]), tf.zeros([4]))
    with pytest.raises(InvalidArgumentError, match="not invertible"):
        _run(tf.linalg.triangular_solve(tf.constant([[1.0, 0.0], [2.0, 0.0]]), tf.ones([2, 1])))


def test_training_singular_values_and_eigenvalues_to_targets_lowers_the_loss():
    """Fit W so that its singular values and the eigenvalues of W + W^T hit targets (llvm,
    the decompositions on the host)."""
    rng = np.random.RandomState(10)
    tf.reset_default_graph()
    w = tf.Variable(rng.randn(3, 3).astype(np.float32))
    s = tf.svd(w, compute_uv=False)
    e = tf.linalg.eigvalsh(w + tf.transpose(w))
    loss = tf.reduce_sum(tf.square(s - [3.0, 2.0, 1.0])) + \
        0.1 * tf.reduce_sum(tf.square(e - [-1.0, 2.0, 5.0]))
    step = tf.train.AdamOptimizer(0.05).minimize(loss)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(300):
            sess.run(step)
        last = sess.run(loss)
    assert last < 0.05 * first, (first, last)
