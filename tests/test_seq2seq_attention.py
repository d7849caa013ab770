"""tf.contrib.seq2seq attention: AttentionWrapper over Bahdanau/Luong mechanisms, decoded by
BasicDecoder + TrainingHelper, against a NumPy transcription of TF 1.15's equations with the
session's weights; variable names; zero_state().clone(); alignment_history; tile_batch."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

s2s = tf.contrib.seq2seq
B, T, D, H, MT, MD = 3, 4, 5, 6, 5, 8
MEM_LEN = np.array([5, 3, 2], np.int32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_lstm(x, c, h, k, b):
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ k + b, 4, axis=1)
    c2 = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return np.tanh(c2) * sigmoid(o), c2


def np_attention_decode(kind, w, x, mem, c0, h0, layer, out_attn, normalize, scale, units):
    """TF 1.15 AttentionWrapper(BasicLSTMCell) stepped over x ([B, T, D])."""
    live = np.arange(MT)[None, :] < MEM_LEN[:, None]
    values = mem * live[:, :, None]
    keys = values @ w["memory_layer/kernel"]
    pre = "decoder/attention_wrapper/"
    att_pre = pre + ("bahdanau_attention/" if kind == "bahdanau" else "luong_attention/")
    size = layer or MD
    c, h, attn = c0, h0, np.zeros((B, size))
    outs, aligns = [], []
    for t in range(T):
        h, c = np_lstm(np.concatenate([x[:, t], attn], 1), c, h,
                       w[pre + "basic_lstm_cell/kernel"], w[pre + "basic_lstm_cell/bias"])
        if kind == "bahdanau":
            pq = (h @ w[att_pre + "query_layer/kernel"])[:, None, :]
            v = w[att_pre + "attention_v"]
            if normalize:
                g, bias = w[att_pre + "attention_g"], w[att_pre + "attention_b"]
                score = ((g * v / np.sqrt((v * v).sum())) * np.tanh(keys + pq + bias)).sum(2)
            else:
                score = (v * np.tanh(keys + pq)).sum(2)
        else:
            score = np.einsum("bu,bmu->bm", h, keys)
            if scale:
                score = w[att_pre + "attention_g"] * score
        align = softmax(np.where(live, score, -np.inf))
        context = np.einsum("bm,bmd->bd", align, values)
        attn = np.concatenate([h, context], 1) @ w[pre + "attention_layer/kernel"] \
            if layer else context
        outs.append(attn if out_attn else h)
        aligns.append(align)
    return np.stack(outs, 1), (c, h), attn, np.stack(aligns, 0)


def build(kind, layer, out_attn, normalize=False, scale=False, units=H):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [B, T, D], name="x")
    mem = tf.placeholder(tf.float32, [B, MT, MD], name="memory")
    c0 = tf.placeholder(tf.float32, [B, H], name="c0")
    h0 = tf.placeholder(tf.float32, [B, H], name="h0")
    if kind == "bahdanau":
        mech = s2s.BahdanauAttention(units, mem, MEM_LEN, normalize=normalize)
    else:
        mech = s2s.LuongAttention(units, mem, memory_sequence_length=MEM_LEN, scale=scale)
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.BasicLSTMCell(H), mech,
                                attention_layer_size=layer, alignment_history=True,
                                output_attention=out_attn)
    init = cell.zero_state(B, tf.float32).clone(
        cell_state=tf.nn.rnn_cell.LSTMStateTuple(c0, h0))
    dec = s2s.BasicDecoder(cell, s2s.TrainingHelper(x, [T] * B), init)
    out, st, _ = s2s.dynamic_decode(dec)
    return (x, mem, c0, h0), cell, out, st


CASES = [("bahdanau", None, True, False, False), ("bahdanau", 7, True, True, False),
         ("bahdanau", 7, False, False, False), ("luong", None, True, False, False),
         ("luong", 9, True, False, True)]


@pytest.mark.parametrize("kind,layer,out_attn,normalize,scale", CASES)
def test_attention_decode_matches_numpy(kind, layer, out_attn, normalize, scale):
    ph, cell, out, st = build(kind, layer, out_attn, normalize, scale)
    size = layer or MD
    assert cell.output_size == (size if out_attn else H)
    assert out.rnn_output.shape.as_list() == [B, None, size if out_attn else H]
    rng = np.random.RandomState(1)
    feed = {ph[0]: rng.randn(B, T, D), ph[1]: rng.randn(B, MT, MD),
            ph[2]: rng.randn(B, H) * 0.5, ph[3]: rng.randn(B, H) * 0.5}
    hist = st.alignment_history.stack()
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        w = {}
        for v in tf.global_variables():
            v.load(rng.uniform(-0.7, 0.7, v.shape.as_list()).astype(np.float32), sess)
            w[v.op.name] = sess.run(v)
        o, s, al = sess.run([out.rnn_output, st.clone(alignment_history=()), hist], feed)
    outs, (c, h), attn, aligns = np_attention_decode(
        kind, w, feed[ph[0]], feed[ph[1]], feed[ph[2]], feed[ph[3]], layer, out_attn,
        normalize, scale, H)
    np.testing.assert_allclose(o, outs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.cell_state.c, c, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.cell_state.h, h, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.attention, attn, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(al, aligns, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(s.alignments, aligns[-1], rtol=1e-4, atol=1e-6)
    assert s.time == T
    assert (al[:, 1, 3:] == 0).all() and (al[:, 2, 2:] == 0).all()    # masked memory


def test_variable_names_follow_tf():
    build("bahdanau", 7, True, normalize=True)
    assert [v.op.name for v in tf.global_variables()] == [
        "memory_layer/kernel", "decoder/attention_wrapper/basic_lstm_cell/kernel",
        "decoder/attention_wrapper/basic_lstm_cell/bias",
        "decoder/attention_wrapper/bahdanau_attention/query_layer/kernel",
        "decoder/attention_wrapper/bahdanau_attention/attention_v",
        "decoder/attention_wrapper/bahdanau_attention/attention_g",
        "decoder/attention_wrapper/bahdanau_attention/attention_b",
        "decoder/attention_wrapper/attention_layer/kernel"]
    build("luong", None, True, scale=True)
    assert [v.op.name for v in tf.global_variables()] == [
        "memory_layer/kernel", "decoder/attention_wrapper/basic_lstm_cell/kernel",
        "decoder/attention_wrapper/basic_lstm_cell/bias",
        "decoder/attention_wrapper/luong_attention/attention_g"]


def test_luong_needs_query_depth_num_units():
    with pytest.raises(ValueError, match="Query .* has units: 6. Keys have units: 4"):
        build("luong", None, True, units=4)


def test_wrapper_errors():
    tf.reset_default_graph()
    mech = s2s.LuongAttention(H, tf.zeros([B, MT, MD]))
    with pytest.raises(TypeError, match="attention_mechanism must be an AttentionMechanism"):
        s2s.AttentionWrapper(tf.nn.rnn_cell.BasicLSTMCell(H), "mech")
    with pytest.raises(ValueError, match="memory must be \\[batch, max_time, depth\\]"):
        s2s.BahdanauAttention(H, tf.zeros([B, MD]))
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.GRUCell(H), mech)
    with pytest.raises(TypeError, match="Expected state to be instance of AttentionWrapperState"):
        cell(tf.zeros([B, D]), tf.zeros([B, H]))


def test_tile_batch_repeats_each_entry():
    tf.reset_default_graph()
    a = np.arange(24, dtype=np.float32).reshape(3, 2, 4)
    n = np.array([5, 3, 2], np.int32)
    ta, (tn,) = s2s.tile_batch(tf.constant(a), 3), s2s.tile_batch((tf.constant(n),), 3)
    assert ta.shape.as_list() == [9, 2, 4]
    with tf.Session(backend="llvm") as sess:
        va, vn = sess.run([ta, tn])
    np.testing.assert_array_equal(va, np.repeat(a, 3, axis=0))
    np.testing.assert_array_equal(vn, np.repeat(n, 3))


def test_attention_seq2seq_dynamic_shapes_trains_and_shares_weights():
    """NMT-tutorial layout: batch and time unknown until run time, a GRU encoder, Luong
    attention over its outputs, a training decoder and a greedy one under the same scope
    (reuse): no new variables, the loss falls, and greedy lengths follow end_token."""
    tf.reset_default_graph()
    V, E, U, end, cap = 6, 5, 8, 1, 7
    src, tin = tf.placeholder(tf.int32, [None, None]), tf.placeholder(tf.int32, [None, None])
    slen, tlen = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.int32, [None])
    emb = tf.get_variable("emb", [V, E])
    enc_out, enc_st = tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(U),
                                        tf.nn.embedding_lookup(emb, src), slen,
                                        dtype=tf.float32)
    batch = tf.shape(src)[0]
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.GRUCell(U), s2s.LuongAttention(U, enc_out, slen),
                                attention_layer_size=U)
    proj = tf.layers.Dense(V, use_bias=False)
    init = cell.zero_state(batch, tf.float32).clone(cell_state=enc_st)
    with tf.variable_scope("decoder") as sc:
        helper = s2s.TrainingHelper(tf.nn.embedding_lookup(emb, tin), tlen)
        tr, _, _ = s2s.dynamic_decode(s2s.BasicDecoder(cell, helper, init, proj), scope=sc)
    n_vars = len(tf.global_variables())
    with tf.variable_scope(sc, reuse=True):
        greedy = s2s.GreedyEmbeddingHelper(emb, tf.fill([batch], 0), end)
        inf, _, ilen = s2s.dynamic_decode(s2s.BasicDecoder(cell, greedy, init, proj),
                                          maximum_iterations=cap, scope=sc)
    assert len(tf.global_variables()) == n_vars
    steps = tf.range(tf.shape(tr.rnn_output)[1])
    mask = tf.cast(tf.less(steps[None], tlen[:, None]), tf.float32)
    loss = s2s.sequence_loss(tr.rnn_output, tin, mask)
    opt = tf.train.AdamOptimizer(0.05).minimize(loss)
    rng = np.random.RandomState(0)
    feed = {src: rng.randint(2, V, (4, 5)), slen: [5, 4, 3, 5],
            tin: rng.randint(1, V, (4, 5)), tlen: [5, 3, 4, 2]}
    with tf.Session(backend="llvm") as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss, feed)
        for _ in range(30):
            sess.run(opt, feed)
        last = sess.run(loss, feed)
        ids, logits, ln = sess.run([inf.sample_id, inf.rnn_output, ilen],
                                   {src: feed[src], slen: feed[slen]})
    assert last < 0.3 * first, (first, last)
    np.testing.assert_array_equal(ids, logits.argmax(-1))
    for i in range(4):
        row = list(ids[i])
        assert ln[i] == (row.index(end) + 1 if end in row[:cap] else cap)


def test_two_mechanisms_concatenate_their_attentions():
    """A list of mechanisms (Bahdanau over a masked memory, Luong over another): TF's names
    (memory_layer_1, attention_layer_1), tuple alignments, values vs NumPy."""
    tf.reset_default_graph()
    rng = np.random.RandomState(7)
    m1v, m2v = rng.randn(B, MT, MD), rng.randn(B, 4, 3)
    xv = rng.randn(B, T, D)
    m1, m2 = tf.constant(m1v, tf.float32), tf.constant(m2v, tf.float32)
    mechs = [s2s.BahdanauAttention(5, m1, MEM_LEN), s2s.LuongAttention(H, m2)]
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.BasicLSTMCell(H), mechs,
                                attention_layer_size=[7, 4])
    assert cell.output_size == 11
    dec = s2s.BasicDecoder(cell, s2s.TrainingHelper(tf.constant(xv, tf.float32), [T] * B),
                           cell.zero_state(B, tf.float32))
    out, st, _ = s2s.dynamic_decode(dec)
    pre = "decoder/attention_wrapper/"
    assert [v.op.name for v in tf.global_variables()] == [
        "memory_layer/kernel", "memory_layer_1/kernel", pre + "basic_lstm_cell/kernel",
        pre + "basic_lstm_cell/bias", pre + "bahdanau_attention/query_layer/kernel",
        pre + "bahdanau_attention/attention_v", pre + "attention_layer/kernel",
        pre + "attention_layer_1/kernel"]
    with tf.Session(backend="llvm") as sess:
        w = {}
        for v in tf.global_variables():
            v.load(rng.uniform(-0.7, 0.7, v.shape.as_list()).astype(np.float32), sess)
            w[v.op.name] = sess.run(v)
        o, al = sess.run([out.rnn_output, st.alignments])
    live = np.arange(MT)[None, :] < MEM_LEN[:, None]
    v1 = m1v * live[:, :, None]
    k1, k2 = v1 @ w["memory_layer/kernel"], m2v @ w["memory_layer_1/kernel"]
    c, h, attn, outs = np.zeros((B, H)), np.zeros((B, H)), np.zeros((B, 11)), []
    for t in range(T):
        h, c = np_lstm(np.concatenate([xv[:, t], attn], 1), c, h,
                       w[pre + "basic_lstm_cell/kernel"], w[pre + "basic_lstm_cell/bias"])
        pq = (h @ w[pre + "bahdanau_attention/query_layer/kernel"])[:, None]
        s1 = (w[pre + "bahdanau_attention/attention_v"] * np.tanh(k1 + pq)).sum(2)
        a1 = softmax(np.where(live, s1, -np.inf))
        a2 = softmax(np.einsum("bu,bmu->bm", h, k2))
        ctx1, ctx2 = np.einsum("bm,bmd->bd", a1, v1), np.einsum("bm,bmd->bd", a2, m2v)
        attn = np.concatenate([np.concatenate([h, ctx1], 1) @ w[pre + "attention_layer/kernel"],
                               np.concatenate([h, ctx2], 1) @ w[pre + "attention_layer_1/kernel"]],
                              1)
        outs.append(attn)
    np.testing.assert_allclose(o, np.stack(outs, 1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(al[0], a1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(al[1], a2, rtol=1e-4, atol=1e-6)
