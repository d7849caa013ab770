"""The repeated-run fast path of Session.run (``_fast_key`` hits) and the llvm executable's
result spares: a training loop's runs give exactly what the validating path gives, a feed
whose shape, dtype or kind changes leaves the fast path (with the same errors), composite
feed keys still expand, and no array a caller holds is ever written by a later run."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.runtime import session as session_mod
from jitflow.runtime.session import _fast_key


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def quadratic():
    """The 1-10-1 tanh network of benchmarks/run.py's quadratic bench."""
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 1])
    y = tf.placeholder(tf.float32, [None, 1])
    w1 = tf.Variable(tf.random_normal([1, 10]))
    b1 = tf.Variable(tf.zeros([1, 10]))
    w2 = tf.Variable(tf.random_normal([10, 1]))
    b2 = tf.Variable(tf.zeros([1, 1]))
    pred = tf.nn.tanh(tf.matmul(tf.nn.tanh(tf.matmul(x, w1) + b1), w2) + b2)
    loss = tf.reduce_mean(tf.square(y - pred))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, y, pred, loss, train, [w1, b1, w2, b2]


def data(n=200, dtype=np.float32):
    xs = np.linspace(-0.5, 0.5, n)[:, None].astype(dtype)
    return xs, (xs ** 2).astype(dtype)


def train_steps(steps: int, fast: bool, monkeypatch, feed=None):
    """Losses, final variables and predictions of ``steps`` steps in a graph of their own."""
    with tf.Graph().as_default(), monkeypatch.context() as m:
        x, y, pred, loss, train, vs = quadratic()
        xd, yd = data() if feed is None else feed
        if not fast:    # every run through the validating path
            m.setattr(session_mod, "_fast_key", lambda fetches, feed_dict: None)
        with tf.Session(backend="llvm") as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([train, loss], {x: xd, y: yd})[1] for _ in range(steps)]
            return losses, sess.run(vs), sess.run(pred, {x: xd})


def test_fast_runs_equal_validated_runs_bit_for_bit(monkeypatch):
    fast = train_steps(25, True, monkeypatch)
    slow = train_steps(25, False, monkeypatch)
    np.testing.assert_array_equal(fast[0], slow[0])
    for a, b in zip(fast[1], slow[1]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast[2], slow[2])
    assert fast[0][-1] < fast[0][0]     # it trains


def test_fast_runs_with_converted_feeds_equal_validated_runs(monkeypatch):
    # float64 arrays for float32 placeholders: converted on every run, fast or not
    feed = data(dtype=np.float64)
    fast = train_steps(10, True, monkeypatch, feed)
    slow = train_steps(10, False, monkeypatch, feed)
    np.testing.assert_array_equal(fast[0], slow[0])
    for a, b in zip(fast[1], slow[1]):
        np.testing.assert_array_equal(a, b)


def test_fast_key_pins_every_feed_kind_shape_and_dtype():
    a = tf.placeholder(tf.float32, [None])
    b = tf.placeholder(tf.float32, [])
    f = a * b
    base = _fast_key(f, {a: np.zeros(3, np.float32), b: 1.0})
    assert base == _fast_key(f, {a: np.ones(3, np.float32), b: 2.0})
    others = [{a: np.zeros(4, np.float32), b: 1.0},          # shape
              {a: np.zeros(3, np.float64), b: 1.0},          # dtype
              {a: np.zeros(3, np.dtype(">f4")), b: 1.0},     # byte order
              {a: np.zeros(3, np.float32), b: 1},            # Python int, not float
              {a: np.zeros(3, np.float32), b: np.float32(1)}, # NumPy scalar
              {b: 1.0, a: np.zeros(3, np.float32)}]          # order of the feeds
    keys = [_fast_key(f, fd) for fd in others]
    assert base not in keys and len(set(keys)) == len(keys)
    assert _fast_key(f, {a: [0.0, 1.0, 2.0], b: 1.0}) is None     # a list: validated
    assert _fast_key([f, f], {a: np.zeros(3, np.float32)}) != _fast_key(f, {a: np.zeros(3, np.float32)})


def test_a_changed_feed_leaves_the_fast_path_with_the_same_errors():
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y = tf.reduce_sum(x * 2.0)
    with tf.Session(backend="llvm") as sess:
        for _ in range(3):
            assert sess.run(y, {x: np.ones((4, 2), np.float32)}) == 16.0
        # another batch size, another dtype, a list, a NumPy scalar array: still right
        assert sess.run(y, {x: np.ones((3, 2), np.float32)}) == 12.0
        assert sess.run(y, {x: np.full((4, 2), 0.5, np.float64)}) == 8.0
        assert sess.run(y, {x: [[1, 2]]}) == 6.0
        assert sess.run(y, {x: np.ones((4, 2), np.int64)}) == 16.0
        for _ in range(2):
            with pytest.raises(ValueError, match=r"Cannot feed value of shape \(4, 3\) for "
                                                 r"Tensor 'x:0', which has shape"):
                sess.run(y, {x: np.ones((4, 3), np.float32)})
            with pytest.raises(ValueError, match="Cannot feed value of type"):
                sess.run(y, {x: np.array([["a", "b"]])})
        assert sess.run(y, {x: np.ones((4, 2), np.float32)}) == 16.0


def test_a_fed_array_is_passed_as_is_and_never_written():
    x = tf.placeholder(tf.float32, [None])
    v = tf.Variable(np.zeros(3, np.float32))
    step = tf.assign_add(v, x)
    xd = np.array([1.0, 2.0, 3.0], np.float32)
    with tf.Session(backend="llvm") as sess:
        sess.run(v.initializer)
        outs = [sess.run(step, {x: xd}) for _ in range(4)]
        np.testing.assert_array_equal(xd, [1.0, 2.0, 3.0])
        for k, o in enumerate(outs, 1):       # every fetch keeps its own value
            np.testing.assert_array_equal(o, xd * k)
        assert all(o is not xd for o in outs)


def test_composite_feed_keys_expand_on_every_run():
    sp = tf.sparse_placeholder(tf.float32)
    total = tf.reduce_sum(tf.sparse_tensor_to_dense(sp))
    value = tf.SparseTensorValue(np.array([[0, 0], [1, 2]], np.int64),
                                 np.array([1.5, 2.0], np.float32), np.array([2, 3], np.int64))
    with tf.Session(backend="llvm") as sess:
        for _ in range(3):
            assert sess.run(total, {sp: value}) == 3.5
        assert sess.run(total, {sp: (value.indices, value.values * 2, value.dense_shape)}) == 7.0
        for _ in range(2):       # never cached as a fast run: the same error every time
            with pytest.raises(TypeError, match="Feeding a SparseTensor needs"):
                sess.run(total, {sp: np.ones(3, np.float32)})


def test_held_results_are_never_reused():
    """The executable writes a result into a spare array only when nothing else holds it:
    fetched arrays the caller keeps, views of them and the variables' old values stay."""
    x, y, pred, loss, train, vs = quadratic()
    xd, yd = data(20)
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        kept, views, snapshots = [], [], []
        for i in range(6):
            sess.run(train, {x: xd, y: yd})
            p = sess.run(pred, {x: xd})
            kept.append(p)
            views.append(p[:, 0])
            snapshots.append(p.copy())
        for k, view, snap in zip(kept, views, snapshots):
            np.testing.assert_array_equal(k, snap)
            np.testing.assert_array_equal(view, snap[:, 0])
        assert len({id(k) for k in kept}) == len(kept)
        # a variable's value fetched (a copy) and the store's own arrays stay apart
        w = sess.run(vs[0])
        sess.run(train, {x: xd, y: yd})
        assert not np.array_equal(w, sess.run(vs[0]))


def test_a_training_loop_alternates_between_two_arrays_per_update():
    x, y, pred, loss, train, vs = quadratic()
    xd, yd = data()
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        ids = []
        for _ in range(6):
            sess.run(train, {x: xd, y: yd})
            ids.append(tuple(id(sess._values[id(v.op)]) for v in vs))
    # from the third step on, each variable's value is one of the same two arrays
    for k in range(len(vs)):
        assert len({step[k] for step in ids[2:]}) <= 2


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from(["f32", "f64", "list", "int"])),
                min_size=1, max_size=8))
def test_any_sequence_of_feeds_gives_the_reference_values(seq):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        w = tf.Variable(np.arange(3, dtype=np.float32))
        out = tf.reduce_sum(x * w, axis=1)
        step = tf.assign_add(w, tf.reduce_mean(x, axis=0))
        with tf.Session(backend="llvm") as sess:
            sess.run(w.initializer)
            want_w = np.arange(3, dtype=np.float32)
            for n, kind in seq:
                base = np.arange(n * 3, dtype=np.float32).reshape(n, 3) / 4
                fed = {"f32": base, "f64": base.astype(np.float64), "list": base.tolist(),
                       "int": (base * 4).astype(np.int32)}[kind]
                arr = np.asarray(fed, np.float32)
                got, _ = sess.run([out, step], {x: fed})
                np.testing.assert_allclose(got, (arr * want_w).sum(1), rtol=1e-6)
                want_w = want_w + arr.mean(0)
            np.testing.assert_allclose(sess.run(w), want_w, rtol=1e-6)


def test_a_repeated_run_does_not_scan_feed_keys_for_composites(monkeypatch):
    """The composite-key scan (``hasattr(key, "_fetch_parts")``) belongs to the validating
    path: a fast hit never looks at it."""
    from jitflow.frontend.graph import Tensor
    looked = []

    def parts(self):
        looked.append(self)
        raise AttributeError("_fetch_parts")
    monkeypatch.setattr(Tensor, "_fetch_parts", property(parts), raising=False)
    x = tf.placeholder(tf.float32, [None])
    y = x * 2.0
    fd = {x: np.ones(4, np.float32)}
    with tf.Session(backend="llvm") as sess:
        sess.run(y, fd)
        assert x in looked            # the first run scanned its feed keys
        looked.clear()
        for _ in range(3):
            np.testing.assert_array_equal(sess.run(y, fd), [2.0] * 4)
        assert looked == []
        sess.run(y, {x: np.ones(5, np.float32)})     # a new shape: validated again
        assert x in looked


def test_every_fetch_form_of_a_fast_run_equals_the_validated_run(monkeypatch):
    x, y, pred, loss, train, vs = quadratic()
    xd, yd = data(30)
    total = tf.reduce_sum(x)
    forms = [train, loss, pred, [loss, train], (train, loss, pred), [loss, loss, total],
             (loss,), [], [train], vs[0], [vs[1], loss]]

    def runs(sess):
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(3):       # the first validates, the others hit the fast path
            for f in forms:
                out.append(sess.run(f, {x: xd, y: yd}))
        return out
    with tf.Session(backend="llvm") as sess:
        fast = runs(sess)
        assert len(sess._fast) == len(forms)
    with monkeypatch.context() as m, tf.Session(backend="llvm") as sess:
        m.setattr(session_mod, "_fast_key", lambda fetches, feed_dict: None)   # validated
        slow = runs(sess)
        assert not sess._fast
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert type(a) is type(b)
        if isinstance(a, (list, tuple)):
            assert len(a) == len(b)
            for p, q in zip(a, b):
                assert type(p) is type(q)
                np.testing.assert_array_equal(p, q)
        else:
            np.testing.assert_array_equal(a, b)
    assert type(fast[1]) is np.float32 and fast[0] is None     # a rank-0 fetch is a scalar


def test_the_training_step_takes_the_direct_path():
    """The llvm executable declares the train step's results fresh or updated in place, so a
    fast hit stores and returns them as they are; a fetched variable (its parameter
    returned as is) is copied on the checked path."""
    x, y, pred, loss, train, vs = quadratic()
    xd, yd = data()
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        for f in (train, [loss, train], vs[0]):
            sess.run(f, {x: xd, y: yd})
            sess.run(f, {x: xd, y: yd})
        direct = {type(h.compiled.executable).__name__: h.compiled.direct
                  for h in sess._fast.values() if h.form != -1}
        assert direct == {"LLVMExecutable": True}
        (fetched_var,) = [h for h in sess._fast.values() if h.form == -1]
        assert not fetched_var.compiled.direct
        w = sess.run(vs[0])
        assert w is not sess._values[id(vs[0].op)]
        w[...] = 7.0                       # the caller's copy: the variable keeps its value
        assert not np.any(sess.run(vs[0]) == 7.0)


def test_a_fast_run_of_an_uninitialized_variable_raises_every_time():
    v = tf.Variable(np.zeros(2, np.float32), name="weights")
    step = tf.assign_add(v, [1.0, 2.0])
    with tf.Session(backend="llvm") as sess:
        for _ in range(3):     # the first validates (and records the fast run), then hits
            with pytest.raises(tf.errors.FailedPreconditionError,
                               match="uninitialized value weights"):
                sess.run(step)
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(step), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(step), [2.0, 4.0])


def test_arrays_fed_back_and_new_batches_bind_to_the_right_plan():
    """The executable reuses its latest shape plan only for arguments of that plan's shapes
    and dtypes: a fetched array fed back (a spare of a plan), a new array of the same shape
    (the next minibatch), one of another shape, a non-contiguous one, a list."""
    x = tf.placeholder(tf.float32, [None])
    twice = tf.concat([x, x], 0)
    a3 = np.arange(3, dtype=np.float32)
    with tf.Session(backend="llvm") as sess:
        six = sess.run(twice, {x: a3})
        np.testing.assert_array_equal(six, np.concatenate([a3, a3]))
        # a result of the (3,) plan, of shape (6,): it needs the (6,) plan
        twelve = sess.run(twice, {x: six})
        np.testing.assert_array_equal(twelve, np.concatenate([six, six]))
        np.testing.assert_array_equal(sess.run(twice, {x: a3 + 1}), np.tile(a3 + 1, 2))
        strided = np.arange(12, dtype=np.float32)[::4]
        np.testing.assert_array_equal(sess.run(twice, {x: strided}), np.tile(strided, 2))
        np.testing.assert_array_equal(sess.run(twice, {x: [5.0, 6.0, 7.0]}), [5, 6, 7] * 2)
        np.testing.assert_array_equal(sess.run(twice, {x: twelve}), np.tile(twelve, 2))
        np.testing.assert_array_equal(six, np.concatenate([a3, a3]))   # never written
        y = tf.reduce_sum(x * 2.0)
        held = sess.run(twice, {x: a3})
        for _ in range(3):                  # a fetched array fed back to another run
            assert sess.run(y, {x: held}) == 12.0


def test_the_executable_refuses_a_wrong_dtype_after_fast_runs():
    from jitflow.errors import InvalidArgumentError
    x = tf.placeholder(tf.float32, [None])
    y = x * 3.0
    with tf.Session(backend="llvm") as sess:
        for _ in range(3):
            sess.run(y, {x: np.ones(4, np.float32)})
        exe = next(iter(sess._cache.values())).executable
        np.testing.assert_array_equal(exe.run([np.ones(4, np.float32)])[0], [3.0] * 4)
        with pytest.raises(InvalidArgumentError, match="cannot take an array of dtype int32"):
            exe.run([np.ones(4, np.int32)])
        with pytest.raises(InvalidArgumentError, match="expected 1 arguments, got 2"):
            exe.run([np.ones(4, np.float32)] * 2)
        np.testing.assert_array_equal(exe.run([[2.0, 1.0]])[0], [6.0, 3.0])   # a list: converted
        np.testing.assert_array_equal(exe.run([np.ones(4, np.float32)])[0], [3.0] * 4)
