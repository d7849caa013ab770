"""tf.keras.layers from frontend/keras_layers_more.py and keras_layers_act.py in TF1 graph
code: values against NumPy (with the weights read back from the session), TF 1.15's default
names and weight names/shapes, gradients against finite differences for the layers with
weights, the training-only noise layers, and the layers inside a Sequential trained by fit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from _kerascheck import check_layer_gradients, run_layer

KL = tf.keras.layers
rng = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    yield


def x3(n=2, t=7, c=3):
    return rng.randn(n, t, c).astype(np.float32)


def x4(n=2, h=5, w=6, c=3):
    return rng.randn(n, h, w, c).astype(np.float32)


# ---------------------------------------------------------------------- numpy references ---

def np_conv1d(x, k, b, stride=1, padding="valid", dilation=1):
    kw = (k.shape[0] - 1) * dilation + 1
    if padding == "same":
        out_len = -(-x.shape[1] // stride)
        total = max((out_len - 1) * stride + kw - x.shape[1], 0)
        x = np.pad(x, [(0, 0), (total // 2, total - total // 2), (0, 0)])
    out_len = (x.shape[1] - kw) // stride + 1
    y = np.zeros((x.shape[0], out_len, k.shape[2]))
    for t in range(out_len):
        for j in range(k.shape[0]):
            y[:, t] += x[:, t * stride + j * dilation] @ k[j]
    return y + b


def np_conv2d_transpose_valid(x, k, b, s):
    n, h, w, _ = x.shape
    kh, kw, f, _ = k.shape
    y = np.zeros((n, (h - 1) * s + kh, (w - 1) * s + kw, f))
    for i in range(h):
        for j in range(w):
            y[:, i * s:i * s + kh, j * s:j * s + kw] += np.einsum("nc,abfc->nabf", x[:, i, j], k)
    return y[:, :h * s + max(kh - s, 0), :w * s + max(kw - s, 0)] + b


def np_pool1d(x, p, s, padding, op):
    n = x.shape[1]
    out = -(-n // s) if padding == "same" else (n - p) // s + 1
    lo = max((out - 1) * s + p - n, 0) // 2 if padding == "same" else 0
    rows = []
    for t in range(out):
        a = t * s - lo
        win = x[:, max(a, 0):min(a + p, n)]
        rows.append(win.max(1) if op == "max" else win.mean(1))
    return np.stack(rows, 1)


# ---------------------------------------------------------------------- conv ---------------

@pytest.mark.parametrize("kw", [dict(), dict(padding="same", strides=2),
                                dict(dilation_rate=2, activation="relu")])
def test_conv1d_values_and_weights(kw):
    layer = KL.Conv1D(4, 3, **kw)
    x = x3(t=9)
    bias = rng.randn(4)
    out, (k, b) = run_layer(layer, x, [rng.randn(3, 3, 4), bias])
    assert layer.name == "conv1d"
    assert [v.name for v in layer.weights] == ["conv1d/kernel:0", "conv1d/bias:0"]
    assert k.shape == (3, 3, 4) and np.allclose(b, bias)
    want = np_conv1d(x, k, b, kw.get("strides", 1), kw.get("padding", "valid"),
                     kw.get("dilation_rate", 1))
    if kw.get("activation") == "relu":
        want = np.maximum(want, 0)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def np_causal_conv1d(x, k, b, stride=1, dilation=1):
    """y[t] = sum_j x[t*stride - dilation*(K-1-j)] @ k[j], zeros before the start."""
    n, T, _ = x.shape
    K = k.shape[0]
    out_len = (T - 1) // stride + 1
    y = np.zeros((n, out_len, k.shape[2]))
    for t in range(out_len):
        for j in range(K):
            src = t * stride - dilation * (K - 1 - j)
            if src >= 0:
                y[:, t] += x[:, src] @ k[j]
    return y + b


@pytest.mark.parametrize("ksize,dil,stride", [(3, 1, 1), (2, 4, 1), (3, 2, 2), (1, 1, 1)])
def test_conv1d_causal_values(ksize, dil, stride):
    layer = KL.Conv1D(4, ksize, padding="causal", dilation_rate=dil, strides=stride)
    x = x3(t=10)
    out, (k, b) = run_layer(layer, x, [rng.randn(ksize, 3, 4), rng.randn(4)])
    assert out.shape == (2, (10 - 1) // stride + 1, 4)
    np.testing.assert_allclose(out, np_causal_conv1d(x, k, b, stride, dil), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_conv1d_causal_output_depends_only_on_the_past(backend):
    layer = KL.Conv1D(3, 3, padding="causal", dilation_rate=2)
    ph = tf.placeholder(tf.float32, [None, 12, 2])
    out = layer(ph)
    assert out.shape.as_list() == [None, 12, 3]
    x = x3(t=12, c=2)
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        base = s.run(out, {ph: x})
        for t in (0, 5, 11):
            x2 = x.copy()
            x2[:, t + 1:] += rng.randn(*x2[:, t + 1:].shape).astype(np.float32) * 10
            got = s.run(out, {ph: x2})
            np.testing.assert_allclose(got[:, :t + 1], base[:, :t + 1], rtol=1e-5, atol=1e-5)
            if t < 11:                             # and the future does change
                assert not np.allclose(got[:, t + 1:], base[:, t + 1:])
        k, b = s.run(layer.weights)
    np.testing.assert_allclose(base, np_causal_conv1d(x, k, b, 1, 2), rtol=1e-4, atol=1e-4)


@settings(max_examples=12, deadline=None)
@given(t=st.integers(1, 9), k=st.integers(1, 4), dil=st.integers(1, 3), stride=st.integers(1, 3))
def test_conv1d_causal_shapes_vary(t, k, dil, stride):
    tf.reset_default_graph()
    r = np.random.RandomState(t * 100 + k * 10 + dil)
    x = r.randn(2, t, 2).astype(np.float32)
    layer = KL.Conv1D(3, k, padding="causal", dilation_rate=dil, strides=stride)
    ph = tf.placeholder(tf.float32, [None, t, 2])
    out = layer(ph)
    assert out.shape.as_list() == [None, (t - 1) // stride + 1, 3]
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        got, (kv, bv) = s.run(out, {ph: x}), s.run(layer.weights)
    np.testing.assert_allclose(got, np_causal_conv1d(x, kv, bv, stride, dil), rtol=1e-4,
                               atol=1e-5)


def test_conv1d_causal_gradients_and_padding_errors():
    check_layer_gradients(lambda: KL.Conv1D(2, 3, padding="causal", dilation_rate=2),
                          rng.randn(2, 6, 2))
    with pytest.raises(ValueError, match="'valid', 'same'"):
        tf.layers.Conv1D(2, 3, padding="causal")     # TF1's tf.layers documents valid/same
    with pytest.raises(ValueError, match="'valid', 'same'"):
        KL.Conv1D(2, 3, padding="full")


def test_conv1d_kernel_initializer_default_is_glorot_uniform():
    layer = KL.Conv1D(50, 4)
    _, (k, b) = run_layer(layer, x3(c=30, t=8))
    limit = np.sqrt(6.0 / (4 * 30 + 4 * 50))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit
    assert not b.any()


def test_conv2d_transpose_values():
    layer = KL.Conv2DTranspose(2, (3, 2), strides=2)
    x = x4(h=3, w=4)
    out, (k, b) = run_layer(layer, x, [rng.randn(3, 2, 2, 3), rng.randn(2)])
    assert [v.name for v in layer.weights] == ["conv2d_transpose/kernel:0",
                                               "conv2d_transpose/bias:0"]
    assert k.shape == (3, 2, 2, 3)
    np.testing.assert_allclose(out, np_conv2d_transpose_valid(x, k, b, 2), rtol=1e-4,
                               atol=1e-4)


def test_conv_gradients():
    check_layer_gradients(lambda: KL.Conv1D(2, 3, padding="same"), rng.randn(2, 5, 2))
    check_layer_gradients(lambda: KL.Conv2DTranspose(2, 2, strides=2), rng.randn(1, 2, 2, 2))


# ---------------------------------------------------------------------- pooling ------------

@pytest.mark.parametrize("cls,op", [(KL.MaxPooling1D, "max"), (KL.AveragePooling1D, "mean")])
@pytest.mark.parametrize("p,s,padding", [(2, None, "valid"), (3, 2, "same"), (3, 1, "valid")])
def test_pooling1d(cls, op, p, s, padding):
    x = x3(t=8)
    out, _ = run_layer(cls(p, s, padding), x)
    np.testing.assert_allclose(out, np_pool1d(x, p, s or p, padding, op), rtol=1e-5, atol=1e-6)


def test_global_poolings_and_names():
    x, y = x3(), x4()
    cases = [(KL.GlobalAveragePooling1D(), x, x.mean(1), "global_average_pooling1d"),
             (KL.GlobalMaxPooling1D(), x, x.max(1), "global_max_pooling1d"),
             (KL.GlobalAveragePooling2D(), y, y.mean((1, 2)), "global_average_pooling2d"),
             (KL.GlobalMaxPooling2D(), y, y.max((1, 2)), "global_max_pooling2d"),
             (KL.GlobalAveragePooling2D(data_format="channels_first"), y, y.mean((2, 3)),
              "global_average_pooling2d_1"),
             (KL.GlobalMaxPooling1D(data_format="channels_first"), x, x.max(2),
              "global_max_pooling1d_1")]
    for layer, inp, want, name in cases:
        out, _ = run_layer(layer, inp)
        assert layer.name == name
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ndim=4"):
        KL.GlobalAveragePooling2D()(tf.placeholder(tf.float32, [None, 3, 2]))


# ---------------------------------------------------------------------- shapes -------------

def test_reshape_permute_repeat():
    x = x4(h=2, w=3, c=4)
    out, _ = run_layer(KL.Reshape((6, -1)), x)
    np.testing.assert_array_equal(out, x.reshape(2, 6, 4))
    out, _ = run_layer(KL.Permute((3, 1, 2)), x)
    np.testing.assert_array_equal(out, x.transpose(0, 3, 1, 2))
    v = rng.randn(3, 5).astype(np.float32)
    out, _ = run_layer(KL.RepeatVector(4), v)
    np.testing.assert_array_equal(out, np.repeat(v[:, None], 4, 1))
    with pytest.raises(ValueError, match="one unknown"):
        KL.Reshape((-1, -1))
    with pytest.raises(ValueError, match="Permute"):
        KL.Permute((0, 1))


def test_padding_upsampling_cropping():
    x, y = x3(), x4()
    cases = [(KL.ZeroPadding1D(2), x, np.pad(x, [(0, 0), (2, 2), (0, 0)]), "zero_padding1d"),
             (KL.ZeroPadding1D((1, 3)), x, np.pad(x, [(0, 0), (1, 3), (0, 0)]), None),
             (KL.ZeroPadding2D(), y, np.pad(y, [(0, 0), (1, 1), (1, 1), (0, 0)]),
              "zero_padding2d"),
             (KL.ZeroPadding2D(((1, 0), (2, 3))), y, np.pad(y, [(0, 0), (1, 0), (2, 3), (0, 0)]),
              None),
             (KL.ZeroPadding2D((1, 2), data_format="channels_first"), y,
              np.pad(y, [(0, 0), (0, 0), (1, 1), (2, 2)]), None),
             (KL.UpSampling1D(3), x, np.repeat(x, 3, 1), "up_sampling1d"),
             (KL.UpSampling2D(), y, np.repeat(np.repeat(y, 2, 1), 2, 2), "up_sampling2d"),
             (KL.UpSampling2D((1, 3)), y, np.repeat(y, 3, 2), None),
             (KL.Cropping1D((1, 2)), x, x[:, 1:-2], "cropping1d"),
             (KL.Cropping2D(((1, 2), (0, 1))), y, y[:, 1:-2, 0:-1], "cropping2d"),
             (KL.Cropping2D(1), y, y[:, 1:-1, 1:-1], None)]
    for layer, inp, want, name in cases:
        out, _ = run_layer(layer, inp)
        if name:
            assert layer.name == name
        np.testing.assert_array_equal(out, want)


# ---------------------------------------------------------------------- activations --------

def np_keras_relu(x, alpha, max_value, threshold):
    y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    return y - alpha * np.maximum(threshold - x, 0)


def test_activation_layers_and_names():
    x = (rng.randn(3, 4, 5) * 2).astype(np.float32)
    e = np.exp(x - x.max(1, keepdims=True))
    cases = [(KL.LeakyReLU(), np.where(x > 0, x, 0.3 * x), "leaky_re_lu"),
             (KL.LeakyReLU(0.1), np.where(x > 0, x, 0.1 * x), "leaky_re_lu_1"),
             (KL.ELU(), np.where(x > 0, x, np.exp(x) - 1), "elu"),
             (KL.ELU(0.5), np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), "elu_1"),
             (KL.ReLU(), np.maximum(x, 0), "re_lu"),
             (KL.ReLU(max_value=1.5), np.clip(x, 0, 1.5), None),
             (KL.ReLU(6.0), np.clip(x, 0, 6), None),
             (KL.ReLU(negative_slope=0.2), np_keras_relu(x, 0.2, None, 0), None),
             (KL.ReLU(2.0, 0.1, 0.5), np_keras_relu(x, 0.1, 2.0, 0.5), None),
             (KL.ReLU(threshold=0.5), np_keras_relu(x, 0, None, 0.5), None),
             (KL.Softmax(), np.exp(x) / np.exp(x).sum(-1, keepdims=True), "softmax"),
             (KL.Softmax(axis=1), e / e.sum(1, keepdims=True), None),
             (KL.ThresholdedReLU(), np.where(x > 1.0, x, 0), "thresholded_re_lu"),
             (KL.ThresholdedReLU(0.3), np.where(x > 0.3, x, 0), None)]
    for layer, want, name in cases:
        out, _ = run_layer(layer, x)
        if name:
            assert layer.name == name
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6, err_msg=layer.name)
    with pytest.raises(ValueError, match="negative"):
        KL.ReLU(max_value=-1.0)
    with pytest.raises(ValueError, match="Theta"):
        KL.ThresholdedReLU(-1.0)


@pytest.mark.parametrize("shared,shape", [(None, (4, 5)), ([1], (1, 5)), (2, (4, 1))])
def test_prelu_weights_and_values(shared, shape):
    layer = KL.PReLU(shared_axes=shared)
    x = rng.randn(3, 4, 5).astype(np.float32)
    out0, (a0,) = run_layer(layer, x)
    assert layer.name == "p_re_lu"
    assert [v.name for v in layer.weights] == ["p_re_lu/alpha:0"] and a0.shape == shape
    assert not a0.any()
    np.testing.assert_allclose(out0, np.maximum(x, 0))
    alpha = rng.rand(*shape)
    out, _ = run_layer(layer, x, [alpha])
    np.testing.assert_allclose(out, np.where(x > 0, x, alpha * x), rtol=1e-5, atol=1e-6)


def test_prelu_and_layer_norm_gradients():
    check_layer_gradients(lambda: KL.PReLU(shared_axes=[1]), rng.randn(2, 3, 2) + 0.1)
    check_layer_gradients(lambda: KL.LayerNormalization(), rng.randn(2, 3, 4))
    check_layer_gradients(lambda: KL.LayerNormalization(axis=[1, 2]), rng.randn(2, 2, 3))


# ---------------------------------------------------------------------- normalization ------

@pytest.mark.parametrize("axis,eps", [(-1, 1e-3), ([1, 2], 1e-5), (1, 1e-3)])
def test_layer_normalization(axis, eps):
    layer = KL.LayerNormalization(axis=axis, epsilon=eps)
    x = (rng.randn(4, 3, 5) * 3 + 1).astype(np.float32)
    axes = tuple(a % 3 for a in (axis if isinstance(axis, list) else [axis]))
    pshape = tuple(x.shape[a] for a in axes)
    gamma, beta = rng.randn(*pshape), rng.randn(*pshape)
    out, (g, b) = run_layer(layer, x, [gamma, beta])
    assert [v.name for v in layer.weights] == ["layer_normalization/gamma:0",
                                               "layer_normalization/beta:0"]
    assert g.shape == pshape
    bshape = [x.shape[a] if a in axes else 1 for a in range(3)]
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    want = (x - mean) / np.sqrt(var + eps) * g.reshape(bshape) + b.reshape(bshape)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)


def test_layer_normalization_defaults_and_no_center():
    layer = KL.LayerNormalization(center=False)
    x = rng.randn(3, 6).astype(np.float32)
    out, ws = run_layer(layer, x)
    assert [v.name for v in layer.weights] == ["layer_normalization/gamma:0"]
    assert np.allclose(ws[0], 1)
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- noise --------------

def test_spatial_dropout_drops_whole_channels():
    tf.set_random_seed(1)
    x = rng.rand(64, 6, 8).astype(np.float32) + 1.0
    x4d = rng.rand(32, 3, 4, 8).astype(np.float32) + 1.0
    ph, ph4 = tf.placeholder(tf.float32, x.shape), tf.placeholder(tf.float32, x4d.shape)
    training = tf.placeholder(tf.bool, [])
    d1, d2 = KL.SpatialDropout1D(0.5), KL.SpatialDropout2D(0.25)
    assert d1.name == "spatial_dropout1d" and d2.name == "spatial_dropout2d"
    o1, o2 = d1(ph, training=training), d2(ph4, training=training)
    inf1, inf2 = d1(ph), d2(ph4, training=False)
    with tf.Session() as s:
        feed = {ph: x, ph4: x4d}
        r1, r2 = s.run([o1, o2], {**feed, training: True})
        f1, f2, e1, e2 = s.run([o1, o2, inf1, inf2], {**feed, training: False})
    for got in (f1, e1):
        np.testing.assert_array_equal(got, x)
    for got in (f2, e2):
        np.testing.assert_array_equal(got, x4d)
    for got, inp, rate, axes in ((r1, x, 0.5, (1,)), (r2, x4d, 0.25, (1, 2))):
        kept = got != 0
        assert (kept.all(axes) | ~kept.any(axes)).all()       # a channel is kept or dropped
        np.testing.assert_allclose(got[kept], inp[kept] / (1 - rate), rtol=1e-6)
        frac = 1 - kept.all(axes).mean()
        assert abs(frac - rate) < 0.12, frac


def test_gaussian_noise_only_while_training():
    tf.set_random_seed(2)
    x = np.zeros((200, 50), np.float32)
    layer = KL.GaussianNoise(0.5)
    assert layer.name == "gaussian_noise"
    ph = tf.placeholder(tf.float32, [None, 50])
    train, infer = layer(ph, training=True), layer(ph)
    with tf.Session() as s:
        a, b = s.run([train, infer], {ph: x})
        a2 = s.run(train, {ph: x + 1})
    np.testing.assert_array_equal(b, x)
    assert abs(a.std() - 0.5) < 0.02 and abs(a.mean()) < 0.02
    assert abs((a2 - 1).std() - 0.5) < 0.02 and not np.allclose(a2 - 1, a)


# ---------------------------------------------------------------------- in models ----------

@pytest.mark.parametrize("seed", [0, 1])
def test_sequential_conv1d_stack_trains(seed):
    tf.set_random_seed(seed)
    np.random.seed(seed)                 # fit's shuffling
    r = np.random.RandomState(3)
    x = r.randn(128, 12, 2).astype(np.float32)
    y = (x[:, :, 0].mean(1) > 0).astype(np.int64)
    m = tf.keras.Sequential([
        KL.Conv1D(8, 3, padding="same", input_shape=(12, 2)), KL.LeakyReLU(),
        KL.MaxPooling1D(), KL.LayerNormalization(), KL.SpatialDropout1D(0.1),
        KL.Conv1D(8, 3), KL.PReLU(), KL.GlobalAveragePooling1D(), KL.Dense(2), KL.Softmax()])
    assert m.output_shape == (None, 2)
    assert [v.name for v in m.weights][:2] == ["conv1d/kernel:0", "conv1d/bias:0"]
    m.compile(tf.keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
    hist = m.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert hist.history["acc"][-1] > 0.85
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0]


def test_sequential_image_stack_shapes():
    m = tf.keras.Sequential([
        KL.ZeroPadding2D(1, input_shape=(6, 6, 2)), KL.Conv2D(3, 3), KL.ReLU(),
        KL.UpSampling2D(), KL.Cropping2D(((1, 1), (2, 2))), KL.Conv2DTranspose(2, 2, strides=2),
        KL.GlobalMaxPooling2D(), KL.Reshape((1, 2)), KL.Permute((2, 1))])
    assert m.output_shape == (None, 2, 1)
    x = rng.randn(3, 6, 6, 2).astype(np.float32)
    assert m.predict(x).shape == (3, 2, 1)


@settings(max_examples=12, deadline=None)
@given(h=st.integers(1, 4), w=st.integers(1, 4), pads=st.lists(st.integers(0, 2), min_size=4,
                                                                max_size=4),
       size=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       first=st.booleans())
def test_pad_upsample_crop_roundtrip(h, w, pads, size, first):
    """ZeroPadding2D then UpSampling2D then Cropping2D of the padding's up-sampled amounts
    gives the up-sampled input, in either data format."""
    tf.reset_default_graph()
    df = "channels_first" if first else "channels_last"
    x = np.random.RandomState(h * 7 + w).randn(2, h, w, 3).astype(np.float32)
    if first:
        x = x.transpose(0, 3, 1, 2)
    t, b, l, r = pads
    sh, sw = size
    layers = [KL.ZeroPadding2D(((t, b), (l, r)), data_format=df),
              KL.UpSampling2D(size, data_format=df),
              KL.Cropping2D(((t * sh, b * sh), (l * sw, r * sw)), data_format=df)]
    ph = tf.placeholder(tf.float32, x.shape)
    y = ph
    for layer in layers:
        y = layer(y)
    with tf.Session(backend="llvm") as s:
        got = s.run(y, {ph: x})
    ax = (2, 3) if first else (1, 2)
    np.testing.assert_array_equal(got, np.repeat(np.repeat(x, sh, ax[0]), sw, ax[1]))
