"""tf.train.SyncReplicasOptimizer in one process: with replicas_to_aggregate=N the wrapped
optimizer applies the mean of N accumulated gradients every N runs of train_op and
global_step advances only then (vs NumPy); its hook in MonitoredTrainingSession, variable
averages, the tokens/queue-runner API, threads sharing one Session; llvm and reference."""
import threading

import numpy as np
import pytest

import jitflow.compat.v1 as tf

W0 = np.array([1.0, -2.0, 3.0])


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


@pytest.fixture(params=["llvm", "reference"])
def backend(request):
    return request.param


def problem():
    x = tf.placeholder(tf.float32, [3], name="x")
    w = tf.Variable(W0.astype(np.float32), name="w")
    loss = tf.reduce_sum(tf.square(w - x)) + 0.5 * tf.reduce_sum(tf.square(w))
    return x, w, loss


def np_grad(w, x):
    return 2 * (w - x) + w


XS = np.random.RandomState(0).randn(12, 3).astype(np.float32)


def np_sync(n, apply, steps=12):
    """Per run: (w, global_step) after it. ``apply(w, mean_grad, t)`` is the wrapped update."""
    w, acc, cnt, t, out = W0.copy(), np.zeros(3), 0, 0, []
    for i in range(steps):
        acc += np_grad(w, XS[i].astype(np.float64))
        cnt += 1
        if cnt == n:
            t += 1
            w = apply(w, acc / n, t)
            acc, cnt = np.zeros(3), 0
        out.append((w.copy(), t))
    return out


def np_adam(lr):
    state = {"m": np.zeros(3), "v": np.zeros(3)}

    def apply(w, g, t):
        state["m"] += (g - state["m"]) * 0.1
        state["v"] += (g * g - state["v"]) * 0.001
        lr_t = lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        return w - lr_t * state["m"] / (np.sqrt(state["v"]) + 1e-8)
    return apply


@pytest.mark.parametrize("n", [1, 3])
def test_gradient_descent_applies_the_mean_every_n_runs(backend, n):
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1),
                                         replicas_to_aggregate=n)
    train = opt.minimize(loss, global_step=gstep)
    want = np_sync(n, lambda w, g, t: w - 0.1 * g)
    with tf.Session(backend=backend) as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        for i, (w_want, t_want) in enumerate(want):
            local = sess.run(train, {x: XS[i]})
            got_w, got_t = sess.run([w, gstep])
            np.testing.assert_allclose(got_w, w_want, rtol=1e-5, err_msg=f"run {i}")
            assert got_t == t_want and local == t_want


def test_adam_state_moves_only_on_apply(backend):
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    adam = tf.train.AdamOptimizer(0.1)
    opt = tf.train.SyncReplicasOptimizer(adam, replicas_to_aggregate=4, total_num_replicas=2)
    train = opt.apply_gradients(opt.compute_gradients(loss), global_step=gstep)
    assert opt.get_slot_names() == ["m", "v"] and opt.get_slot(w, "m") is adam.get_slot(w, "m")
    b1p = [v for v in opt.variables() if v.op.name == "beta1_power"][0]
    want = np_sync(4, np_adam(0.1))
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(opt.chief_init_op)            # initializes the local step and accumulators
        for i, (w_want, t_want) in enumerate(want):
            sess.run(train, {x: XS[i]})
            got_w, got_t, got_b1p = sess.run([w, gstep, b1p])
            np.testing.assert_allclose(got_w, w_want, rtol=1e-5, atol=1e-6, err_msg=f"run {i}")
            assert got_t == t_want
            np.testing.assert_allclose(got_b1p, 0.9 ** (t_want + 1), rtol=1e-6)


def test_hook_in_monitored_training_session(backend, monkeypatch):
    monkeypatch.setenv("JITFLOW_BACKEND", backend)
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.MomentumOptimizer(0.05, 0.9),
                                         replicas_to_aggregate=3)
    train = opt.minimize(loss, global_step=gstep)
    hooks = [opt.make_session_run_hook(is_chief=True, num_tokens=0),
             tf.train.StopAtStepHook(last_step=4)]
    acc = np.zeros(3)

    def momentum(w, g, t):
        acc[:] = acc * 0.9 + g
        return w - 0.05 * acc
    want = np_sync(3, momentum)
    runs = 0
    with tf.train.MonitoredTrainingSession(is_chief=True, hooks=hooks) as mon:
        while not mon.should_stop():
            mon.run(train, {x: XS[runs]})
            runs += 1
        raw = mon._sess
        got_w, got_t = raw.run([w, gstep])
    assert runs == 12 and got_t == 4            # 4 updates, each from 3 runs
    np.testing.assert_allclose(got_w, want[-1][0], rtol=1e-5)


def test_non_chief_hook_and_supervisor_style_init(backend):
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2)
    train = opt.minimize(loss, global_step=gstep)
    hook = opt.make_session_run_hook(is_chief=False)
    hook.begin()
    with tf.Session(backend=backend) as sess:
        with pytest.raises(RuntimeError, match="not make model ready for SyncReplicasOptimizer"
                                               ".*w"):
            hook.after_create_session(sess, None)
        sess.run(tf.global_variables_initializer())
        hook.after_create_session(sess, None)   # local_step_init_op: no local initializer run
        for i in range(4):
            sess.run(train, {x: XS[i]})
        np.testing.assert_allclose(sess.run(w), np_sync(2, lambda w, g, t: w - 0.1 * g)[3][0],
                                   rtol=1e-5)


def test_variable_averages_move_on_apply_only():
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    ema = tf.train.ExponentialMovingAverage(0.5)
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2,
                                         variable_averages=ema, variables_to_average=[w])
    train = opt.minimize(loss, global_step=gstep)
    want = np_sync(2, lambda w, g, t: w - 0.1 * g, steps=6)
    avg = W0.copy()
    with tf.Session(backend="reference") as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        for i in range(6):
            sess.run(train, {x: XS[i]})
            if i % 2 == 1:
                avg = avg - 0.5 * (avg - want[i][0])
            np.testing.assert_allclose(sess.run(ema.average(w)), avg, rtol=1e-5)


def test_threads_sharing_a_session_lose_no_gradient(backend):
    """3 threads x 5 runs of a linear loss (gradient = c): 5 updates of the mean, exactly."""
    w = tf.Variable(np.zeros(3, np.float32))
    c = np.array([1.0, 2.0, -1.0], np.float32)
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.5), 3)
    train = opt.minimize(tf.reduce_sum(w * c), global_step=gstep)
    with tf.Session(backend=backend) as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        sess.run(train)                     # compile once before the threads
        errors = []

        def worker():
            try:
                for _ in range(5):
                    sess.run(train)
            except Exception as e:          # pragma: no cover - reported below
                errors.append(e)
        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        sess.run(train)
        sess.run(train)                     # 1 + 15 + 2 = 18 runs: 6 updates
        assert sess.run(gstep) == 6
        np.testing.assert_allclose(sess.run(w), -0.5 * 6 * c, rtol=1e-6)


def test_tokens_queue_runner_and_errors():
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 3,
                                         total_num_replicas=1)
    with pytest.raises(ValueError, match="should be called after apply_gradients"):
        opt.get_init_tokens_op()
    with pytest.raises(ValueError, match="Should be called after apply_gradients"):
        opt.get_chief_queue_runner()
    with pytest.raises(ValueError, match="apply_gradient should be called before using the hook"):
        opt.make_session_run_hook(True).begin()
    with pytest.raises(ValueError, match="Global step is required to check staleness"):
        opt.minimize(loss)
    with pytest.raises(ValueError, match="Must supply at least one variable"):
        opt.apply_gradients([], global_step=gstep)
    train = opt.minimize(loss, global_step=gstep)
    with pytest.raises(ValueError, match=r"Too few tokens to finish the first step: 1 \(given\) "
                                         r"vs 2 \(needed\)"):
        opt.get_init_tokens_op(num_tokens=1)
    init_tokens = opt.get_init_tokens_op(num_tokens=2)
    qr = opt.get_chief_queue_runner()
    assert isinstance(qr, tf.train.QueueRunner)
    tf.train.add_queue_runner(qr)
    with tf.Session(backend="reference") as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        sess.run(init_tokens)
        coord = tf.train.Coordinator()
        assert tf.train.start_queue_runners(sess, coord) == []
        for i in range(3):
            sess.run(train, {x: XS[i]})
        assert sess.run(gstep) == 1
    with pytest.raises(ValueError, match="replicas_to_aggregate must be at least 1, got 0"):
        tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 0)


def test_data_parallel_trains_with_the_wrapped_optimizer():
    """DataParallel(mode="sync") over N replicas is the multi-replica SyncReplicas: given one,
    it trains exactly as with the optimizer the SyncReplicasOptimizer wraps."""
    from jitflow.distributed import DataParallel
    rng = np.random.default_rng(0)
    xd = rng.normal(size=(48, 4)).astype(np.float32)
    yd = (xd[:, 0] > 0).astype(np.int32)

    def fit(make_opt):
        with tf.Graph().as_default():
            tf.set_random_seed(1)
            X = tf.placeholder(tf.float32, [None, 4], name="X")
            y = tf.placeholder(tf.int32, [None], name="y")
            logits = tf.layers.dense(X, 2, name="logits")
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits,
                                                                                labels=y))
            with DataParallel(loss, make_opt(), inputs=(X, y), mode="sync", replicas=2) as dp:
                dp.fit(xd, yd, batch_size=8, epochs=1, verbose=0)
                return dp.get_variables()

    plain = fit(lambda: tf.train.GradientDescentOptimizer(0.3))
    synced = fit(lambda: tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.3),
                                                        replicas_to_aggregate=2))
    assert set(plain) == set(synced)
    for k in plain:
        np.testing.assert_allclose(synced[k], plain[k], rtol=1e-6, err_msg=k)
    X = tf.placeholder(tf.float32, [None, 4], name="X")
    w = tf.Variable(np.ones((4, 1), np.float32))
    loss = tf.reduce_sum(tf.matmul(X, w))
    with pytest.raises(ValueError, match="replicas_to_aggregate=3 gradients per update but "
                                         "there are 2 replicas"):
        DataParallel(loss, tf.train.SyncReplicasOptimizer(
            tf.train.GradientDescentOptimizer(0.1), 3), inputs=(X,), replicas=2)
    with pytest.raises(ValueError, match="use mode='sync'"):
        DataParallel(loss, tf.train.SyncReplicasOptimizer(
            tf.train.GradientDescentOptimizer(0.1), 2), inputs=(X,), replicas=2, mode="async")


def test_supervisor_as_the_tf1_replica_tutorial_uses_it(tmp_path):
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2,
                                         total_num_replicas=2)
    train = opt.minimize(loss, global_step=gstep)
    init_tokens, chief_qr = opt.get_init_tokens_op(), opt.get_chief_queue_runner()
    sv = tf.train.Supervisor(is_chief=True, logdir=str(tmp_path),
                             init_op=tf.global_variables_initializer(),
                             local_init_op=opt.chief_init_op,
                             ready_for_local_init_op=opt.ready_for_local_init_op,
                             recovery_wait_secs=1, global_step=gstep, save_model_secs=0)
    sess = sv.prepare_or_wait_for_session()
    sess.run(init_tokens)
    assert sv.start_queue_runners(sess, [chief_qr]) == []
    runs, step = 0, 0
    while step < 3:
        _, step = sess.run([train, gstep], {x: XS[runs]})   # gstep: its value before the run
        runs += 1
    sv.stop()
    assert runs == 7                       # 3 updates of 2 runs each, seen one run late
    np.testing.assert_allclose(sess.run(w), np_sync(2, lambda w, g, t: w - 0.1 * g)[6][0],
                               rtol=1e-5)


def test_accumulators_are_not_checkpointed(tmp_path):
    """A restored model starts with empty accumulators (TF's are not variables): 5 runs of
    N=2 leave one pending gradient, which the checkpoint does not keep."""
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2)
    train = opt.minimize(loss, global_step=gstep)
    saver = tf.train.Saver()
    assert not any("grad_accum" in v.op.name or "sync_rep" in v.op.name
                   for v in tf.global_variables())
    with tf.Session(backend="reference") as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        for i in range(5):
            sess.run(train, {x: XS[i]})
        path = saver.save(sess, str(tmp_path / "m.ckpt"))
        w_saved = sess.run(w)
    with tf.Session(backend="reference") as sess:
        saver.restore(sess, path)
        sess.run(tf.local_variables_initializer())
        assert sess.run(gstep) == 2
        sess.run(train, {x: XS[5]})
        np.testing.assert_allclose(sess.run(w), w_saved, rtol=1e-6)    # 1 of 2: no update
        sess.run(train, {x: XS[6]})
        g = (np_grad(w_saved.astype(np.float64), XS[5]) + np_grad(w_saved, XS[6])) / 2
        np.testing.assert_allclose(sess.run(w), w_saved - 0.1 * g, rtol=1e-5)
        assert sess.run(gstep) == 3


def test_update_ops_the_step_depends_on_run_every_step(backend):
    """``with control_dependencies(update_ops): minimize(...)`` (batch norm's pattern): the
    update ops run every run, the wrapped optimizer's update every N."""
    x, w, loss = problem()
    gstep = tf.train.get_or_create_global_step()
    seen = tf.Variable(0.0, trainable=False, name="seen")
    opt = tf.train.SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), 2)
    with tf.control_dependencies([tf.assign_add(seen, 1.0)]):
        train = opt.minimize(loss, global_step=gstep)
    want = np_sync(2, lambda w, g, t: w - 0.1 * g)
    with tf.Session(backend=backend) as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        for i in range(5):
            sess.run(train, {x: XS[i]})
            assert sess.run(seen) == i + 1
            np.testing.assert_allclose(sess.run(w), want[i][0], rtol=1e-5)
