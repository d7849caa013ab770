"""MonitoredTrainingSession, hooks, Scaffold, SingularMonitoredSession and Supervisor:
checkpoint, resume, stop, summaries and the hook protocol."""
import glob
import os

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def fresh_default_graph():
    """A MonitoredSession finalizes its graph (as TF's does): the next test in this worker
    gets a new default graph, not a finalized one."""
    yield
    tf.reset_default_graph()


def build(lr=0.1):
    tf.reset_default_graph()
    gs = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([1, 1]), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss, global_step=gs)
    return gs, x, y, w, loss, train


XS = np.ones((4, 1), np.float32)


def feed(x, y):
    return {x: XS, y: 3 * XS}


def test_checkpoints_every_n_steps_and_resumes_from_latest(tmp_path):
    d = str(tmp_path)
    gs, x, y, w, loss, train = build()
    hooks = [tf.train.StopAtStepHook(last_step=25)]
    runs = 0
    with tf.train.MonitoredTrainingSession(checkpoint_dir=d, save_checkpoint_steps=10,
                                           hooks=hooks) as sess:
        while not sess.should_stop():
            sess.run(train, feed(x, y))
            runs += 1
        w_end = sess.run(w)
    assert runs == 25
    steps = sorted(int(p.rsplit("-", 1)[1].split(".")[0])
                   for p in glob.glob(os.path.join(d, "model.ckpt-*.index")))
    assert steps == [0, 10, 20, 25]            # at creation, every 10 steps, at the end
    assert tf.train.latest_checkpoint(d).endswith("model.ckpt-25")
    assert glob.glob(os.path.join(d, "events.out.tfevents.*"))

    gs, x, y, w, loss, train = build()
    with tf.train.MonitoredTrainingSession(checkpoint_dir=d,
                                           hooks=[tf.train.StopAtStepHook(num_steps=5)]) as sess:
        assert int(sess.run(gs)) == 25
        np.testing.assert_allclose(sess.run(w), w_end)     # restored, not re-initialized
        while not sess.should_stop():
            sess.run(train, feed(x, y))
    assert tf.train.latest_checkpoint(d).endswith("model.ckpt-30")


def test_out_of_range_ends_the_loop_cleanly_and_end_hooks_run(tmp_path):
    tf.reset_default_graph()
    gs = tf.train.get_or_create_global_step()
    v = tf.data.Dataset.range(7).map(lambda i: tf.cast(i, tf.float32)).make_one_shot_iterator().get_next()
    acc = tf.Variable(0.0)
    train = tf.group(tf.assign_add(acc, v), tf.assign_add(gs, 1))
    final = tf.train.FinalOpsHook(acc)
    n = 0
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=[final],
                                           save_checkpoint_secs=3600) as sess:
        while not sess.should_stop():
            sess.run(train)
            n += 1
    assert n == 7
    assert float(final.final_ops_values) == 21.0
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")


class Recorder(tf.train.SessionRunHook):
    def __init__(self, gs):
        self.gs, self.calls, self.seen = gs, [], []

    def begin(self):
        self.calls.append("begin")

    def after_create_session(self, session, coord):
        self.calls.append("after_create_session")

    def before_run(self, run_context):
        self.calls.append("before_run")
        return tf.train.SessionRunArgs(self.gs)

    def after_run(self, run_context, run_values):
        self.calls.append("after_run")
        self.seen.append(int(run_values.results))
        if run_values.results >= 2:
            run_context.request_stop()

    def end(self, session):
        self.calls.append("end")


def test_hook_protocol_order_and_fetches_in_the_same_run():
    gs, x, y, w, loss, train = build()
    rec = Recorder(gs)
    with tf.train.SingularMonitoredSession(hooks=[rec]) as sess:
        assert isinstance(sess.raw_session(), tf.Session)
        while not sess.should_stop():
            sess.run(train, feed(x, y))
    assert rec.seen == [0, 1, 2]                  # the pre-update value, as in TF
    assert rec.calls[:2] == ["begin", "after_create_session"]
    assert rec.calls[2:-1] == ["before_run", "after_run"] * 3
    assert rec.calls[-1] == "end"


def test_logging_nan_and_step_counter_hooks(tmp_path):
    gs, x, y, w, loss, train = build()
    log = tf.train.LoggingTensorHook({"loss": loss, "step": gs}, every_n_iter=4)
    counter = tf.train.StepCounterHook(every_n_steps=3, output_dir=str(tmp_path))
    with tf.train.MonitoredSession(hooks=[log, counter, tf.train.StopAtStepHook(last_step=9)]) as s:
        while not s.should_stop():
            s.run(train, feed(x, y))
    assert [m.split(", ")[1].split(" (")[0] for m in log.logged] == ["step = 0", "step = 4", "step = 8"]
    assert log.logged[0].startswith("loss = 9.0")
    assert len(counter.rates) == 2 and all(r > 0 for r in counter.rates)   # steps 4 and 7

    gs, x, y, w, loss, train = build(lr=1e30)
    with pytest.raises(tf.train.NanLossDuringTrainingError):
        with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(loss)]) as s:
            for _ in range(50):
                s.run(train, {x: XS * 1e20, y: XS})
    gs, x, y, w, loss, train = build(lr=1e30)
    with tf.train.MonitoredSession(hooks=[tf.train.NanTensorHook(loss, fail_on_nan_loss=False)]) as s:
        n = 0
        while not s.should_stop():
            s.run(train, {x: XS * 1e20, y: XS})
            n += 1
    assert 1 <= n < 50


def test_summary_saver_hook_writes_event_records(tmp_path):
    gs, x, y, w, loss, train = build()
    tf.summary.scalar("loss", loss)
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_summaries_steps=2,
                                           log_step_count_steps=0,
                                           hooks=[tf.train.StopAtStepHook(last_step=6)]) as s:
        while not s.should_stop():
            s.run(train, feed(x, y))
    from jitflow.frontend.data.tfrecord import read_records
    events = [r for f in glob.glob(os.path.join(str(tmp_path), "events.*"))
              for r in read_records(f)]
    with_loss = [e for e in events if b"loss" in e]
    assert len(with_loss) == 3                    # steps 0, 2, 4


def test_scaffold_init_fn_and_errors():
    gs, x, y, w, loss, train = build()
    called = []
    assign = tf.assign(w, [[5.0]])
    scaffold = tf.train.Scaffold(init_fn=lambda sc, sess: (called.append(sc), sess.run(assign)))
    with tf.train.MonitoredTrainingSession(scaffold=scaffold) as s:
        assert s.run(w).tolist() == [[5.0]]
    assert called and called[0] is scaffold
    with pytest.raises(ValueError, match="num_steps or last_step"):
        tf.train.StopAtStepHook()
    tf.reset_default_graph()
    tf.Variable(1.0)
    with pytest.raises(RuntimeError, match="Global step should be created"):
        tf.train.MonitoredSession(hooks=[tf.train.StopAtStepHook(num_steps=1)])
    tf.reset_default_graph()
    tf.Variable(1.0)
    with pytest.raises(RuntimeError, match="did not make model ready.*Variable"):
        tf.train.MonitoredSession(tf.train.ChiefSessionCreator(
            scaffold=tf.train.Scaffold(init_op=tf.no_op())))


def test_supervisor_managed_session_saves_and_restores(tmp_path):
    d = str(tmp_path)
    gs, x, y, w, loss, train = build()
    sv = tf.train.Supervisor(logdir=d, save_model_secs=3600, global_step=gs)
    with sv.managed_session() as sess:
        for _ in range(4):
            if sv.should_stop():
                break
            sess.run(train, feed(x, y))
        sv.saver.save(sess, sv.save_path, global_step=gs)
        w_end = sess.run(w)
    assert tf.train.latest_checkpoint(d).endswith("model.ckpt-4")
    gs, x, y, w, loss, train = build()
    sv = tf.train.Supervisor(logdir=d, save_model_secs=3600, global_step=gs)
    with sv.managed_session() as sess:
        assert int(sess.run(gs)) == 4
        np.testing.assert_allclose(sess.run(w), w_end)


def test_coordinator_reraises_thread_errors_and_stops_on_request():
    coord = tf.train.Coordinator()
    import threading

    def worker():
        with coord.stop_on_exception():
            raise ValueError("worker 3 failed")
    t = threading.Thread(target=worker)
    t.start()
    with pytest.raises(ValueError, match="worker 3 failed"):
        coord.join([t])
    assert coord.should_stop() and coord.joined
    coord2 = tf.train.Coordinator()
    coord2.request_stop(tf.errors.OutOfRangeError("end"))     # a clean stop: not re-raised
    coord2.join([])
    assert coord2.should_stop()
