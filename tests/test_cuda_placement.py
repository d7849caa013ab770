"""Device placement: ``tf.device`` scopes, ``ConfigProto(allow_soft_placement,
log_device_placement)``, graphs split across the CPU and the GPU with copy ops in the IR, and
the default backend. The GPU is Numba's CUDA simulator in CI."""
from __future__ import annotations

import numpy as np
import pytest

from _cuda_util import needs_cuda, usable_or_skip
import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError
from jitflow.runtime import placement
from jitflow.runtime.placement import CPU, Device, PartitionedExecutable, parse_device

pytestmark = needs_cuda


@pytest.mark.parametrize("spec,want", [
    ("/gpu:0", Device("gpu", 0)), ("/device:GPU:1", Device("gpu", 1)), ("gpu", Device("gpu", 0)),
    ("/job:localhost/replica:0/task:0/device:GPU:0", Device("gpu", 0)),
    ("/cpu:0", CPU), ("/device:CPU:0", CPU), ("/job:worker/task:1", None), ("", None),
    (None, None)])
def test_parse_device(spec, want):
    assert parse_device(spec) == want


def test_device_scopes_nest_like_tf():
    tf.reset_default_graph()
    with tf.device("/gpu:0"):
        a = tf.constant(1.0, name="a")
        with tf.device(""):              # keeps the enclosing scope
            b = tf.constant(2.0, name="b")
        with tf.device(None):            # clears it
            c = tf.constant(3.0, name="c")
        with tf.device("/cpu:0"):
            d = tf.constant(4.0, name="d")
    assert (a.op.device, b.op.device, c.op.device, d.op.device) == ("/gpu:0", "/gpu:0", "",
                                                                    "/cpu:0")


def _split_graph():
    tf.reset_default_graph()
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.device("/cpu:0"):
        w = tf.Variable(tf.random_normal([3, 4]), name="w")
        h = tf.matmul(x, w, name="h")
    with tf.device("/gpu:0"):
        b = tf.Variable(tf.zeros([4]), name="b")
        y = tf.nn.relu(h + b, name="y")
        loss = tf.reduce_mean(tf.square(y - 0.5), name="loss")
    with tf.device("/cpu:0"):
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    feed = {x: np.random.RandomState(0).rand(5, 3).astype(np.float32)}
    return loss, train, feed, [w, b]


def _train(backend, steps=3, config=None):
    loss, train, feed, variables = _split_graph()
    with tf.Session(backend=backend, config=config) as sess:
        sess.run(tf.global_variables_initializer())
        losses = [sess.run([loss, train], feed)[0] for _ in range(steps)]
        exes = [c.executable for c in sess._cache.values()]
        final = [sess.run(v) for v in variables]
    return losses, final, exes


def test_split_graph_runs_with_copies_and_matches_the_reference():
    usable_or_skip()
    ref_losses, ref_final, _ = _train("reference")
    losses, final, exes = _train("llvm")
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for a, b in zip(final, ref_final):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    parts = [e for e in exes if isinstance(e, PartitionedExecutable)]
    assert parts, "the train step spans both devices: it must be partitioned"
    text = str(parts[-1].function)
    assert "copy_to_device" in text and "copy_to_host" in text
    kinds = {st.device.kind for st in parts[-1].steps if isinstance(st, placement.Segment)}
    assert kinds == {"cpu", "gpu"}


def test_log_device_placement_prints_each_op_once(capfd):
    usable_or_skip()
    loss, train, feed, _ = _split_graph()
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(loss, feed)
        sess.run(loss, feed)
    err = capfd.readouterr().err
    assert "Device mapping:" in err
    assert "y: (Relu): /job:localhost/replica:0/task:0/device:GPU:0" in err
    assert "h: (MatMul): /job:localhost/replica:0/task:0/device:CPU:0" in err
    assert err.count("y: (Relu)") == 1


def test_unsatisfiable_device_is_an_error_unless_soft_placement(monkeypatch):
    usable_or_skip()
    tf.reset_default_graph()
    with tf.device("/gpu:3"):
        z = tf.constant(2.0) * 3.0
    with tf.Session() as sess:
        with pytest.raises(InvalidArgumentError, match="Cannot assign a device for operation"):
            sess.run(z)
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(z) == 6.0


def test_without_a_gpu_gpu_scopes_need_soft_placement(monkeypatch):
    monkeypatch.setattr(placement, "gpu_count", lambda: 0)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2])
    with tf.device("/gpu:0"):
        y = x * 2.0
    with tf.Session(backend="llvm") as sess:
        with pytest.raises(InvalidArgumentError, match="GPU:0"):
            sess.run(y, {x: [1, 2]})
    with tf.Session(backend="llvm",
                    config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2]}), [2, 4])
        assert not any(isinstance(c.executable, PartitionedExecutable)
                       for c in sess._cache.values())


def test_everything_on_the_gpu_scope_uses_the_cuda_backend():
    usable_or_skip()
    from jitflow.backends.cuda.executable import CUDAExecutable
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 2])
    with tf.device("/device:GPU:0"):
        y = tf.reduce_sum(tf.exp(x), axis=1)
    with tf.Session(backend="llvm") as sess:
        out = sess.run(y, {x: [[0, 1], [2, 3]]})
        assert isinstance(next(iter(sess._cache.values())).executable, CUDAExecutable)
    np.testing.assert_allclose(out, np.exp([[0, 1], [2, 3]]).sum(1), rtol=1e-6)


def test_default_backend(monkeypatch):
    from jitflow.backends import default_backend_name
    from jitflow.backends.cuda import device
    monkeypatch.delenv("JITFLOW_BACKEND", raising=False)
    monkeypatch.setattr(device, "gpu_present", lambda: False)
    assert default_backend_name() == "llvm"
    monkeypatch.setattr(device, "gpu_present", lambda: True)
    assert default_backend_name() == ("cuda" if device.numba_cuda_installed() else "llvm")
    monkeypatch.setenv("JITFLOW_BACKEND", "cuda")
    monkeypatch.setattr(device, "gpu_present", lambda: False)
    assert default_backend_name() == "cuda"


def test_jitflow_backend_cuda_places_unscoped_ops_on_the_gpu(monkeypatch, capfd):
    usable_or_skip()
    monkeypatch.setenv("JITFLOW_BACKEND", "cuda")
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.square(x, name="sq")
    with tf.Session(config=tf.ConfigProto(log_device_placement=True)) as sess:
        assert sess.backend_name == "cuda"
        np.testing.assert_array_equal(sess.run(y, {x: [1, 2, 3]}), [1, 4, 9])
    assert "sq: (Square): /job:localhost/replica:0/task:0/device:GPU:0" in capfd.readouterr().err


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_cpu_runs_read_variables_updated_on_the_gpu(backend):
    usable_or_skip()
    tf.reset_default_graph()
    v = tf.Variable(tf.ones([3]), name="v")
    with tf.device("/gpu:0"):
        upd = tf.assign(v, v * 3.0)
    double = v * 2.0                  # no device scope: the session's CPU backend
    with tf.Session(backend=backend) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(upd)
        from jitflow.backends.cuda import DeviceTensor
        assert isinstance(sess._values[id(v.op)], DeviceTensor)
        np.testing.assert_array_equal(sess.run(double), [6, 6, 6])
        np.testing.assert_array_equal(sess.run(v), [3, 3, 3])
