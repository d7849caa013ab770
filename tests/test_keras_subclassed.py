"""Subclassed tf.keras.Model and tf.keras.layers.Layer in TF1 graph code (keras_base.py,
keras_models.py): attribute tracking (lists and dicts too), TF 1.15's names, the build on the
first call or from fit's data, the forward pass against NumPy from get_weights, training,
``training`` reaching Dropout/BatchNormalization, save/load_weights by attribute path, and
the errors."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

K = tf.keras
KL = tf.keras.layers
rng = np.random.RandomState(0)


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    yield


class MLP(K.Model):
    def __init__(self, hidden=16, out=3):
        super().__init__()
        self.d1 = KL.Dense(hidden, activation="relu")
        self.drop = KL.Dropout(0.5)
        self.d2 = KL.Dense(out)

    def call(self, inputs, training=None):
        return self.d2(self.drop(self.d1(inputs), training=training))


class Scale(KL.Layer):
    """A custom layer: one weight per feature, made in build."""

    def build(self, input_shape):
        self.w = self.add_weight("w", shape=(input_shape[-1],), initializer="ones")
        super().build(input_shape)

    def call(self, x):
        return x * self.w


class Stack(K.Model):
    """Layers in a list and a dict, a custom layer, and a call without `training`."""

    def __init__(self):
        super().__init__(name="stack")
        self.blocks = [KL.Dense(5, activation="tanh"), KL.Dense(4)]
        self.heads = {"b": KL.Dense(2), "a": Scale()}

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return self.heads["b"](self.heads["a"](x))


def np_mlp(ws, x):
    k1, b1, k2, b2 = ws
    return np.maximum(x @ k1 + b1, 0) @ k2 + b2


def test_tracking_names_and_forward_pass():
    m = MLP()
    assert m.name == "mlp" and m.weights == [] and not m.built
    assert [l.name for l in m.layers] == ["dense", "dropout", "dense_1"]
    x = tf.placeholder(tf.float32, [None, 8])
    y = m(x)
    assert m.built and y.shape.as_list() == [None, 3]
    assert [v.name for v in m.variables] == ["mlp/dense/kernel:0", "mlp/dense/bias:0",
                                            "mlp/dense_1/kernel:0", "mlp/dense_1/bias:0"]
    assert m.trainable_variables == m.weights and len(tf.trainable_variables()) == 4
    y2 = m(tf.placeholder(tf.float32, [None, 8]))      # a second call shares the weights
    assert len(tf.global_variables()) == 4 and y2 is not y
    xv = rng.randn(5, 8).astype(np.float32)
    sess = K.backend.get_session()
    np.testing.assert_allclose(sess.run(y, {x: xv}), np_mlp(m.get_weights(), xv),
                               rtol=1e-5, atol=1e-5)
    assert MLP().name == "mlp_1"


def test_lists_dicts_and_custom_layer():
    m = Stack()
    x = tf.placeholder(tf.float32, [None, 3])
    y = m(x)
    # the list in order, then the dict's values by sorted key (a, b)
    assert [type(l).__name__ for l in m.layers] == ["Dense", "Dense", "Scale", "Dense"]
    assert [v.name for v in m.weights] == [
        "stack/dense/kernel:0", "stack/dense/bias:0", "stack/dense_1/kernel:0",
        "stack/dense_1/bias:0", "stack/scale/w:0", "stack/dense_2/kernel:0",
        "stack/dense_2/bias:0"]
    k1, b1, k2, b2, w, k3, b3 = ws = m.get_weights()
    np.testing.assert_array_equal(w, np.ones(4))
    w2 = rng.randn(4).astype(np.float32)
    m.set_weights(ws[:4] + [w2] + ws[5:])
    xv = rng.randn(6, 3).astype(np.float32)
    want = ((np.tanh(xv @ k1 + b1) @ k2 + b2) * w2) @ k3 + b3
    np.testing.assert_allclose(K.backend.get_session().run(y, {x: xv}), want, rtol=1e-5,
                               atol=1e-5)
    lines = []
    m.summary(print_fn=lines.append)
    assert lines[0] == 'Model: "stack"'
    assert any(l.startswith("scale (Scale)") and "multiple" in l and l.rstrip().endswith("4")
               for l in lines)
    assert f"Total params: {3 * 5 + 5 + 5 * 4 + 4 + 4 + 4 * 2 + 2:,}" in lines


def test_custom_layer_with_sublayers_inside_a_sequential():
    class Residual(KL.Layer):
        def __init__(self, units, **kw):
            super().__init__(**kw)
            self.inner = KL.Dense(units)

        def call(self, x):
            return x + self.inner(x)

    m = K.Sequential([Residual(4, input_shape=(4,)), KL.Dense(1)])
    res = m.layers[0]
    assert [v.name for v in res.weights] == ["residual/dense/kernel:0", "residual/dense/bias:0"]
    assert len(m.trainable_weights) == 4
    xv = rng.randn(7, 4).astype(np.float32)
    k, b, k2, b2 = m.get_weights()
    np.testing.assert_allclose(m.predict(xv), (xv + xv @ k + b) @ k2 + b2, rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_fit_builds_from_data_and_lowers_the_loss(backend):
    r = np.random.RandomState(1)
    x = r.randn(128, 6).astype(np.float32)
    y = (x @ r.randn(6, 3)).argmax(1)
    with tf.Session(backend=backend) as s:
        K.backend.set_session(s)
        m = MLP(12, 3)
        m.compile(tf.train.AdamOptimizer(0.02),
                  K.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        with pytest.raises(ValueError, match="not yet been built"):
            m.summary()
        hist = m.fit(x, y, batch_size=32, epochs=6, verbose=0)
        assert list(hist.history) == ["loss", "acc"]
        loss = hist.history["loss"]
        assert loss[-1] < 0.7 * loss[0]
        assert m.inputs[0].shape.as_list() == [None, 6] and m.input_names == ["input_1"]
        p = m.predict(x[:10])
        np.testing.assert_allclose(p, np_mlp(m.get_weights(), x[:10]), rtol=1e-4, atol=1e-4)
        ev = m.evaluate(x, y, verbose=0)
        logits = np_mlp(m.get_weights(), x).astype(np.float64)
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        assert ev[0] == pytest.approx(-logp[np.arange(len(y)), y].mean(), rel=1e-4)
        assert ev[1] == pytest.approx((logits.argmax(1) == y).mean())


def test_training_argument_reaches_dropout_and_batch_norm():
    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.bn = KL.BatchNormalization(momentum=0.5)
            self.drop = KL.Dropout(0.9)

        def call(self, x, training=None):
            return self.drop(self.bn(x, training=training), training=training)

    m = Net()
    x = rng.randn(64, 4).astype(np.float32) * 3 + 2
    m.compile(K.optimizers.SGD(learning_rate=0.0), "mse")
    y = np.zeros((64, 4), np.float32)
    a, b = m.test_on_batch(x, y), m.test_on_batch(x, y)
    assert a == b                                 # inference: deterministic, no updates
    assert len(m.updates) == 2 and len(m.non_trainable_weights) == 2
    m.train_on_batch(x, y)
    mean = K.backend.get_session().run(m.bn.moving_mean)
    np.testing.assert_allclose(mean, 0.5 * x.mean(0), rtol=1e-4)   # the update ran
    t1, t2 = m.train_on_batch(x, y), m.train_on_batch(x, y)
    assert t1 != t2                               # dropout draws anew while training


def test_build_with_a_shape_and_save_load_weights(tmp_path):
    m = Stack()
    m.build((None, 3))
    assert m.built and len(m.weights) == 7
    from jitflow.frontend.keras_saving import weight_entries
    keys = [k for k, _, _ in weight_entries(m)]
    assert keys[0] == "blocks/0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    assert "heads/a/w/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "heads/b/bias/.ATTRIBUTES/VARIABLE_VALUE" in keys
    want = m.get_weights()
    m.save_weights(str(tmp_path / "w"))
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("w")
    m2 = Stack()
    m2.build((None, 3))
    assert not np.allclose(m2.get_weights()[0], want[0])
    m2.load_weights(str(tmp_path / "w"))
    for a, b in zip(m2.get_weights(), want):
        np.testing.assert_array_equal(a, b)
    other = MLP(4, 2)
    other.build((None, 3))
    with pytest.raises(ValueError, match="has no value for weight"):
        other.load_weights(str(tmp_path / "w"))


def test_model_weights_and_add_loss():
    class WithOwn(K.Model):
        def __init__(self):
            super().__init__()
            self.d = KL.Dense(2, kernel_initializer="ones")

        def build(self, input_shape):
            self.offset = self.add_weight("offset", shape=(2,), initializer="zeros")
            super().build(input_shape)

        def call(self, x):
            self.add_loss(tf.reduce_sum(tf.square(self.offset)) + 1.0)
            return self.d(x) + self.offset

    m = WithOwn()
    y = m(tf.placeholder(tf.float32, [None, 3]))
    assert [v.name for v in m.weights] == ["with_own/dense/kernel:0", "with_own/dense/bias:0",
                                          "with_own/offset:0"]
    assert len(m.losses) == 1 and y.shape.as_list() == [None, 2]
    m.compile("sgd", "mse")
    x = np.ones((4, 3), np.float32)
    # mse of (3 + 0) vs 0 is 9, plus the added loss 1
    assert m.evaluate(x, np.zeros((4, 2), np.float32), verbose=0) == pytest.approx(10.0)


def test_errors():
    class NoSuper(K.Model):
        def __init__(self):
            self.d = KL.Dense(1)

    with pytest.raises(RuntimeError, match="forgot to call `super"):
        NoSuper()

    class NoCall(K.Model):
        pass

    with pytest.raises(NotImplementedError, match="must define call"):
        NoCall()(tf.placeholder(tf.float32, [None, 2]))
    with pytest.raises(ValueError, match="Input shape must be defined"):
        MLP().build(None)
    with pytest.raises(TypeError, match="Keyword argument not understood"):
        Scale(units=3)
    m = MLP()
    m.compile("sgd", "mse")
    m.fit(np.zeros((4, 2), np.float32), np.zeros((4, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"Expected to see 1 array\(s\) \(\['input_1'\]\)"):
        m.fit([np.zeros((4, 2)), np.zeros((4, 2))], np.zeros((4, 3)), verbose=0)
    with pytest.raises(ValueError, match=r"expected input_1 to have shape \(None, 2\) but got "
                                         r"array with shape \(4, 5\)"):
        m.predict(np.zeros((4, 5)))


def test_call_losses_count_for_their_own_call():
    class Reg(K.Model):
        def __init__(self):
            super().__init__()
            self.d = KL.Dense(2, kernel_initializer="ones",
                              activity_regularizer=K.regularizers.l2(0.5))

        def call(self, x):
            return self.d(x)

    m = Reg()
    m(tf.placeholder(tf.float32, [None, 3]))          # a call fit does not feed
    m.compile("sgd", "mse")
    x = np.ones((4, 3), np.float32)
    # mse of 3 vs 0 is 9; the activity loss 0.5 * sum(out**2) = 0.5 * 4 * 2 * 9 = 36
    assert m.evaluate(x, np.zeros((4, 2), np.float32), batch_size=4, verbose=0) == \
        pytest.approx(45.0)
