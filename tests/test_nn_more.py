"""tf.nn.fused_batch_norm, tf.contrib.rnn.LSTMBlockCell and
tf.contrib.rnn.stack_bidirectional_dynamic_rnn (frontend/nn_more.py): values vs NumPy
transcriptions with the session's own weights, TF's variable names, gradients."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

from _tfcheck import check_gradients


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_and_inference(data_format):
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    xv = rng.randn(4, 3, 5, 2).astype(np.float32)
    if data_format == "NCHW":
        xv = xv.transpose(0, 3, 1, 2).copy()
    axes = (0, 1, 2) if data_format == "NHWC" else (0, 2, 3)
    bshape = (1, 1, 1, 2) if data_format == "NHWC" else (1, 2, 1, 1)
    scale, offset = np.array([1.5, 0.5], np.float32), np.array([0.1, -0.2], np.float32)
    x = tf.placeholder(tf.float32, xv.shape)
    y, m, v = tf.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3, data_format=data_format)
    mi, vi = np.array([0.2, -0.1], np.float32), np.array([2.0, 0.5], np.float32)
    yi, mo, vo = tf.nn.fused_batch_norm(x, scale, offset, mean=mi, variance=vi, epsilon=1e-3,
                                        data_format=data_format, is_training=False)
    with tf.Session() as s:
        got = s.run([y, m, v, yi, mo, vo], {x: xv})
    mean, var = xv.mean(axes), xv.var(axes)
    n = xv.size // 2
    want = (xv - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-3) * \
        scale.reshape(bshape) + offset.reshape(bshape)
    np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], var * n / (n - 1), rtol=1e-5)    # Bessel-corrected
    wi = (xv - mi.reshape(bshape)) / np.sqrt(vi.reshape(bshape) + 1e-3) * \
        scale.reshape(bshape) + offset.reshape(bshape)
    np.testing.assert_allclose(got[3], wi, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[4], mi)
    np.testing.assert_array_equal(got[5], vi)


def test_fused_batch_norm_gradient_and_errors():
    scale = np.array([1.5, 0.5])
    check_gradients(lambda x: tf.nn.fused_batch_norm(x, tf.constant(scale), None)[0],
                    [np.random.RandomState(1).randn(2, 2, 3, 2)])
    x = tf.placeholder(tf.float32, [2, 3])
    with pytest.raises(ValueError, match="4-D"):
        tf.nn.fused_batch_norm(x, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="needs mean"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 1]), [1.0], is_training=False)
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.fused_batch_norm(tf.zeros([1, 2, 2, 1]), [1.0], data_format="NDHWC")


def _lstm_np(xs, kernel, bias, units, forget_bias, clip=None):
    h = np.zeros((xs.shape[0], units))
    c = np.zeros((xs.shape[0], units))
    out = []
    for t in range(xs.shape[1]):
        z = np.concatenate([xs[:, t], h], 1) @ kernel + bias
        i, j, f, o = np.split(z, 4, axis=1)
        c = _sigmoid(f + forget_bias) * c + _sigmoid(i) * np.tanh(j)
        if clip is not None:
            c = np.clip(c, -clip, clip)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.stack(out, 1), c, h


def test_lstm_block_cell_is_tf_s_lstm_with_its_names():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 4, 3])
    cell = tf.contrib.rnn.LSTMBlockCell(5, forget_bias=0.5, cell_clip=0.3)
    out, st = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    names = sorted(v.op.name for v in tf.trainable_variables())
    assert names == ["rnn/lstm_cell/bias", "rnn/lstm_cell/kernel"]
    kvar = [v for v in tf.trainable_variables() if v.op.name.endswith("kernel")][0]
    assert kvar.shape.as_list() == [3 + 5, 20]
    xv = np.random.RandomState(2).randn(2, 4, 3).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        bv = [v for v in tf.trainable_variables() if v.op.name.endswith("bias")][0]
        s.run(bv.assign(np.random.RandomState(3).randn(20).astype(np.float32)))
        got_o, got_c, got_h, k, b = s.run([out, st.c, st.h, kvar, bv], {x: xv})
    want_o, want_c, want_h = _lstm_np(xv.astype(np.float64), k, b, 5, 0.5, clip=0.3)
    np.testing.assert_allclose(got_o, want_o, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_c, want_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_h, want_h, rtol=1e-5, atol=1e-6)
    assert np.abs(got_c).max() <= 0.3 + 1e-6


def test_stack_bidirectional_dynamic_rnn_layers_and_names():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [2, 4, 3])
    lens = tf.placeholder(tf.int32, [2])
    fw = [tf.nn.rnn_cell.BasicRNNCell(4), tf.nn.rnn_cell.BasicRNNCell(2)]
    bw = [tf.nn.rnn_cell.BasicRNNCell(4), tf.nn.rnn_cell.BasicRNNCell(2)]
    out, st_fw, st_bw = tf.contrib.rnn.stack_bidirectional_dynamic_rnn(
        fw, bw, x, dtype=tf.float32, sequence_length=lens)
    assert out.shape.as_list() == [2, 4, 4] and len(st_fw) == len(st_bw) == 2
    names = sorted(v.op.name for v in tf.trainable_variables())
    assert names == sorted(f"stack_bidirectional_rnn/cell_{i}/bidirectional_rnn/{d}/"
                           f"basic_rnn_cell/{w}" for i in (0, 1) for d in ("fw", "bw")
                           for w in ("kernel", "bias"))
    xv = np.random.RandomState(4).randn(2, 4, 3).astype(np.float32)
    lv = np.array([4, 2], np.int32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        got, w = s.run([out, {v.op.name: v for v in tf.trainable_variables()}], {x: xv, lens: lv})

    def run_np(inp, k, b, reverse):
        outs = np.zeros((2, 4, k.shape[1]))
        for n in range(2):
            h = np.zeros(k.shape[1])
            steps = range(lv[n])[::-1] if reverse else range(lv[n])
            for t in steps:
                h = np.tanh(np.concatenate([inp[n, t], h]) @ k + b)
                outs[n, t] = h
        return outs
    prev = xv.astype(np.float64)
    for i in (0, 1):
        p = f"stack_bidirectional_rnn/cell_{i}/bidirectional_rnn/"
        o_f = run_np(prev, w[p + "fw/basic_rnn_cell/kernel"], w[p + "fw/basic_rnn_cell/bias"],
                     False)
        o_b = run_np(prev, w[p + "bw/basic_rnn_cell/kernel"], w[p + "bw/basic_rnn_cell/bias"],
                     True)
        prev = np.concatenate([o_f, o_b], 2)
    np.testing.assert_allclose(got, prev, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="same depth"):
        tf.contrib.rnn.stack_bidirectional_dynamic_rnn(fw, bw[:1], x, dtype=tf.float32)
