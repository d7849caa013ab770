"""tf.train.Saver: TF1 file names and state file, restore semantics and errors, integrity
(corruption, truncation), atomic saves under a killed process, max_to_keep, meta graphs."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow import errors
from jitflow.frontend import saver as S

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _mlp(seed=0):
    """A small classifier built the ch11 way; returns handles."""
    tf.set_random_seed(seed)
    X = tf.placeholder(tf.float32, (None, 5), name="X")
    y = tf.placeholder(tf.int32, (None,), name="y")
    with tf.name_scope("dnn"):
        h1 = tf.layers.dense(X, 8, activation=tf.nn.relu, name="hidden1")
        h2 = tf.layers.dense(h1, 8, activation=tf.nn.relu, name="hidden2")
        logits = tf.layers.dense(h2, 2, name="outputs")
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.square(logits[:, 1] - logits[:, 0] -
                                        (tf.cast(y, tf.float32) * 2 - 1)), name="loss")
    with tf.name_scope("train"):
        train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    return X, y, loss, train_op


def _data(n=128):
    rng = np.random.RandomState(1)
    x = rng.randn(n, 5).astype(np.float32)
    return x, (x[:, 0] - x[:, 2] > 0).astype(np.int32)


def _values(sess, var_list=None):
    var_list = var_list if var_list is not None else tf.global_variables()
    return {v.op.name: v for v in var_list}, dict(zip([v.op.name for v in var_list],
                                                      sess.run(list(var_list))))


# ---------------------------------------------------------------------- files ---------------

def test_files_state_file_and_latest_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("ckpts")
    _mlp()
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p1 = saver.save(s, "ckpts/model.ckpt", global_step=100)
        p2 = saver.save(s, "ckpts/model.ckpt", global_step=tf.constant(200))
        p0 = saver.save(s, "ckpts/plain.ckpt", write_meta_graph=False)
    assert p1 == "ckpts/model.ckpt-100" and p2 == "ckpts/model.ckpt-200"
    assert p0 == "ckpts/plain.ckpt"
    names = sorted(os.listdir("ckpts"))
    assert names == ["checkpoint", "model.ckpt-100.data-00000-of-00001", "model.ckpt-100.index",
                     "model.ckpt-100.meta", "model.ckpt-200.data-00000-of-00001",
                     "model.ckpt-200.index", "model.ckpt-200.meta",
                     "plain.ckpt.data-00000-of-00001", "plain.ckpt.index"]
    lines = Path("ckpts/checkpoint").read_text().splitlines()
    assert lines[0] == 'model_checkpoint_path: "plain.ckpt"'
    assert lines[1:4] == ['all_model_checkpoint_paths: "model.ckpt-100"',
                          'all_model_checkpoint_paths: "model.ckpt-200"',
                          'all_model_checkpoint_paths: "plain.ckpt"']
    st = tf.train.get_checkpoint_state("ckpts")
    assert st.model_checkpoint_path == os.path.join("ckpts", "plain.ckpt")
    assert st.all_model_checkpoint_paths == [os.path.join("ckpts", n) for n in
                                             ("model.ckpt-100", "model.ckpt-200", "plain.ckpt")]
    assert tf.train.latest_checkpoint("ckpts") == os.path.join("ckpts", "plain.ckpt")
    assert tf.train.checkpoint_exists("ckpts/model.ckpt-100")
    assert not tf.train.checkpoint_exists("ckpts/model.ckpt-300")
    assert tf.train.get_checkpoint_state(str(tmp_path / "nothing_here")) is None
    assert tf.train.latest_checkpoint(str(tmp_path / "nothing_here")) is None
    # TensorFlow's V2 format: an SSTable index (TF's magic number last), entries with dtype,
    # shape and masked CRC-32C, the raw tensors in the data shard
    raw_index = Path("ckpts/model.ckpt-100.index").read_bytes()
    assert raw_index[-8:] == bytes.fromhex("57fb808b247547db")
    r = S.NewCheckpointReader("ckpts/model.ckpt-100")
    assert r.get_variable_to_shape_map()["hidden1/kernel"] == [5, 8]
    assert r.get_variable_to_dtype_map()["hidden1/kernel"] == tf.float32
    data = Path("ckpts/model.ckpt-100.data-00000-of-00001").read_bytes()
    assert len(data) == sum(4 * int(np.prod(s)) for s in r.get_variable_to_shape_map().values())
    assert "tensor_bundle" in S.bundle.__doc__ and "table_format.txt" in S.table.__doc__
    with pytest.raises(ValueError, match="Parent directory of nodir/m.ckpt doesn't exist"):
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            saver.save(s, "nodir/m.ckpt")


def test_absolute_paths_and_reader_api(tmp_path):
    _mlp()
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p = saver.save(s, str(tmp_path / "m.ckpt"))
        k = s.run(tf.global_variables()[0])
    assert 'model_checkpoint_path: "%s"' % p in (tmp_path / "checkpoint").read_text()
    assert tf.train.latest_checkpoint(str(tmp_path)) == p
    r = S.NewCheckpointReader(p)
    assert r.has_tensor("hidden1/kernel") and not r.has_tensor("nope")
    assert r.get_variable_to_shape_map()["outputs/bias"] == [2]
    np.testing.assert_array_equal(r.get_tensor("hidden1/kernel"), k)
    assert ("hidden2/bias", [8]) in S.list_variables(str(tmp_path))
    np.testing.assert_array_equal(S.load_variable(str(tmp_path), "hidden1/kernel:0"), k)


# ---------------------------------------------------------------------- restore -------------

def test_restore_round_trip_counts_as_initialization(tmp_path):
    X, y, loss, train_op = _mlp()
    x, t = _data()
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(5):
            s.run(train_op, {X: x, y: t})
        _, before = _values(s)
        loss_before = s.run(loss, {X: x, y: t})
        p = saver.save(s, str(tmp_path / "m"))
    with tf.Session() as s:                       # a new session: no values until restored
        with pytest.raises(errors.FailedPreconditionError):
            s.run(loss, {X: x, y: t})
        saver.restore(s, p)
        _, after = _values(s)
        assert s.run(loss, {X: x, y: t}) == loss_before
    assert before.keys() == after.keys()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])


def test_subset_and_dict_var_lists(tmp_path):
    X, y, loss, train_op = _mlp()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        _, saved = _values(s)
        p = tf.train.Saver().save(s, str(tmp_path / "all"))
    reuse = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[12]")
    assert [v.op.name for v in reuse] == ["hidden1/kernel", "hidden1/bias", "hidden2/kernel",
                                          "hidden2/bias"]
    partial = tf.train.Saver(reuse)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())  # new random values everywhere
        _, fresh = _values(s)
        partial.restore(s, p)
        _, now = _values(s)
    for k in now:
        if k.startswith(("hidden1", "hidden2")):
            np.testing.assert_array_equal(now[k], saved[k])
        else:
            np.testing.assert_array_equal(now[k], fresh[k])   # untouched
    # a dict maps checkpoint keys to (other) variables
    tf.reset_default_graph()
    w = tf.Variable(np.zeros((5, 8), np.float32), name="weights")
    with tf.Session() as s:
        tf.train.Saver({"hidden1/kernel": w}).restore(s, p)
        np.testing.assert_array_equal(s.run(w), saved["hidden1/kernel"])
        q = tf.train.Saver({"my/key": w}).save(s, str(tmp_path / "dict"))
    assert S.NewCheckpointReader(q).keys() == ["my/key"]


def test_restore_errors_name_the_variable_and_file(tmp_path):
    _mlp()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p = tf.train.Saver().save(s, str(tmp_path / "m"))
    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, (None, 5), name="X")
    h1 = tf.layers.dense(X, 8, name="hidden1")
    tf.layers.dense(h1, 3, name="hidden4")
    saver = tf.train.Saver()
    with tf.Session() as s:
        with pytest.raises(errors.NotFoundError,
                           match=r"Key hidden4/kernel not found in checkpoint .*m"):
            saver.restore(s, p)
    tf.reset_default_graph()
    X = tf.placeholder(tf.float32, (None, 5), name="X")
    tf.layers.dense(X, 9, name="hidden1")
    with tf.Session() as s:
        with pytest.raises(errors.InvalidArgumentError,
                           match=r"lhs shape= \[5, 9\] rhs shape= \[5, 8\].*hidden1/kernel.*m"):
            tf.train.Saver().restore(s, p)
    tf.reset_default_graph()
    v = tf.Variable(np.zeros(8, np.float64), name="b")
    with tf.Session() as s:
        with pytest.raises(errors.InvalidArgumentError, match=r"expected dtype float64 does not "
                                                              r"equal original dtype float32"):
            tf.train.Saver({"hidden1/bias": v}).restore(s, p)
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            tf.train.Saver({"hidden1/bias": v}).restore(s, str(tmp_path / "missing"))
        with pytest.raises(ValueError, match="save_path when it is None"):
            tf.train.Saver({"hidden1/bias": v}).restore(s, None)
        with pytest.raises(errors.FailedPreconditionError, match="uninitialized value b"):
            tf.train.Saver([v]).save(s, str(tmp_path / "u"))
    with pytest.raises(ValueError, match="No variables to save"):
        tf.reset_default_graph()
        tf.train.Saver()


def test_max_to_keep_deletes_old_files(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for step in range(1, 5):
            s.run(v.assign(float(step)))
            saver.save(s, str(tmp_path / "m"), global_step=step)
    files = sorted(os.listdir(tmp_path))
    assert files == ["checkpoint"] + sorted(
        f"m-{i}{suf}" for i in (3, 4) for suf in (".data-00000-of-00001", ".index", ".meta"))
    assert saver.last_checkpoints == [str(tmp_path / "m-3"), str(tmp_path / "m-4")]
    assert tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == \
        saver.last_checkpoints
    assert S.load_variable(str(tmp_path), "v") == 4.0


# ---------------------------------------------------------------------- integrity ----------

def _saved_pair(tmp_path):
    v = tf.Variable(np.arange(1000, dtype=np.float32), name="v")
    w = tf.Variable(np.ones((3, 4), np.int64), name="w")
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p = saver.save(s, str(tmp_path / "m"))
    return v, w, saver, p


@pytest.mark.parametrize("damage", ["flip_data", "truncate_data", "truncate_index",
                                    "edit_index", "swap_data"])
def test_corruption_is_detected_and_nothing_is_loaded(tmp_path, damage):
    v, w, saver, p = _saved_pair(tmp_path)
    data, index = Path(p + ".data-00000-of-00001"), Path(p + ".index")
    if damage == "flip_data":
        raw = bytearray(data.read_bytes())
        raw[64 + 4 * 500] ^= 0x01
        data.write_bytes(bytes(raw))
        match = "Checksum does not match for tensor v"
    elif damage == "truncate_data":
        data.write_bytes(data.read_bytes()[:-100])
        match = "truncated"
    elif damage == "truncate_index":
        index.write_bytes(index.read_bytes()[:len(index.read_bytes()) // 2])
        match = "corrupted or truncated"
    elif damage == "edit_index":       # a byte of the first data block (the entries)
        raw = bytearray(index.read_bytes())
        raw[12] ^= 0x04
        index.write_bytes(bytes(raw))
        match = "checksum mismatch"
    else:   # the data file of another save with the same layout, other values
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(v.assign(np.full(1000, 7.0, np.float32)))
            q = saver.save(s, str(tmp_path / "other"), write_meta_graph=False)
        data.write_bytes(Path(q + ".data-00000-of-00001").read_bytes())
        match = "Checksum does not match for tensor v"
    with tf.Session() as s:
        s.run(v.assign(np.full(1000, -1.0, np.float32)))
        s.run(w.initializer)
        with pytest.raises(errors.DataLossError, match=match) as ei:
            saver.restore(s, p)
        assert "m." in str(ei.value)                       # the message names the file
        np.testing.assert_array_equal(s.run(v), np.full(1000, -1.0, np.float32))


def _kill_during_save(tmp_path, phase):
    script = tmp_path / "saver_child.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        import jitflow.compat.v1 as tf
        v = tf.Variable(np.zeros(50000, np.float32), name="v")
        saver = tf.train.Saver()
        with tf.Session() as s:
            s.run(v.assign(np.full(50000, 2.0, np.float32)))
            saver.save(s, {str(tmp_path / "m")!r})
        print("finished", flush=True)
    """))
    env = dict(os.environ, JITFLOW_SAVER_TEST_PAUSE=f"{phase}:60")
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        line = ""
        while time.time() < deadline:
            line = proc.stderr.readline()
            if "jitflow-saver: paused at" in line or not line:
                break
        assert f"paused at {phase}" in line, (line, proc.stderr.read() if proc.poll() else "")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "finished" not in proc.stdout.read()


@pytest.mark.parametrize("phase,expect", [("after_data", 1.0), ("after_data_rename", 2.0)])
def test_killed_save_leaves_a_complete_checkpoint(tmp_path, phase, expect):
    v = tf.Variable(np.zeros(50000, np.float32), name="v")
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(v.assign(np.ones(50000, np.float32)))
        p = saver.save(s, str(tmp_path / "m"))
    _kill_during_save(tmp_path, phase)
    # killed before the new data replaced the old: the previous checkpoint, intact; killed
    # between the data and the index renames: the new one, completed from P.index.pending
    assert tf.train.latest_checkpoint(str(tmp_path)) == p
    if phase == "after_data":       # the killed save left a temporary as large as the data
        tmp = [n for n in os.listdir(tmp_path) if ".jftmp-" in n]
        assert tmp and os.path.getsize(tmp_path / tmp[0]) == 200000
    else:
        assert os.path.exists(p + ".index.pending")
    with tf.Session() as s:
        saver.restore(s, p)      # the next Saver use in the directory cleans up (issue 17.5)
        np.testing.assert_array_equal(s.run(v), np.full(50000, expect, np.float32))
        assert not any(".jftmp-" in n or n.endswith(".pending") for n in os.listdir(tmp_path))
        saver.save(s, p)
    assert not any(".jftmp-" in n or n.endswith(".pending") for n in os.listdir(tmp_path))
    with tf.Session() as s:
        saver.restore(s, p)
        np.testing.assert_array_equal(s.run(v), np.full(50000, expect, np.float32))


# ---------------------------------------------------------------------- meta graphs --------

def test_import_meta_graph_continues_training(tmp_path):
    X, y, loss, train_op = _mlp()
    x, t = _data()
    tf.add_to_collection("my_things", loss)
    tf.add_to_collection("my_things", 42)
    tf.add_to_collection("my_things", "hello")
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(10):
            s.run(train_op, {X: x, y: t})
        loss_saved = s.run(loss, {X: x, y: t})
        p = saver.save(s, str(tmp_path / "model.ckpt"))
    n_ops = len(tf.get_default_graph().get_operations())
    op_names = [o.name for o in tf.get_default_graph().get_operations()]
    tf.reset_default_graph()

    restorer = tf.train.import_meta_graph(p + ".meta")
    g = tf.get_default_graph()
    assert [o.name for o in g.get_operations()] == op_names and len(op_names) == n_ops
    X = g.get_tensor_by_name("X:0")
    y = g.get_tensor_by_name("y:0")
    loss = g.get_tensor_by_name("loss/loss:0")
    train_op = g.get_operation_by_name("train/GradientDescent")
    assert g.get_operation_by_name("hidden1/kernel/Assign").type == "Assign"
    assert [v.name for v in tf.trainable_variables()] == [
        "hidden1/kernel:0", "hidden1/bias:0", "hidden2/kernel:0", "hidden2/bias:0",
        "outputs/kernel:0", "outputs/bias:0"]
    assert tf.get_collection("my_things") == [loss, 42, "hello"]
    assert tf.get_collection(tf.GraphKeys.TRAIN_OP) == [train_op]
    assert X.shape.as_list() == [None, 5]
    with tf.Session() as s:
        restorer.restore(s, tf.train.latest_checkpoint(str(tmp_path)))
        assert s.run(loss, {X: x, y: t}) == loss_saved
        for _ in range(10):
            s.run(train_op, {X: x, y: t})
        assert s.run(loss, {X: x, y: t}) < 0.95 * loss_saved
    # new ops are named around the imported ones (the ch11 pattern: new layers on top)
    with tf.name_scope("dnn"):
        extra = tf.layers.dense(g.get_tensor_by_name("dnn/hidden2/Relu:0"), 3, name="new_out")
    assert extra.op.name == "dnn/new_out/BiasAdd"
    assert tf.identity(loss, name="loss/loss").op.name == "loss/loss_1"
    assert g.get_operation_by_name("loss/loss") is loss.op


def test_export_meta_graph_round_trips_attrs_and_import_scope(tmp_path):
    big = np.random.RandomState(0).randn(40, 3)                 # float64 constant, base64 form
    c = tf.constant(big, name="big")
    r = tf.reshape(tf.cast(c, tf.float32), [-1, 6], name="r")
    s_ = tf.reduce_sum(r, axis=[1], keepdims=True, name="s")
    v = tf.Variable(tf.zeros([2]), name="v", trainable=False)
    meta_path = str(tmp_path / "g.meta")
    meta = tf.train.export_meta_graph(meta_path)
    assert meta["format"] == "jitflow.meta_graph"
    assert os.path.exists(meta_path)
    with tf.Session() as sess:
        want = sess.run(s_)
    tf.reset_default_graph()
    assert tf.train.import_meta_graph(meta_path, import_scope="imp") is not None
    g = tf.get_default_graph()
    assert g.get_tensor_by_name("imp/s:0").shape.as_list() == [20, 1]
    np.testing.assert_array_equal(g.get_operation_by_name("imp/big").get_attr("value"), big)
    assert g.get_operation_by_name("imp/r").get_attr("shape") == (-1, 6)
    assert [x.name for x in tf.global_variables()] == ["imp/v:0"]
    assert tf.trainable_variables() == []
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run("imp/s:0"), want)
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run("imp/v:0"), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="already exists"):
        tf.train.import_meta_graph(meta_path, import_scope="imp")
    # a damaged meta file is refused
    raw = Path(meta_path).read_bytes()
    assert raw.count(b'"r"') == 1              # jitflow's exact graph travels inside the .meta
    Path(meta_path).write_bytes(raw.replace(b'"r"', b'"q"', 1))
    tf.reset_default_graph()
    with pytest.raises(errors.DataLossError):
        tf.train.import_meta_graph(meta_path)
    _ = v


def test_meta_graph_loads_in_another_process(tmp_path):
    X, y, loss, train_op = _mlp()
    x, t = _data(16)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p = tf.train.Saver().save(s, str(tmp_path / "m"))
        want = s.run(loss, {X: x, y: t})
    np.savez(tmp_path / "in.npz", x=x, t=t)
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        import jitflow.compat.v1 as tf
        d = np.load({str(tmp_path / "in.npz")!r})
        saver = tf.train.import_meta_graph({p + ".meta"!r})
        with tf.Session() as s:
            saver.restore(s, {p!r})
            print(repr(float(s.run("loss/loss:0", {{"X:0": d["x"], "y:0": d["t"]}}))))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) == pytest.approx(float(want), rel=1e-6)
