"""tf.nn.raw_rnn: TF's documented dynamic_rnn-via-raw_rnn example against dynamic_rnn and a
NumPy transcription of TF 1.15's loop (finished rows emit zeros and keep their state, the
loop ends when all rows are finished), loop_state holding a TensorArray, nested emit
structures (a run-time emit size too), decoding fed by the cell's own outputs, gradients
against central differences, and the errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf

BACKENDS = ["llvm", "reference"]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm(x, state, k, b):
    """LSTMCell (forget_bias 1, no peepholes): gates i, j, f, o of [x, h] @ kernel + bias."""
    c, h = state
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ k + b, 4, axis=1)
    c2 = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    h2 = np.tanh(c2) * sigmoid(o)
    return h2, (c2, h2)


def np_gru(x, h, gk, gb, ck, cb):
    r, u = np.split(sigmoid(np.concatenate([x, h], 1) @ gk + gb), 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ ck + cb)
    h2 = u * h + (1 - u) * c
    return h2, h2


def np_rnn(x, h, k, b):
    h2 = np.tanh(np.concatenate([x, h], 1) @ k + b)
    return h2, h2


def np_raw_rnn(cell, loop_fn, max_trips=100):
    """TF 1.15's raw_rnn loop in NumPy over nests of arrays (tuples); the emit structure is
    per-example arrays (or None: the cell's output size, which ``loop_fn`` then gives)."""
    def nmap(fn, *xs):
        if isinstance(xs[0], tuple):
            return tuple(nmap(fn, *parts) for parts in zip(*xs))
        return fn(*xs)

    time = 0
    finished, inp, state, emit_struct, loop_state = loop_fn(0, None, None, None)
    emits = []
    while not finished.all():
        assert time < max_trips
        out, cell_state = cell(inp, state)
        nf, inp, nxt, emit, nls = loop_fn(time + 1, out, cell_state, loop_state)
        loop_state = loop_state if nls is None else nls

        def keep(cur, cand, finished=finished):
            if np.ndim(cur) == 0:
                return cand
            return np.where(finished.reshape((-1,) + (1,) * (np.ndim(cand) - 1)), cur, cand)
        zero = nmap(np.zeros_like, emit)
        emits.append(nmap(keep, zero, emit))
        state = nmap(keep, state, nxt)
        finished = finished | nf
        time += 1
    return emits, state, loop_state


def stack_emits(emits):
    if isinstance(emits[0], tuple):
        return tuple(stack_emits([e[i] for e in emits]) for i in range(len(emits[0])))
    return np.stack(emits, 0)


def load_uniform(sess, seed, scale=0.8):
    """Random weights (biases too, so zeros imputed for finished rows differ from outputs)."""
    rng = np.random.RandomState(seed)
    out = {}
    for v in tf.global_variables():
        val = rng.uniform(-scale, scale, v.shape.as_list()).astype(v.dtype.as_numpy_dtype)
        v.load(val, sess)
        out[v.op.name] = val
    return out


# ------------------------------------------------------------------ TF's example ----------

T, B, D, H = 5, 3, 4, 6
LENS = np.array([5, 2, 4], np.int32)


def documented_example(dtype=tf.float32, batch=B):
    """TF's docstring example: dynamic_rnn written with raw_rnn over a time-major input."""
    inputs = tf.placeholder(shape=(T, batch, D), dtype=dtype, name="inputs")
    sequence_length = tf.placeholder(shape=(batch,), dtype=tf.int32, name="lens")
    inputs_ta = tf.TensorArray(dtype=dtype, size=T).unstack(inputs)
    cell = tf.nn.rnn_cell.LSTMCell(H)
    n = batch if batch is not None else tf.shape(inputs)[1]

    def loop_fn(time, cell_output, cell_state, loop_state):
        emit_output = cell_output  # == None for time == 0
        if cell_output is None:  # time == 0
            next_cell_state = cell.zero_state(n, dtype)
        else:
            next_cell_state = cell_state
        elements_finished = (time >= sequence_length)
        finished = tf.reduce_all(elements_finished)
        next_input = tf.cond(finished, lambda: tf.zeros([n, D], dtype=dtype),
                             lambda: inputs_ta.read(time))
        return elements_finished, next_input, next_cell_state, emit_output, None

    outputs_ta, final_state, final_loop_state = tf.nn.raw_rnn(cell, loop_fn)
    return inputs, sequence_length, cell, outputs_ta, final_state, final_loop_state


def np_documented(xv, lens, k, b):
    n = xv.shape[1]

    def loop_fn(time, out, cs, ls):
        fin = time >= lens
        inp = np.zeros((n, D)) if fin.all() else xv[time]
        st0 = (np.zeros((n, H)), np.zeros((n, H)))
        return fin, inp, st0 if out is None else cs, out, None
    emits, state, _ = np_raw_rnn(lambda x, s: np_lstm(x, s, k, b), loop_fn)
    return np.stack(emits, 0), state


@pytest.mark.parametrize("backend", BACKENDS)
def test_documented_example_matches_dynamic_rnn_and_numpy(backend):
    tf.reset_default_graph()
    inputs, lens, cell, outputs_ta, final_state, final_loop_state = documented_example()
    assert final_loop_state is None
    assert isinstance(outputs_ta, tf.TensorArray) and outputs_ta.dtype == tf.float32
    outputs = outputs_ta.stack()
    assert outputs.shape.as_list() == [None, B, H]
    assert isinstance(final_state, tf.nn.rnn_cell.LSTMStateTuple)
    assert [v.op.name for v in tf.global_variables()] == ["rnn/lstm_cell/kernel",
                                                          "rnn/lstm_cell/bias"]
    with tf.variable_scope("dyn"):        # the same cell, so the same variables
        dyn_out, dyn_state = tf.nn.dynamic_rnn(cell, inputs, sequence_length=lens,
                                               time_major=True, dtype=tf.float32)
    assert len(tf.global_variables()) == 2
    xv = np.random.RandomState(0).randn(T, B, D).astype(np.float32)
    with tf.Session(backend=backend) as sess:
        w = load_uniform(sess, 1)
        o, s, do, ds = sess.run([outputs, final_state, dyn_out, dyn_state],
                                {inputs: xv, lens: LENS})
    ref_o, (ref_c, ref_h) = np_documented(xv.astype(np.float64), LENS,
                                          w["rnn/lstm_cell/kernel"], w["rnn/lstm_cell/bias"])
    assert o.shape == (LENS.max(), B, H) == ref_o.shape
    np.testing.assert_allclose(o, ref_o, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.c, ref_c, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.h, ref_h, rtol=1e-4, atol=1e-5)
    assert np.all(o[2:, 1] == 0) and np.all(o[4:, 2] == 0)      # past each length: zeros
    np.testing.assert_allclose(o, do[:LENS.max()], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.c, ds.c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.h, ds.h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_time_batch(backend):
    """A batch known only at run time (the zeros of the emit and the inputs are sized by
    it)."""
    tf.reset_default_graph()
    inputs, lens, _, outputs_ta, final_state, _ = documented_example(batch=None)
    outputs = outputs_ta.stack()
    assert outputs.shape.as_list() == [None, None, H]
    xv = np.random.RandomState(2).randn(T, 2, D).astype(np.float32)
    with tf.Session(backend=backend) as sess:
        w = load_uniform(sess, 3)
        o, s = sess.run([outputs, final_state], {inputs: xv, lens: [3, 1]})
    ref_o, (ref_c, ref_h) = np_documented(xv.astype(np.float64), np.array([3, 1]),
                                          w["rnn/lstm_cell/kernel"], w["rnn/lstm_cell/bias"])
    np.testing.assert_allclose(o, ref_o, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.c, ref_c, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.h, ref_h, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [B, None], ids=["static-batch", "run-time-batch"])
def test_all_finished_at_once_is_a_loop_of_no_trip(backend, batch):
    """Lengths all 0: an empty emit [0, batch, units] and the initial state, also when the
    batch is known only at run time (the empty stacks take it from the loop's operands)."""
    tf.reset_default_graph()
    inputs, lens, _, outputs_ta, final_state, _ = documented_example(batch=batch)
    outputs = outputs_ta.stack()
    xv = np.random.RandomState(2).randn(T, B, D).astype(np.float32)
    with tf.Session(backend=backend) as sess:
        load_uniform(sess, 3)
        o0, s0 = sess.run([outputs, final_state], {inputs: xv, lens: [0, 0, 0]})
    assert o0.shape == (0, B, H)
    assert np.all(s0.c == 0) and np.all(s0.h == 0)


# ------------------------------------------------------------------ loop state, emits -----

@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_state_tensor_array_and_nested_emit_structure(backend):
    """loop_state = (a TensorArray written each trip, a running sum); the emit structure
    (float [H], (int32 [], float [unk])) differs from the cell's output and has a size known
    only at run time; finished rows emit zeros of each."""
    tf.reset_default_graph()
    Tn = 6
    x = tf.placeholder(tf.float32, [Tn, B, D])
    lens = tf.placeholder(tf.int32, [B])
    unk = tf.placeholder(tf.int32, [])
    xs = tf.TensorArray(tf.float32, size=Tn).unstack(x)
    cell = tf.nn.rnn_cell.GRUCell(H)

    def loop_fn(time, out, state, loop_state):
        fin = time >= lens
        inp = tf.cond(tf.reduce_all(fin), lambda: tf.zeros([B, D]), lambda: xs.read(time))
        if out is None:
            emit = (tf.zeros([H]), (tf.zeros([], tf.int32), tf.zeros([unk], tf.float32)))
            init = (tf.TensorArray(tf.float32, size=Tn), tf.zeros([B]))
            return fin, inp, cell.zero_state(B, tf.float32), emit, init
        ta, acc = loop_state
        emit = (out * 2.0, (tf.cast(tf.argmax(out, 1), tf.int32),
                            tf.ones(tf.stack([B, unk])) * tf.cast(time, tf.float32)))
        new_ls = (ta.write(time - 1, tf.reduce_sum(out, 1)), acc + tf.reduce_sum(state, 1))
        return fin, inp, state, emit, new_ls

    emit_ta, final, (ta, acc) = tf.nn.raw_rnn(cell, loop_fn, scope="enc")
    assert [t.dtype for t in (emit_ta[0], emit_ta[1][0], emit_ta[1][1])] == [
        tf.float32, tf.int32, tf.float32]
    assert sorted(v.op.name for v in tf.global_variables()) == [
        "enc/gru_cell/candidate/bias", "enc/gru_cell/candidate/kernel",
        "enc/gru_cell/gates/bias", "enc/gru_cell/gates/kernel"]
    fetch = [emit_ta[0].stack(), emit_ta[1][0].stack(), emit_ta[1][1].stack(), final,
             ta.stack(), acc]
    xv = np.random.RandomState(4).randn(Tn, B, D).astype(np.float32)
    lv = np.array([5, 2, 4], np.int32)
    with tf.Session(backend=backend) as sess:
        w = load_uniform(sess, 5)
        got = sess.run(fetch, {x: xv, lens: lv, unk: 3})
    gk, gb, ck, cb = (w[f"enc/gru_cell/{n}"] for n in ("gates/kernel", "gates/bias",
                                                      "candidate/kernel", "candidate/bias"))

    def loop_fn_np(time, out, state, ls):
        fin = time >= lv
        inp = np.zeros((B, D)) if fin.all() else xv[time].astype(np.float64)
        if out is None:
            return fin, inp, np.zeros((B, H)), None, (np.zeros((Tn, B)), np.zeros(B))
        rows, acc_np = ls
        rows = rows.copy()
        rows[time - 1] = out.sum(1)
        emit = (out * 2.0, (out.argmax(1).astype(np.int32), np.full((B, 3), float(time))))
        return fin, inp, state, emit, (rows, acc_np + state.sum(1))
    emits, ref_state, (ref_rows, ref_acc) = np_raw_rnn(
        lambda a, h: np_gru(a, h, gk, gb, ck, cb), loop_fn_np)
    e_out, (e_ids, e_time) = stack_emits(emits)
    np.testing.assert_allclose(got[0], e_out, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got[1], e_ids)
    np.testing.assert_array_equal(got[2], e_time)
    assert got[2].shape == (5, B, 3) and np.all(got[2][2:, 1] == 0)
    np.testing.assert_allclose(got[3], ref_state, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[4], ref_rows, rtol=1e-4, atol=1e-5)   # not copied through
    np.testing.assert_allclose(got[5], ref_acc, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer,backend", [("functional", "llvm"), ("object", "reference")])
def test_decoder_fed_its_own_outputs_stops_per_row(layer, backend):
    """A greedy-decoder-like loop: the next input is a Dense projection of the cell output
    made inside loop_fn (tf.layers.dense with a name, or a Dense object first called there:
    its variables are made by the traced step before the loop, rnn/proj/*); a row finishes
    when its output's first unit is above a threshold or at a step cap, so the number of
    trips is decided by the values."""
    tf.reset_default_graph()
    n, cap, thr = 5, 8, 0.3
    start = tf.placeholder(tf.float32, [n, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    dense = tf.layers.Dense(D, activation=tf.tanh, name="proj")

    def loop_fn(time, out, state, loop_state):
        if out is None:
            return (tf.zeros([n], tf.bool), start, cell.zero_state(n, tf.float32), None, None)
        fin = tf.logical_or(out[:, 0] > thr, time >= cap)
        nxt = (tf.layers.dense(out, D, activation=tf.tanh, name="proj")
               if layer == "functional" else dense(out))
        return fin, nxt, state, out, None

    emit_ta, final, ls = tf.nn.raw_rnn(cell, loop_fn)
    assert ls is None
    names = sorted(v.op.name for v in tf.global_variables())
    assert names == ["rnn/basic_rnn_cell/bias", "rnn/basic_rnn_cell/kernel", "rnn/proj/bias",
                     "rnn/proj/kernel"]
    outs = emit_ta.stack()
    grads = tf.gradients(tf.reduce_sum(outs), tf.trainable_variables())
    assert all(g is not None for g in grads)
    sv = np.random.RandomState(7).randn(n, D).astype(np.float32)
    with tf.Session(backend=backend) as sess:
        w = load_uniform(sess, 8, scale=1.0)
        o, s = sess.run([outs, final], {start: sv})
    k, b = w["rnn/basic_rnn_cell/kernel"], w["rnn/basic_rnn_cell/bias"]
    pk, pb = w["rnn/proj/kernel"], w["rnn/proj/bias"]

    def loop_fn_np(time, out, state, ls):
        if out is None:
            return np.zeros(n, bool), sv.astype(np.float64), np.zeros((n, H)), None, None
        return (out[:, 0] > thr) | (time >= cap), np.tanh(out @ pk + pb), state, out, None
    emits, ref_state, _ = np_raw_rnn(lambda a, h: np_rnn(a, h, k, b), loop_fn_np)
    ref = np.stack(emits, 0)
    steps = (np.abs(ref).sum(2) > 0).sum(0)
    assert steps.min() < steps.max(), steps        # rows stop at different steps
    assert o.shape == ref.shape
    np.testing.assert_allclose(o, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s, ref_state, rtol=1e-4, atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(batch=st.integers(1, 4), steps=st.integers(1, 5), depth=st.integers(1, 3),
       units=st.integers(1, 4), seed=st.integers(0, 2 ** 16))
def test_varying_shapes_match_numpy(batch, steps, depth, units, seed):
    rng = np.random.RandomState(seed)
    xv = rng.randn(steps, batch, depth)
    lv = rng.randint(1, steps + 1, batch).astype(np.int32)
    tf.reset_default_graph()
    x = tf.constant(xv)
    xs = tf.TensorArray(tf.float64, size=steps).unstack(x)
    cell = tf.nn.rnn_cell.BasicRNNCell(units)

    def loop_fn(time, out, state, ls):
        fin = time >= lv
        inp = tf.cond(tf.reduce_all(fin), lambda: tf.zeros([batch, depth], tf.float64),
                      lambda: xs.read(time))
        return fin, inp, cell.zero_state(batch, tf.float64) if out is None else state, out, None

    emit_ta, final, _ = tf.nn.raw_rnn(cell, loop_fn)
    with tf.Session(backend="reference") as sess:
        w = load_uniform(sess, seed)
        o, s = sess.run([emit_ta.stack(), final])

    def loop_fn_np(time, out, state, ls):
        fin = time >= lv
        inp = np.zeros((batch, depth)) if fin.all() else xv[time]
        return fin, inp, np.zeros((batch, units)) if out is None else state, out, None
    k, b = w["rnn/basic_rnn_cell/kernel"], w["rnn/basic_rnn_cell/bias"]
    emits, ref_state, _ = np_raw_rnn(lambda a, h: np_rnn(a, h, k, b), loop_fn_np)
    np.testing.assert_allclose(o, np.stack(emits, 0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s, ref_state, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ gradients -------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_match_finite_differences(backend):
    """d/d(kernel, inputs) of sum(outputs * R) + sum(final c) + sum(final h) through the
    loop (float64), against central differences of the forward."""
    tf.reset_default_graph()
    inputs, lens, _, outputs_ta, final_state, _ = documented_example(dtype=tf.float64)
    outputs = outputs_ta.stack()
    r = tf.constant(np.random.RandomState(9).randn(int(LENS.max()), B, H))
    loss = (tf.reduce_sum(outputs * r) + tf.reduce_sum(final_state.c)
            + tf.reduce_sum(final_state.h))
    kernel = tf.global_variables()[0]
    gk, gx = tf.gradients(loss, [kernel, inputs])
    xv = np.random.RandomState(0).randn(T, B, D)
    feed = {inputs: xv, lens: LENS}
    eps = 1e-6
    with tf.Session(backend=backend) as sess:
        load_uniform(sess, 1)
        k0 = sess.run(kernel)
        g_k, g_x = sess.run([gk, gx], feed)
        for i, j in [(0, 0), (3, 5), (7, 11), (9, 23), (2, 17)]:
            vals = []
            for sgn in (1, -1):
                k = k0.copy()
                k[i, j] += sgn * eps
                kernel.load(k, sess)
                vals.append(float(sess.run(loss, feed)))
            np.testing.assert_allclose(g_k[i, j], (vals[0] - vals[1]) / (2 * eps),
                                       rtol=1e-5, atol=1e-7)
        kernel.load(k0, sess)
        for t, b, d in [(0, 0, 1), (1, 1, 2), (3, 2, 0), (4, 0, 3)]:
            vals = []
            for sgn in (1, -1):
                xp = xv.copy()
                xp[t, b, d] += sgn * eps
                vals.append(float(sess.run(loss, {inputs: xp, lens: LENS})))
            np.testing.assert_allclose(g_x[t, b, d], (vals[0] - vals[1]) / (2 * eps),
                                       rtol=1e-5, atol=1e-7)
    assert np.abs(g_x[:2, 1]).max() > 0
    assert np.abs(g_x[2:, 1]).max() == 0.0 and np.abs(g_x[4:, 2]).max() == 0.0


# ------------------------------------------------------------------ errors ----------------

def test_errors_say_what_was_given():
    tf.reset_default_graph()
    cell = tf.nn.rnn_cell.LSTMCell(3)
    x = tf.zeros([2, 4])

    def good(time, out, state, ls):
        return tf.zeros([2], tf.bool), x, cell.zero_state(2, tf.float32), None, None
    with pytest.raises(TypeError, match="loop_fn must be a callable"):
        tf.nn.raw_rnn(cell, 3)
    with pytest.raises(TypeError, match="is not an RNNCell"):
        tf.nn.raw_rnn(object(), good)
    with pytest.raises(ValueError, match="must return the initial cell state"):
        tf.nn.raw_rnn(cell, lambda t, o, s, ls: (tf.zeros([2], tf.bool), x, None, None, None))
    with pytest.raises(ValueError, match="same nested structure"):
        tf.nn.raw_rnn(cell, lambda t, o, s, ls: (tf.zeros([2], tf.bool), x, tf.zeros([2, 3]),
                                                 None, None))
    with pytest.raises(TypeError, match="bool vector"):
        tf.nn.raw_rnn(cell, lambda t, o, s, ls: (tf.zeros([2]), x, cell.zero_state(
            2, tf.float32), None, None))

    def bad_emit(time, out, state, ls):
        fin = tf.fill([2], time >= 2)
        if out is None:
            return fin, x, cell.zero_state(2, tf.float32), None, None
        return fin, x, state, (out, out), None
    with pytest.raises(ValueError, match="emit_output"):
        tf.nn.raw_rnn(cell, bad_emit)
