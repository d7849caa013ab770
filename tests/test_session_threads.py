"""Session.run from several Python threads (TF1's Session is thread-safe; Hogwild-style
training from threads is a documented TF1 pattern): no update may be lost whole, runs that only
read proceed, and a signature missed by two threads at once compiles once."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from _cuda_util import usable_or_skip   # (selects the CUDA simulator before numba.cuda loads)
import jitflow.compat.v1 as tf
from jitflow.runtime import compile as compile_mod

OPTIMIZERS = {
    "sgd": lambda: tf.train.GradientDescentOptimizer(1.0),
    "momentum": lambda: tf.train.MomentumOptimizer(0.1, 0.9),
    "adam": lambda: tf.train.AdamOptimizer(0.01),
    "rmsprop": lambda: tf.train.RMSPropOptimizer(0.01),
    "adagrad": lambda: tf.train.AdagradOptimizer(0.1),
}


def _model(opt_name: str):
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable([0.0, 1.0, 2.0], name="v")
        step = tf.train.get_or_create_global_step()
        loss = tf.reduce_sum(v * tf.constant([1.0, 2.0, 3.0]))   # a constant gradient
        train = OPTIMIZERS[opt_name]().minimize(loss, global_step=step)
        init = tf.global_variables_initializer()
    return g, v, step, train, init


def _run_threads(n_threads: int, fn, *others) -> None:
    """Run ``fn`` on ``n_threads`` threads (and each of ``others`` on one more), started
    together; re-raise the first error."""
    errors: list = []
    fns = [fn] * n_threads + list(others)
    start = threading.Barrier(len(fns))

    def body(work) -> None:
        try:
            start.wait()
            work()
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=body, args=(work,)) for work in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _sequential(opt_name: str, steps: int, backend: str) -> np.ndarray:
    g, v, _, train, init = _model(opt_name)
    with tf.Session(graph=g, backend=backend) as sess:
        sess.run(init)
        for _ in range(steps):
            sess.run(train)
        return sess.run(v)


CASES = [("llvm", 4, 250), ("reference", 4, 60)]


@pytest.mark.parametrize("backend,n_threads,steps", CASES)
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("fetch_v", [False, True], ids=["train", "train+v"])
def test_concurrent_training_steps_lose_no_update(backend, n_threads, steps, opt_name, fetch_v):
    g, v, step, train, init = _model(opt_name)
    fetches = [train, v] if fetch_v else train
    with tf.Session(graph=g, backend=backend) as sess:
        sess.run(init)
        _run_threads(n_threads, lambda: [sess.run(fetches) for _ in range(steps)])
        got, got_step = sess.run([v, step])
    total = n_threads * steps
    assert got_step == total
    # every update is the same function of the state, so N atomic updates in any order end
    # where N sequential ones do
    np.testing.assert_allclose(got, _sequential(opt_name, total, backend), rtol=1e-5, atol=1e-5)
    if opt_name == "sgd":
        np.testing.assert_allclose(got, [0.0 - total, 1.0 - 2 * total, 2.0 - 3 * total])


def test_concurrent_updates_through_different_executables():
    """Two different runs assigning the same variable (a train op and an assign_add) share
    the variable's lock."""
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(0.0)
        train = tf.train.GradientDescentOptimizer(1.0).minimize(v * 1.0)   # v -= 1
        bump = tf.assign_add(v, 2.0)                                       # v += 2
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        ops = iter([train, bump] * 2)
        picks = [next(ops) for _ in range(4)]
        lock = threading.Lock()

        def work() -> None:
            with lock:
                op = picks.pop()
            for _ in range(300):
                sess.run(op)

        _run_threads(4, work)
        assert sess.run(v) == pytest.approx(2 * 300 * (2.0 - 1.0))


def test_reads_run_beside_writers_and_see_whole_values():
    g, v, step, train, init = _model("sgd")
    with g.as_default():
        doubled = v * 2.0
    with tf.Session(graph=g) as sess:
        sess.run(init)
        seen: list = []

        def reader() -> None:
            for _ in range(200):
                seen.append(sess.run(doubled))

        def writer() -> None:
            for _ in range(200):
                sess.run(train)

        _run_threads(2, writer, reader, reader)
        assert sess.run(step) == 400
        assert len(seen) == 400
        for r in seen:
            assert r.shape == (3,) and np.all(np.isfinite(r))


def test_a_signature_missed_by_two_threads_compiles_once():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.reduce_sum(tf.tanh(x) * 3.0, axis=1)
    events: list = []
    compile_mod.COMPILE_HOOKS.append(events.append)
    try:
        with tf.Session(graph=g) as sess:
            feed = {x: np.ones((4, 3), np.float32)}
            _run_threads(4, lambda: sess.run(y, feed))
    finally:
        compile_mod.COMPILE_HOOKS.remove(events.append)
    assert len(events) == 1


def test_concurrent_training_on_the_cuda_simulator():
    usable_or_skip()
    g, v, step, train, init = _model("sgd")
    with tf.Session(graph=g, backend="cuda") as sess:
        sess.run(init)
        _run_threads(3, lambda: [sess.run([train, v]) for _ in range(15)])
        got, got_step = sess.run([v, step])
    assert got_step == 45
    np.testing.assert_allclose(got, [-45.0, 1.0 - 90.0, 2.0 - 135.0])
