"""jitflow.distributed on Ray (one local Ray session shared by the module): sync and async
with two parameter-server shards, a killed worker in each mode, a hung worker, checkpoint and
resume. The graph reaches the actors as meta-graph JSON and each compiles it itself."""
import time

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import jitflow.compat.v1 as tf  # noqa: E402
from jitflow.distributed import (DataParallel, WorkerFailedError,  # noqa: E402
                                 WorkerTimeoutError)


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    yield
    if started:
        ray.shutdown()


def build(seed=1):
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    X = tf.placeholder(tf.float32, [None, 20], name="X")
    y = tf.placeholder(tf.int32, [None], name="y")
    h = tf.layers.dense(X, 16, activation=tf.nn.relu, name="hidden")
    logits = tf.layers.dense(h, 3, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    acc = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
    return X, y, loss, acc


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 20)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.8)).astype(np.int32)
    return x, y


def local_reference(epochs=2, batch=40, opt=lambda: tf.train.AdamOptimizer(0.01)):
    X, y, loss, _ = build()
    xd, yd = data()
    with DataParallel(loss, opt(), inputs=(X, y), replicas=1) as dp:
        dp.fit(xd, yd, batch_size=batch, epochs=epochs, verbose=0)
        return dp.get_variables()


def test_ray_sync_two_shards_equals_one_local_replica():
    """2 Ray workers x batch 20 with the variables on 2 parameter-server shards give the
    parameters and Adam state of 1 local replica x batch 40."""
    ref = local_reference()
    X, y, loss, acc = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.AdamOptimizer(0.01), inputs=(X, y), replicas=2,
                      engine="ray", num_ps=2, metrics={"accuracy": acc}) as dp:
        assert len(dp.shards) == 2 and all(dp.shards)
        hist = dp.fit(xd, yd, batch_size=20, epochs=2, verbose=0)
        got = dp.get_variables()
        st = dp.stats()
        assert [s["applied"] for s in st["shards"]] == [12, 12]
        assert hist[-1]["updates"] == 6 and hist[-1]["staleness_max"] == 0
        assert set(dp.evaluate(xd, yd)) == {"loss", "accuracy"}
        pids = {ray.get(w.pid.remote()) for w in dp.workers.values()}
        assert len(pids) == 2
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_ray_workers_run_update_ops_and_their_statistics_are_averaged():
    """Batch norm on the input over 2 Ray workers: the averaged moving mean is the EMA of the
    whole batches' means (see the local engine's test)."""
    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, [None, 20], name="X")
    y = tf.placeholder(tf.int32, [None], name="y")
    xn = tf.layers.batch_normalization(X, training=True, momentum=0.9, name="bn_in")
    logits = tf.layers.dense(xn, 3, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y))
    xd, yd = data()
    with DataParallel(loss, tf.train.GradientDescentOptimizer(0.1), inputs=(X, y), replicas=2,
                      engine="ray") as dp:
        dp.fit(xd, yd, batch_size=30, epochs=1, verbose=0)
        got = dp.get_variables()["bn_in/moving_mean"]
    mean = np.zeros(20)
    order = np.random.default_rng([0, 0]).permutation(len(xd))
    for i in range(0, len(xd), 60):
        mean = 0.9 * mean + 0.1 * xd[order[i:i + 60]].mean(axis=0)
    np.testing.assert_allclose(got, mean, rtol=1e-4, atol=1e-5)


def test_ray_async_no_push_lost_staleness_and_killed_worker_replaced():
    """Async on Ray: a worker killed mid-training (ray.kill) is replaced, its batch requeued,
    training finishes with every shard having applied every push it received, finite
    parameters, and the staleness measured."""
    X, y, loss, acc = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.AdamOptimizer(0.01), inputs=(X, y), mode="async",
                      replicas=2, engine="ray", num_ps=2, simulate_delay=[0.0, 0.02],
                      metrics={"accuracy": acc}) as dp:
        killed = []

        def on_step(rec):
            if rec["version"] >= 6 and not killed:
                killed.append(rec["version"])
                ray.kill(dp.workers[1])
        hist = dp.fit(xd, yd, batch_size=20, epochs=2, verbose=0, on_step=on_step)
        st = dp.stats()
        for s in st["shards"]:
            assert s["pushes"] == s["applied"]
            # every batch applied; the killed worker's batch at most twice (if it died
            # between pushing and answering)
            assert 24 <= s["applied"] <= 25
        assert sum(h["images"] for h in hist) == 2 * len(xd)
        assert [e["event"] for e in dp.events] == ["died", "replaced"]
        assert any(r["staleness"] > 0 for r in dp.steps)
        assert hist[-1]["staleness_mean"] >= 0
        vals = dp.get_variables()
        assert all(np.isfinite(v).all() for v in vals.values())
        assert dp.evaluate(xd, yd)["loss"] < hist[0]["loss"] + 0.5


def test_ray_async_counts_without_faults():
    X, y, loss, _ = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.GradientDescentOptimizer(0.1), inputs=(X, y), mode="async",
                      replicas=2, engine="ray") as dp:
        hist = dp.fit(xd, yd, batch_size=20, epochs=1, verbose=0)
        st = dp.stats()
        assert st["pushes"] == st["applied"] == hist[0]["updates"] == len(dp.steps) == 12
        assert {r["rank"] for r in dp.steps} <= {0, 1}


def _kill_and_wait(actor, timeout: float = 10.0) -> None:
    """``ray.kill`` returns before the actor is gone; wait until a call to it fails."""
    ray.kill(actor)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            ray.get(actor.pid.remote(), timeout=1.0)
        except Exception:  # noqa: BLE001 - RayActorError (or a timeout): it is gone
            return
        time.sleep(0.05)
    raise AssertionError("the killed Ray actor still answers")


def test_ray_sync_killed_worker_errors_clearly_without_hanging():
    X, y, loss, _ = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.GradientDescentOptimizer(0.1), inputs=(X, y), replicas=2,
                      engine="ray", step_timeout=20.0) as dp:
        def on_step(rec):
            if rec["version"] == 2:
                _kill_and_wait(dp.workers[1])    # dead before step 3 starts, however loaded
        t0 = time.perf_counter()
        with pytest.raises(WorkerFailedError, match=r"replica\(s\) \[1\] died") as ei:
            dp.fit(xd, yd, batch_size=20, epochs=1, verbose=0, on_step=on_step)
        assert time.perf_counter() - t0 < 15
        assert ei.value.ranks == [1]
        assert dp.stats()["version"] == 2      # nothing of the failed step was applied
        assert all(np.isfinite(v).all() for v in dp.get_variables().values())


def test_ray_sync_hung_worker_times_out_and_drop_goes_on():
    X, y, loss, _ = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.GradientDescentOptimizer(0.1), inputs=(X, y), replicas=2,
                      engine="ray", simulate_delay=[0.0, 60.0], step_timeout=2.0) as dp:
        t0 = time.perf_counter()
        with pytest.raises(WorkerTimeoutError, match="step_timeout"):
            dp.fit(xd, yd, batch_size=20, epochs=1, verbose=0)
        assert time.perf_counter() - t0 < 10
    with DataParallel(loss, tf.train.GradientDescentOptimizer(0.1), inputs=(X, y), replicas=2,
                      engine="ray", simulate_delay=[0.0, 60.0], step_timeout=2.0,
                      on_worker_failure="drop") as dp:
        hist = dp.fit(xd, yd, batch_size=20, epochs=1, verbose=0)
        assert hist[0]["replicas"] == 1 and hist[0]["images"] == len(xd)
        assert [e["event"] for e in dp.events] == ["timed out", "dropped"]


def test_ray_checkpoint_and_resume(tmp_path):
    """Save the parameter servers' state (a Saver checkpoint), start new actors from it and
    go on: equal to uninterrupted training; the checkpoint also restores into a Session."""
    ref = local_reference(epochs=3)
    X, y, loss, _ = build()
    xd, yd = data()
    with DataParallel(loss, tf.train.AdamOptimizer(0.01), inputs=(X, y), replicas=2,
                      engine="ray", num_ps=2) as dp:
        dp.fit(xd, yd, batch_size=20, epochs=2, verbose=0)
        path = dp.save(str(tmp_path / "ps.ckpt"))
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, path)
        assert sess.run(tf.trainable_variables()[0]).any()
    X, y, loss, _ = build()
    with DataParallel(loss, tf.train.AdamOptimizer(0.01), inputs=(X, y), replicas=2,
                      engine="ray", num_ps=2) as dp:
        dp.restore(path)
        dp.fit(xd, yd, batch_size=20, epochs=3, initial_epoch=2, verbose=0)
        got = dp.get_variables()
    for k in ref:
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-6, err_msg=k)
