"""RNN cells and loops against TensorFlow 2.21 (tf.compat.v1 + tf_keras legacy cells): variable
names, shapes, initial biases, outputs, states and input gradients for fixed weights. The
numbers are in fixtures/tf/rnn_reference.json, made once by fixtures/tf/make_rnn_reference.py
(TensorFlow is not needed here); the same cases are rebuilt below with jitflow."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import jitflow.compat.v1 as tf

REF = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "tf",
                                  "rnn_reference.json")))
B, T, D = REF["B"], REF["T"], REF["D"]
cells = tf.nn.rnn_cell


def weight(name, shape):
    """The fixed value every variable gets (the same formula as make_rnn_reference.py)."""
    salt = sum(ord(c) for c in name) % 97
    n = int(np.prod(shape))
    return (0.5 * np.sin(0.7 * np.arange(n) + 0.13 * salt)).reshape(shape).astype(np.float32)


def inputs():
    return (0.8 * np.cos(0.5 * np.arange(B * T * D))).reshape(B, T, D).astype(np.float32)


def flat_state(prefix, st, out):
    if isinstance(st, (tuple, list)):
        for i, s in enumerate(st):
            flat_state(f"{prefix}/{i}", s, out)
    else:
        out[prefix] = st


def dyn(cell_fn, **kw):
    def build(x):
        outs, st = tf.nn.dynamic_rnn(cell_fn(), x, dtype=tf.float32, **kw)
        fetch = {"outputs": outs}
        flat_state("state", st, fetch)
        n = int(np.prod(outs.shape.as_list()))
        coef = tf.constant(np.linspace(-1, 1, n).reshape(outs.shape.as_list()), tf.float32)
        fetch["dx"] = tf.gradients(tf.reduce_sum(outs * coef), x)[0]
        return fetch
    return build


def time_major_case(x):
    xt = tf.transpose(x, [1, 0, 2])
    outs, st = tf.nn.dynamic_rnn(cells.GRUCell(2), xt, dtype=tf.float32, time_major=True,
                                 sequence_length=[3, 2], scope="tm")
    return {"outputs": outs, "state": st}


def static_case(x):
    xs = tf.unstack(x, axis=1)
    outs, st = tf.nn.static_rnn(cells.BasicLSTMCell(3), xs, dtype=tf.float32,
                                sequence_length=[2, 3])
    fetch = {f"outputs/{i}": o for i, o in enumerate(outs)}
    flat_state("state", st, fetch)
    return fetch


def bidi_case(x):
    (of, ob), (sf, sb) = tf.nn.bidirectional_dynamic_rnn(
        cells.LSTMCell(3), cells.GRUCell(2), x, sequence_length=[4, 2], dtype=tf.float32)
    fetch = {"out_fw": of, "out_bw": ob, "state_bw": sb}
    flat_state("state_fw", sf, fetch)
    fetch["dx"] = tf.gradients(tf.reduce_sum(of * of) + tf.reduce_sum(ob), x)[0]
    return fetch


CASES = {
    "basic_rnn": dyn(lambda: cells.BasicRNNCell(4)),
    "basic_lstm": dyn(lambda: cells.BasicLSTMCell(4), sequence_length=[4, 2]),
    "basic_lstm_concat": dyn(lambda: cells.BasicLSTMCell(3, forget_bias=0.5,
                                                         state_is_tuple=False)),
    "lstm": dyn(lambda: cells.LSTMCell(4)),
    "lstm_peep_proj": dyn(lambda: cells.LSTMCell(4, use_peepholes=True, num_proj=3,
                                                 cell_clip=0.5, proj_clip=0.3),
                          sequence_length=[3, 1]),
    "gru": dyn(lambda: cells.GRUCell(4), sequence_length=[2, 4]),
    "multi": dyn(lambda: cells.MultiRNNCell([cells.LSTMCell(4), cells.GRUCell(3)])),
    "residual": dyn(lambda: cells.ResidualWrapper(cells.GRUCell(3))),
    "time_major": time_major_case,
    "static": static_case,
    "bidirectional": bidi_case,
    "reverse_sequence": lambda x: {"rev": tf.reverse_sequence(x, [3, 1], seq_axis=1,
                                                              batch_axis=0)},
}


def run_case(build, backend="llvm"):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [B, T, D], name="x")
    fetch = build(x)
    gvars = tf.global_variables()
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        init = {v.op.name: s.run(v).tolist() for v in gvars if "bias" in v.op.name}
        for v in gvars:
            v.load(weight(v.op.name, v.shape.as_list()), s)
        vals = s.run(fetch, {x: inputs()})
    return [[v.op.name, v.shape.as_list()] for v in gvars], init, vals


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_tensorflow(case):
    ref = REF[case]
    names, init, vals = run_case(CASES[case])
    assert names == ref["variables"]
    assert sorted(init) == sorted(ref["initial_biases"])
    for k, v in ref["initial_biases"].items():
        np.testing.assert_array_equal(init[k], v, err_msg=k)
    assert sorted(vals) == sorted(ref["values"])
    for k, want in ref["values"].items():
        np.testing.assert_allclose(vals[k], np.asarray(want, np.float32), rtol=2e-5,
                                   atol=2e-6, err_msg=f"{case}: {k}")


def test_reference_backend_agrees_on_lstm_with_lengths():
    ref = REF["lstm_peep_proj"]
    _, _, vals = run_case(CASES["lstm_peep_proj"], backend="reference")
    for k, want in ref["values"].items():
        np.testing.assert_allclose(vals[k], want, rtol=2e-5, atol=2e-6, err_msg=k)


def test_state_and_output_sizes_and_zero_state_shapes():
    tf.reset_default_graph()
    made = {"basic_rnn": cells.BasicRNNCell(4), "basic_lstm": cells.BasicLSTMCell(4),
            "lstm_proj": cells.LSTMCell(4, num_proj=2), "gru": cells.GRUCell(5),
            "multi": cells.MultiRNNCell([cells.LSTMCell(3), cells.GRUCell(2)]),
            "concat": cells.BasicLSTMCell(3, state_is_tuple=False)}
    for name, c in made.items():
        want = REF["zero_state"][name]
        z = c.zero_state(2, tf.float32)
        shapes = tf.contrib.rnn.LSTMStateTuple  # noqa: F841 (the namespace has it)
        got = repr(_map(lambda t: t.shape.as_list(), z))
        assert repr(c.state_size) == want["state_size"], name
        assert repr(c.output_size) == want["output_size"], name
        assert got == want["zero_state"], name


def _map(fn, s):
    if isinstance(s, tuple) and hasattr(s, "_fields"):
        return type(s)(*[_map(fn, p) for p in s])
    if isinstance(s, (tuple, list)):
        return type(s)(_map(fn, p) for p in s)
    return fn(s)


def test_variable_names_and_collections_match_tensorflow():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [B, T, D])
    tf.nn.dynamic_rnn(cells.LSTMCell(2), x, dtype=tf.float32)
    tf.nn.dynamic_rnn(cells.LSTMCell(2), x, dtype=tf.float32, scope="enc")
    with tf.variable_scope("dec"):
        tf.nn.dynamic_rnn(cells.BasicRNNCell(2, name="mine"), x, dtype=tf.float32)
    tf.nn.dynamic_rnn(cells.MultiRNNCell([cells.BasicLSTMCell(2) for _ in range(2)]), x,
                      dtype=tf.float32, scope="m")
    tf.nn.dynamic_rnn(cells.DropoutWrapper(cells.GRUCell(2), output_keep_prob=0.5), x,
                      dtype=tf.float32, scope="d")
    names = [[v.op.name, v.shape.as_list()] for v in tf.global_variables()]
    assert names == REF["naming"]["names"]
    enc = [v.op.name for v in tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="enc")]
    assert enc == REF["naming"]["scoped_enc"]


SL = REF["sequence_loss"]


@pytest.mark.parametrize("flags,key", [((True, True), "both"), ((True, False), "time_only"),
                                       ((False, True), "batch_only"), ((False, False), "none")])
def test_sequence_loss_matches_tensorflow(flags, key):
    tf.reset_default_graph()
    loss = tf.contrib.seq2seq.sequence_loss(
        tf.constant(np.asarray(SL["logits"], np.float32)),
        tf.constant(np.asarray(SL["targets"], np.int32)),
        tf.constant(np.asarray(SL["weights"], np.float32)),
        average_across_timesteps=flags[0], average_across_batch=flags[1])
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(loss), SL[key], rtol=1e-5, atol=1e-6)
