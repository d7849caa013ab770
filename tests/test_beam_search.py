"""tf.contrib.seq2seq beam search: gather_tree against a loop transcription of TF's GatherTree
kernel; BeamSearchDecoder under dynamic_decode against an independent NumPy beam search with
TF 1.15's step rules (end_token, length and coverage penalties, an AttentionWrapper cell with
tile_batch'd memory and its alignment history reordered); beam_width=1 is greedy decoding."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

s2s = tf.contrib.seq2seq
B, K, V, D, H, END = 2, 3, 7, 4, 6, 2
F32_MIN = np.finfo(np.float32).min


# ------------------------------------------------------------------------- gather_tree ------

def np_gather_tree(step, parent, lens, end):
    """TF's CPU GatherTree kernel, element by element."""
    T, nb, nk = step.shape
    out = np.full(step.shape, end, np.int32)
    for b in range(nb):
        n = min(T, int(lens[b]))
        for k in range(nk):
            if n <= 0:
                continue
            out[n - 1, b, k] = step[n - 1, b, k]
            p = parent[n - 1, b, k]
            for level in range(n - 2, -1, -1):
                out[level, b, k] = step[level, b, p]
                p = parent[level, b, p]
            done = False
            for t in range(n):
                if done:
                    out[t, b, k] = end
                elif out[t, b, k] == end:
                    done = True
    return out


def run_gather_tree(backend, step, parent, lens, end):
    tf.reset_default_graph()
    ph = [tf.placeholder(tf.int32, [None, step.shape[1], step.shape[2]]) for _ in range(2)]
    ln = tf.placeholder(tf.int32, [step.shape[1]])
    out = s2s.gather_tree(ph[0], ph[1], ln, end)
    assert out.dtype == tf.int32 and out.shape.as_list() == [None] + list(step.shape[1:])
    with tf.Session(backend=backend) as sess:
        return sess.run(out, {ph[0]: step, ph[1]: parent, ln: lens})


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_gather_tree_hand_made(backend):
    # TF's own case: max_time 4, batch 1, beams 3, the last step past the length
    step = np.array([[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]], [[-1, -1, -1]]], np.int32)
    parent = np.array([[[0, 0, 0]], [[0, 1, 1]], [[2, 1, 2]], [[-1, -1, -1]]], np.int32)
    got = run_gather_tree(backend, step, parent, np.array([3], np.int32), 10)
    want = np.array([[[2, 2, 2]], [[6, 5, 6]], [[7, 8, 9]], [[10, 10, 10]]], np.int32)
    np.testing.assert_array_equal(got, want)
    # an end_token (5) in the middle of beam 1: everything after it becomes 5
    step2 = np.array([[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]], [[1, 1, 1]]], np.int32)
    parent2 = np.array([[[0, 0, 0]], [[0, 1, 2]], [[0, 1, 2]], [[0, 1, 2]]], np.int32)
    got = run_gather_tree(backend, step2, parent2, np.array([4], np.int32), 5)
    want = np.array([[[1, 2, 3]], [[4, 5, 6]], [[7, 5, 9]], [[1, 5, 1]]], np.int32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_gather_tree_random_matches_kernel_loop(backend):
    rng = np.random.RandomState(0)
    T, nb, nk, end = 9, 4, 5, 3
    step = rng.randint(0, 8, (T, nb, nk)).astype(np.int32)
    parent = rng.randint(0, nk, (T, nb, nk)).astype(np.int32)
    lens = np.array([0, 4, 9, 12], np.int32)        # empty, short, full, past max_time
    got = run_gather_tree(backend, step, parent, lens, end)
    want = np_gather_tree(step, parent, lens, end)
    assert (want == end).any() and (want != end).any()
    np.testing.assert_array_equal(got, want)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 3), st.integers(1, 4), st.integers(0, 2 ** 31 - 1))
def test_gather_tree_any_shape(T, nb, nk, seed):
    """Any [T, batch, beam], lengths from 0 to past T, ids that often hit end_token."""
    rng = np.random.RandomState(seed)
    step = rng.randint(0, 4, (T, nb, nk)).astype(np.int32)
    parent = rng.randint(0, nk, (T, nb, nk)).astype(np.int32)
    lens = rng.randint(0, T + 3, nb).astype(np.int32)
    got = run_gather_tree("reference", step, parent, lens, 1)
    np.testing.assert_array_equal(got, np_gather_tree(step, parent, lens, 1))


def test_gather_tree_graph_def_round_trip():
    """GatherTree is written to a GraphDef as TF's op (attr T) and imported back."""
    tf.reset_default_graph()
    ids = tf.placeholder(tf.int32, [None, 1, 3], name="ids")
    out = s2s.gather_tree(ids, tf.zeros_like(ids), tf.constant([3]), 10)
    gd = tf.get_default_graph().as_graph_def()
    node = [n for n in gd.node if n.op == "GatherTree"]
    assert len(node) == 1 and node[0].attr["T"].type == 3          # DT_INT32
    tf.reset_default_graph()
    tf.import_graph_def(gd, name="")
    g = tf.get_default_graph()
    step = np.array([[[1, 2, 3]], [[4, 10, 6]], [[7, 8, 9]]], np.int32)
    with tf.Session(graph=g, backend="llvm") as sess:
        got = sess.run(g.get_tensor_by_name(out.name), {g.get_tensor_by_name("ids:0"): step})
    np.testing.assert_array_equal(got, np_gather_tree(step, np.zeros_like(step), [3], 10))


def test_gather_tree_bad_parent_is_an_error():
    step = np.array([[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9]]], np.int32)
    parent = np.array([[[0, 0, 0]], [[0, -1, 1]], [[2, 1, 2]]], np.int32)
    with pytest.raises(InvalidArgumentError, match=r"parent id -1 at \(batch, time, beam\)"):
        run_gather_tree("llvm", step, parent, np.array([3], np.int32), 10)
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="step_ids must have rank 3"):
        s2s.gather_tree(tf.zeros([3, 2], tf.int32), tf.zeros([3, 2], tf.int32),
                        tf.zeros([2], tf.int32), 1)


# ----------------------------------------------------------------- NumPy beam search ------

def log_softmax(x):
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def np_beam_search(cell, state, start_inputs, emb, k, max_iter, lp_w=0.0, cov_w=0.0):
    """TF 1.15's BeamSearchDecoder under dynamic_decode. ``cell(inputs, state) -> (logits,
    state, alignments)`` on [batch * k] rows; ``state`` a list of [batch * k, ...] arrays."""
    nb = start_inputs.shape[0] // k
    log_probs = np.where(np.arange(k) == 0, 0.0, -np.inf)[None].repeat(nb, 0).astype(np.float32)
    finished = np.arange(k)[None].repeat(nb, 0) != 0
    lengths = np.zeros((nb, k), np.int64)
    acc = None
    dd_fin, dd_len = finished.copy(), np.zeros((nb, k), np.int32)
    inp, steps, t, hist = start_inputs, [], 0, []
    while not dd_fin.all():
        logits, state, align = cell(inp, state)
        hist.append(align)
        vocab = logits.shape[-1]
        lp = log_softmax(logits.reshape(nb, k, vocab))
        row = np.where(np.arange(vocab) == END, 0.0, F32_MIN)
        lp = np.where(finished[:, :, None], row, lp).astype(np.float32)
        total = log_probs[:, :, None] + lp
        new_len = lengths[:, :, None] + (np.arange(vocab) != END) * ~finished[:, :, None]
        scores = total / ((5.0 + new_len) ** lp_w / 6.0 ** lp_w) if lp_w else total
        if cov_w:
            a = align.reshape(nb, k, -1) * ~finished[:, :, None]
            acc = (0 if acc is None else acc) + a
            cov = np.log(np.minimum(np.where(acc == 0, 1.0, acc), 1.0)).sum(2) * finished
            scores = scores + cov_w * cov[:, :, None]
        flat = scores.reshape(nb, -1)
        idx = np.argsort(-flat, axis=1, kind="stable")[:, :k]          # ties: lower first
        words, parents = idx % vocab, idx // vocab
        log_probs = np.take_along_axis(total.reshape(nb, -1), idx, 1)
        prev = np.take_along_axis(finished, parents, 1)
        finished = prev | (words == END)
        lengths = np.take_along_axis(lengths, parents, 1) + ~prev
        rows = (parents + np.arange(nb)[:, None] * k).reshape(-1)
        state = [s[rows] for s in state]
        if acc is not None:
            acc = acc.reshape(nb * k, -1)[rows].reshape(nb, k, -1)
        steps.append((np.take_along_axis(flat, idx, 1), words, parents))
        dd_len = np.where(~dd_fin, t + 1, dd_len)
        dd_fin = finished | (t + 1 >= max_iter)
        inp = start_inputs if finished.all() else emb[words.reshape(-1)]
        t += 1
    scores, words, parents = (np.stack(x, 0) for x in zip(*steps))
    ids = np_gather_tree(words, parents, lengths.max(1), END)
    return dict(ids=ids, scores=scores, words=words, parents=parents, log_probs=log_probs,
                lengths=lengths, dd_len=dd_len, state=state, hist=np.stack(hist, 0))


def np_rnn_cell(w):
    def cell(x, state):
        h = np.tanh(np.concatenate([x, state[0]], 1) @ w["decoder/basic_rnn_cell/kernel"]
                    + w["decoder/basic_rnn_cell/bias"])
        return h @ w["decoder/dense/kernel"] + w["decoder/dense/bias"], [h], None
    return cell


def load_random(sess, seed, scale=1.0, end_bias=0.0):
    rng = np.random.RandomState(seed)
    w = {}
    for v in tf.global_variables():
        val = rng.uniform(-scale, scale, v.shape.as_list()).astype(np.float32)
        if v.op.name == "decoder/dense/bias":
            val[END] += end_bias
        v.load(val, sess)
        w[v.op.name] = val
    return w


def batch_major(x):
    return np.transpose(x, (1, 0, 2))


def check(o, s, ln, ref, state_names=()):
    np.testing.assert_array_equal(o.predicted_ids, batch_major(ref["ids"]))
    bo = o.beam_search_decoder_output
    np.testing.assert_array_equal(bo.predicted_ids, batch_major(ref["words"]))
    np.testing.assert_array_equal(bo.parent_ids, batch_major(ref["parents"]))
    np.testing.assert_allclose(bo.scores, batch_major(ref["scores"]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(s.log_probs, ref["log_probs"], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(s.lengths, ref["lengths"])
    np.testing.assert_array_equal(ln, ref["dd_len"])


def build_rnn_decoder(k, lp_w=0.0, max_iter=8, static_batch=True):
    tf.reset_default_graph()
    start = tf.placeholder(tf.int32, [B if static_batch else None], name="start")
    emb = tf.get_variable("embedding", [V, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    n = B * k if static_batch else tf.size(start) * k
    dec = s2s.BeamSearchDecoder(cell, emb, start, END, cell.zero_state(n, tf.float32), k,
                                output_layer=tf.layers.Dense(V), length_penalty_weight=lp_w)
    return start, dec, s2s.dynamic_decode(dec, maximum_iterations=max_iter)


@pytest.mark.parametrize("lp_w,backend,static_batch", [
    (0.0, "llvm", True), (0.8, "llvm", True), (0.8, "reference", True), (0.8, "llvm", False)])
def test_beam_search_matches_numpy(lp_w, backend, static_batch):
    start, dec, (out, st, ln) = build_rnn_decoder(K, lp_w, static_batch=static_batch)
    assert isinstance(out, s2s.FinalBeamSearchDecoderOutput)
    assert isinstance(st, s2s.BeamSearchDecoderState)
    b = B if static_batch else None
    assert out.predicted_ids.shape.as_list() == [b, None, K]
    assert out.beam_search_decoder_output.scores.dtype == tf.float32
    assert st.lengths.dtype == tf.int64 and ln.shape.as_list() == [b, K]
    assert sorted(v.op.name for v in tf.global_variables()) == [
        "decoder/basic_rnn_cell/bias", "decoder/basic_rnn_cell/kernel",
        "decoder/dense/bias", "decoder/dense/kernel", "embedding"]
    sv = np.array([0, 5], np.int32)
    with tf.Session(backend=backend) as sess:
        w = load_random(sess, 17, 1.2, end_bias=1.5)
        o, s, n = sess.run([out, st, ln], {start: sv})
    emb = w["embedding"]
    ref = np_beam_search(np_rnn_cell(w), [np.zeros((B * K, H), np.float32)],
                         emb[np.repeat(sv, K)], emb, K, 8, lp_w)
    # the case tests end_token handling only if some beams end early and others do not
    assert ref["lengths"].min() < ref["lengths"].max() == 8, ref["lengths"]
    assert (ref["ids"] == END).any()
    check(o, s, n, ref)
    np.testing.assert_allclose(s.cell_state, ref["state"][0].reshape(B, K, H), rtol=1e-4,
                               atol=1e-5)


def test_length_penalty_changes_the_choice():
    """The same weights with and without a length penalty rank the final beams differently
    (the penalty favours longer beams), each as the NumPy search says."""
    rng_ids = []
    for lp_w in (0.0, 2.0):
        start, dec, (out, st, ln) = build_rnn_decoder(K, lp_w)
        with tf.Session(backend="llvm") as sess:
            w = load_random(sess, 17, 1.2, end_bias=1.5)
            o = sess.run(out, {start: np.array([0, 5], np.int32)})
        rng_ids.append(o.predicted_ids)
        emb = w["embedding"]
        ref = np_beam_search(np_rnn_cell(w), [np.zeros((B * K, H), np.float32)],
                             emb[np.repeat([0, 5], K)], emb, K, 8, lp_w)
        np.testing.assert_array_equal(o.predicted_ids, batch_major(ref["ids"]))
    assert rng_ids[0].shape != rng_ids[1].shape or (rng_ids[0] != rng_ids[1]).any()


def test_beam_width_one_is_greedy():
    tf.reset_default_graph()
    start = tf.constant([0, 5, 3], tf.int32)
    n = 3
    emb = tf.get_variable("embedding", [V, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    proj = tf.layers.Dense(V)
    with tf.variable_scope("dec", reuse=tf.AUTO_REUSE) as sc:
        greedy = s2s.BasicDecoder(cell, s2s.GreedyEmbeddingHelper(emb, start, END),
                                  cell.zero_state(n, tf.float32), proj)
        g_out, _, g_len = s2s.dynamic_decode(greedy, maximum_iterations=8, scope=sc)
        beam = s2s.BeamSearchDecoder(cell, emb, start, END, cell.zero_state(n, tf.float32), 1,
                                     output_layer=proj)
        b_out, b_st, b_len = s2s.dynamic_decode(beam, maximum_iterations=8, scope=sc)
    assert len(tf.global_variables()) == 5
    with tf.Session(backend="llvm") as sess:
        load_random(sess, 4, 1.2, end_bias=0.8)
        g, gl, b, bs, bl = sess.run([g_out, g_len, b_out, b_st, b_len])
    assert gl.min() < gl.max(), gl
    np.testing.assert_array_equal(bl[:, 0], gl)
    np.testing.assert_array_equal(bs.lengths[:, 0], gl)
    ids = b.predicted_ids[:, :, 0]
    assert ids.shape == g.sample_id.shape
    steps = np.arange(ids.shape[1])[None, :]
    np.testing.assert_array_equal(np.where(steps < gl[:, None], g.sample_id, END), ids)
    # each step's score is the running sum of the greedy choices' log-probabilities
    lp = np.take_along_axis(log_softmax(g.rnn_output), g.sample_id[..., None], 2)[..., 0]
    cum = np.cumsum(np.where(steps < gl[:, None], lp, 0.0), 1)
    np.testing.assert_allclose(b.beam_search_decoder_output.scores[:, :, 0], cum, rtol=1e-4,
                               atol=1e-4)


# --------------------------------------------------------------------------- attention ------

MT, MD = 5, 4
MEM_LEN = np.array([5, 3], np.int32)


def np_attention_cell(w, mem):
    live = np.arange(MT)[None, :] < np.repeat(MEM_LEN, K)[:, None]
    values = np.repeat(mem, K, 0) * live[:, :, None]
    keys = values @ w["memory_layer/kernel"]
    pre = "decoder/attention_wrapper/basic_rnn_cell/"

    def cell(x, state):
        h, attn = state
        h = np.tanh(np.concatenate([x, attn, h], 1) @ w[pre + "kernel"] + w[pre + "bias"])
        score = np.where(live, np.einsum("bu,bmu->bm", h, keys), -np.inf)
        e = np.exp(score - score.max(1, keepdims=True))
        align = e / e.sum(1, keepdims=True)
        attn = np.einsum("bm,bmd->bd", align, values)
        return attn @ w["decoder/dense/kernel"] + w["decoder/dense/bias"], [h, attn], align
    return cell


@pytest.mark.parametrize("cov_w,backend,static_batch", [
    (0.0, "llvm", True), (0.6, "llvm", True), (0.6, "reference", True), (0.6, "llvm", False)])
def test_attention_wrapper_beam_search(cov_w, backend, static_batch):
    tf.reset_default_graph()
    b = B if static_batch else None
    mem = tf.placeholder(tf.float32, [b, MT, MD], name="memory")
    start = tf.placeholder(tf.int32, [b], name="start")
    mem_len = tf.placeholder(tf.int32, [b], name="memory_length")
    emb = tf.get_variable("embedding", [V, D])
    mech = s2s.LuongAttention(H, s2s.tile_batch(mem, K),
                              memory_sequence_length=s2s.tile_batch(mem_len, K))
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.BasicRNNCell(H), mech, alignment_history=True)
    n = B * K if static_batch else tf.size(start) * K
    dec = s2s.BeamSearchDecoder(cell, emb, start, END, cell.zero_state(n, tf.float32), K,
                                output_layer=tf.layers.Dense(V),
                                coverage_penalty_weight=cov_w)
    out, st, ln = s2s.dynamic_decode(dec, maximum_iterations=7)
    hist = st.cell_state.alignment_history          # reordered and stacked, as TF returns it
    assert isinstance(hist, tf.Tensor)
    assert hist.shape.as_list() == [None, B * K if static_batch else None, MT]
    mv = np.random.RandomState(1).randn(B, MT, MD).astype(np.float32)
    with tf.Session(backend=backend) as sess:
        w = load_random(sess, 7, 1.0, end_bias=0.5)
        o, s, n, hv = sess.run([out, st, ln, hist],
                               {mem: mv, start: np.array([1, 4], np.int32), mem_len: MEM_LEN})
    emb_v = w["embedding"]
    ref = np_beam_search(np_attention_cell(w, mv), [np.zeros((B * K, H), np.float32),
                                                     np.zeros((B * K, MD), np.float32)],
                         emb_v[np.repeat([1, 4], K)], emb_v, K, 7, cov_w=cov_w)
    assert ref["lengths"].min() < ref["lengths"].max(), ref["lengths"]
    check(o, s, n, ref)
    np.testing.assert_allclose(s.cell_state.cell_state, ref["state"][0].reshape(B, K, H),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s.cell_state.attention, ref["state"][1].reshape(B, K, MD),
                               rtol=1e-4, atol=1e-5)
    # TF's reordering: step t's rows follow the backtracked beam ids within each length
    T = ref["words"].shape[0]
    beam_ids = np.broadcast_to(np.arange(K, dtype=np.int32), (T, B, K))
    srt = np_gather_tree(beam_ids, ref["parents"], ref["lengths"].max(1), K + 1)
    srt = np.where(np.arange(T)[:, None, None] < ref["lengths"][None], srt, beam_ids)
    want = np.stack([ref["hist"][t].reshape(B, K, MT)[np.arange(B)[:, None], srt[t]]
                     for t in range(T)]).reshape(T, B * K, MT)
    np.testing.assert_allclose(hv, want, rtol=1e-4, atol=1e-5)


def test_errors_say_what_was_given():
    tf.reset_default_graph()
    emb = tf.zeros([V, D])
    cell = tf.nn.rnn_cell.BasicRNNCell(H)
    with pytest.raises(TypeError, match="cell must be an RNNCell"):
        s2s.BeamSearchDecoder("cell", emb, [0, 1], END, None, 3)
    with pytest.raises(ValueError, match="start_tokens must be a vector"):
        s2s.BeamSearchDecoder(cell, emb, 0, END, cell.zero_state(3, tf.float32), 3)
    with pytest.raises(ValueError, match="end_token must be a scalar"):
        s2s.BeamSearchDecoder(cell, emb, [0], [END], cell.zero_state(3, tf.float32), 3)
    with pytest.raises(ValueError, match="Perhaps you forgot to create a zero_state"):
        s2s.BeamSearchDecoder(cell, emb, [0, 1], END, cell.zero_state(2, tf.float32), 3)
    with pytest.raises(ValueError, match="coverage_penalty_weight must be 0.0 if no cell is "
                                         "attentional"):
        s2s.BeamSearchDecoder(cell, emb, [0, 1], END, cell.zero_state(6, tf.float32), 3,
                              coverage_penalty_weight=0.5).initialize()


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_beam_top_k_rounds_equal_top_k(backend):
    """The decoder's k-round top-k gives tf.nn.top_k's values and indices (ties and -inf:
    the lower index first) and NumPy's stable descending order."""
    from jitflow.frontend.seq2seq_beam_step import top_k_rounds
    rng = np.random.RandomState(3)
    x = rng.randint(-3, 3, (4, 21)).astype(np.float32)         # many ties
    x[1, :18] = -np.inf                     # 3 finite entries, then ties among the -inf ones
    x[2] = rng.randn(21)
    x[3, ::2] = F32_MIN
    tf.reset_default_graph()
    xt = tf.constant(x)
    mine, theirs = top_k_rounds(xt, 5), tf.nn.top_k(xt, 5)
    with tf.Session(backend=backend) as sess:
        (mv, mi), (tv, ti) = sess.run([mine, theirs])
    want = np.argsort(-x, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(mi, want)
    np.testing.assert_array_equal(ti, want)
    np.testing.assert_array_equal(mv, np.take_along_axis(x, want, 1))
    np.testing.assert_array_equal(tv, mv)


def test_reorder_tensor_arrays_false_keeps_the_array():
    tf.reset_default_graph()
    mem = tf.zeros([B, MT, MD])
    cell = s2s.AttentionWrapper(tf.nn.rnn_cell.BasicRNNCell(H),
                                s2s.LuongAttention(H, s2s.tile_batch(mem, K)),
                                alignment_history=True)
    dec = s2s.BeamSearchDecoder(cell, tf.zeros([V, D]), [0, 1], END,
                                cell.zero_state(B * K, tf.float32), K,
                                output_layer=tf.layers.Dense(V), reorder_tensor_arrays=False)
    _, st, _ = s2s.dynamic_decode(dec, maximum_iterations=3)
    hist = st.cell_state.alignment_history
    assert isinstance(hist, tf.TensorArray) and hist.stack().shape.as_list() == [None, B * K, MT]
