"""tf.keras merge layers, Lambda and TimeDistributed (frontend/keras_merge.py), and the
functional tf.keras.Model of several inputs (keras_models.py): values against NumPy, TF
1.15's default names, the weights of TimeDistributed, a two-input model with Concatenate/Add
trained by fit and equal to its NumPy forward pass, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from _kerascheck import check_layer_gradients, run_layer

KL = tf.keras.layers
rng = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    yield


def run_many(outs, feed):
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        return s.run(outs, feed)


def test_merge_layers_values_and_names():
    a, b, c = (rng.randn(3, 4, 5).astype(np.float32) for _ in range(3))
    pa, pb, pc = (tf.placeholder(tf.float32, [None, 4, 5]) for _ in range(3))
    layers = {"add": (KL.Add(), [pa, pb, pc], a + b + c),
              "subtract": (KL.Subtract(), [pa, pb], a - b),
              "multiply": (KL.Multiply(), [pa, pb, pc], a * b * c),
              "average": (KL.Average(), [pa, pb, pc], (a + b + c) / 3),
              "maximum": (KL.Maximum(), [pa, pb, pc], np.maximum(np.maximum(a, b), c)),
              "minimum": (KL.Minimum(), [pa, pb], np.minimum(a, b)),
              "concatenate": (KL.Concatenate(), [pa, pb], np.concatenate([a, b], -1)),
              "concatenate_1": (KL.Concatenate(axis=1), [pa, pb, pc],
                                np.concatenate([a, b, c], 1))}
    outs = {k: layer(xs) for k, (layer, xs, _) in layers.items()}
    for k, (layer, _, _) in layers.items():
        assert layer.name == k
    got = run_many(outs, {pa: a, pb: b, pc: c})
    for k, (_, _, want) in layers.items():
        np.testing.assert_allclose(got[k], want, rtol=1e-6, atol=1e-6, err_msg=k)


def test_functional_helpers():
    a, b = rng.randn(2, 6).astype(np.float32), rng.randn(2, 6).astype(np.float32)
    pa, pb = tf.placeholder(tf.float32, [None, 6]), tf.placeholder(tf.float32, [None, 6])
    outs = {"concatenate": KL.concatenate([pa, pb], axis=0), "add": KL.add([pa, pb]),
            "subtract": KL.subtract([pa, pb]), "multiply": KL.multiply([pa, pb]),
            "average": KL.average([pa, pb]), "maximum": KL.maximum([pa, pb]),
            "minimum": KL.minimum([pa, pb]), "dot": KL.dot([pa, pb], axes=1)}
    got = run_many(outs, {pa: a, pb: b})
    want = {"concatenate": np.concatenate([a, b], 0), "add": a + b, "subtract": a - b,
            "multiply": a * b, "average": (a + b) / 2, "maximum": np.maximum(a, b),
            "minimum": np.minimum(a, b), "dot": (a * b).sum(1, keepdims=True)}
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert outs["add"].op.name.startswith("add/")


@pytest.mark.parametrize("axes", [(2, 2), (1, 1), (2, 1), (1, 2), 2])
def test_dot_rank3(axes):
    a, b = rng.randn(2, 3, 3).astype(np.float32), rng.randn(2, 3, 3).astype(np.float32)
    pa, pb = tf.placeholder(tf.float32, [None, 3, 3]), tf.placeholder(tf.float32, [None, 3, 3])
    out = run_many(KL.Dot(axes)([pa, pb]), {pa: a, pb: b})
    ax = axes if isinstance(axes, tuple) else (axes, axes)
    want = np.stack([np.tensordot(a[i], b[i], axes=(ax[0] - 1, ax[1] - 1)) for i in range(2)])
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_dot_normalize_is_cosine():
    a, b = rng.randn(4, 5).astype(np.float32), rng.randn(4, 5).astype(np.float32)
    pa, pb = tf.placeholder(tf.float32, [None, 5]), tf.placeholder(tf.float32, [None, 5])
    out = run_many(KL.Dot(axes=-1, normalize=True)([pa, pb]), {pa: a, pb: b})
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(out[:, 0], cos, rtol=1e-5, atol=1e-6)


def test_merge_errors():
    p = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="at least 2"):
        KL.Add()([p])
    with pytest.raises(ValueError, match="exactly 2"):
        KL.Subtract()([p, p, p])
    with pytest.raises(ValueError, match="list"):
        KL.Maximum()(p)


def test_lambda():
    a = rng.randn(3, 4).astype(np.float32)
    pa = tf.placeholder(tf.float32, [None, 4])
    lam = KL.Lambda(lambda t, k: t * k + 1.0, arguments={"k": 3.0})
    pair = KL.Lambda(lambda ts: ts[0] - ts[1])
    got = run_many([lam(pa), pair([pa, lam(pa)])], {pa: a})
    assert lam.name == "lambda" and pair.name == "lambda_1"
    np.testing.assert_allclose(got[0], a * 3 + 1, rtol=1e-6)
    np.testing.assert_allclose(got[1], a - (a * 3 + 1), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="callable"):
        KL.Lambda(3)


def test_time_distributed_dense():
    layer = KL.TimeDistributed(KL.Dense(4, activation="tanh"))
    x = rng.randn(2, 5, 3).astype(np.float32)
    k0, b0 = rng.randn(3, 4), rng.randn(4)
    out, (k, b) = run_layer(layer, x, [k0, b0])
    assert layer.name == "time_distributed"
    assert [v.name for v in layer.weights] == ["time_distributed/kernel:0",
                                               "time_distributed/bias:0"]
    assert k.shape == (3, 4) and layer.trainable_weights == layer.layer.weights
    np.testing.assert_allclose(out, np.tanh(x @ k + b), rtol=1e-5, atol=1e-5)
    check_layer_gradients(lambda: KL.TimeDistributed(KL.Dense(2)), rng.randn(2, 3, 2))


def test_time_distributed_conv_in_sequential():
    m = tf.keras.Sequential([KL.TimeDistributed(KL.Conv2D(2, 2), input_shape=(3, 4, 4, 1)),
                             KL.TimeDistributed(KL.Flatten())])
    assert m.output_shape == (None, 3, 18)
    x = rng.randn(2, 3, 4, 4, 1).astype(np.float32)
    k, b = m.get_weights()
    want = np.zeros((2, 3, 3, 3, 2))
    for i in range(3):
        for j in range(3):
            want[:, :, i, j] = np.einsum("ntabc,abcf->ntf", x[:, :, i:i + 2, j:j + 2], k) + b
    np.testing.assert_allclose(m.predict(x), want.reshape(2, 3, 18), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------- functional model ---

def two_input_model():
    a, b = tf.keras.Input(shape=(3,), name="a"), tf.keras.Input(shape=(2,), name="b")
    ha = KL.Dense(4, activation="relu")(a)
    hb = KL.Dense(4, activation="relu")(b)
    h = KL.Concatenate()([ha, hb])
    s = KL.Add()([KL.Dense(4)(h), KL.Dense(4)(h)])
    return tf.keras.Model(inputs=[a, b], outputs=KL.Dense(1)(s))


def np_two_input(w, xa, xb):
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    h = np.concatenate([relu(xa @ w[0] + w[1]), relu(xb @ w[2] + w[3])], 1)
    s = (h @ w[4] + w[5]) + (h @ w[6] + w[7])
    return s @ w[8] + w[9]


def test_two_input_model_fit_and_predict():
    m = two_input_model()
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Dense", "Concatenate", "Dense",
                                                    "Dense", "Add", "Dense"]
    assert len(m.inputs) == 2 and m.input_shape == [(None, 3), (None, 2)]
    assert m.output_shape == (None, 1) and m.count_params() == 16 + 12 + 36 + 36 + 5
    r = np.random.RandomState(1)
    xa, xb = r.randn(256, 3).astype(np.float32), r.randn(256, 2).astype(np.float32)
    y = (xa[:, :1] - 2 * xb[:, 1:]).astype(np.float32)
    m.compile(tf.keras.optimizers.Adam(0.01), "mse")
    hist = m.fit([xa, xb], y, epochs=15, batch_size=32, verbose=0, validation_split=0.25)
    assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0]
    assert len(hist.history["val_loss"]) == 15
    np.testing.assert_allclose(m.predict([xa, xb]), np_two_input(m.get_weights(), xa, xb),
                               rtol=1e-4, atol=1e-4)
    loss = m.evaluate([xa, xb], y, verbose=0)
    np.testing.assert_allclose(loss, np.mean((np_two_input(m.get_weights(), xa, xb) - y) ** 2),
                               rtol=1e-4)


def test_two_input_model_called_on_new_tensors_shares_weights():
    m = two_input_model()
    n_vars = len(tf.global_variables())
    pa, pb = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.float32, [None, 2])
    out = m([pa, pb])
    assert len(tf.global_variables()) == n_vars and out.shape.as_list() == [None, 1]
    xa, xb = rng.randn(5, 3).astype(np.float32), rng.randn(5, 2).astype(np.float32)
    sess = tf.keras.backend.get_session()
    np.testing.assert_allclose(sess.run(out, {pa: xa, pb: xb}),
                               np_two_input(m.get_weights(), xa, xb), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expects 2 input"):
        m([pa])


def test_model_with_two_outputs_and_errors():
    a = tf.keras.Input(shape=(3,))
    h = KL.Dense(2)(a)
    m = tf.keras.Model(a, [KL.ReLU()(h), KL.Softmax()(h)])
    assert len(m.outputs) == 2
    x = rng.randn(4, 3).astype(np.float32)
    pa = tf.placeholder(tf.float32, [None, 3])
    r, s = tf.keras.backend.get_session().run(m(pa), {pa: x})
    k, b = m.get_weights()
    z = x @ k + b
    np.testing.assert_allclose(r, np.maximum(z, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s, np.exp(z) / np.exp(z).sum(1, keepdims=True), rtol=1e-5)
    m.compile("sgd", "mse")
    pr, ps = m.predict(x)                       # several outputs: a list
    np.testing.assert_allclose(pr, r, rtol=1e-6)
    np.testing.assert_allclose(ps, s, rtol=1e-6)
    with pytest.raises(TypeError, match="list of tensors"):
        tf.keras.Model([a, "b"], h)
    m2 = tf.keras.Model([a, tf.keras.Input(shape=(2,))], h)
    with pytest.raises(ValueError, match="expects 2 input arrays"):
        m2.compile("sgd", "mse") or m2.predict(x)


def test_time_distributed_unknown_time_dim():
    layer = KL.TimeDistributed(KL.Dense(2))
    p = tf.placeholder(tf.float32, [None, None, 3])
    out = layer(p)
    assert out.shape.as_list() == [None, None, 2]
    x = rng.randn(2, 5, 3).astype(np.float32)
    with tf.Session(backend="llvm") as s:
        s.run(tf.global_variables_initializer())
        (k, b), got = s.run(layer.weights), s.run(out, {p: x})
    np.testing.assert_allclose(got, x @ k + b, rtol=1e-5, atol=1e-5)
