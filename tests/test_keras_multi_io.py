"""compile/fit/evaluate/predict of tf.keras models with several inputs and outputs
(keras_training.py, keras_data.py): loss, loss_weights and metrics as one value, lists or
dicts keyed by output name; x and y as lists or dicts; TF 1.15's figure names; the total loss
the weighted sum of the per-output losses against NumPy; predict's list; the errors naming
what was expected."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

K = tf.keras
KL = tf.keras.layers


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    yield


def two_by_two():
    a = K.Input(shape=(4,), name="a")
    b = K.Input(shape=(3,), name="b")
    h = KL.Dense(8, activation="tanh", name="shared")(KL.concatenate([a, b]))
    reg = KL.Dense(1, name="reg")(h)
    cls = KL.Dense(3, activation="softmax", name="cls")(h)
    return K.Model([a, b], [reg, cls])


def data(n=64, seed=0):
    r = np.random.RandomState(seed)
    xa, xb = r.randn(n, 4).astype(np.float32), r.randn(n, 3).astype(np.float32)
    yr = (xa.sum(1, keepdims=True) - xb[:, :1]).astype(np.float32)
    yc = (np.concatenate([xa, xb], 1) @ r.randn(7, 3)).argmax(1)
    return xa, xb, yr, yc


def np_forward(ws, xa, xb):
    k, b, kr, br, kc, bc = [w.astype(np.float64) for w in ws]
    h = np.tanh(np.concatenate([xa, xb], 1) @ k + b)
    z = h @ kc + bc
    p = np.exp(z - z.max(1, keepdims=True))
    return h @ kr + br, p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_weighted_total_loss_and_metrics_match_numpy(backend):
    xa, xb, yr, yc = data()
    with tf.Session(backend=backend) as s:
        K.backend.set_session(s)
        m = two_by_two()
        assert m.input_names == ["a", "b"] and m.output_names == ["reg", "cls"]
        m.compile(K.optimizers.SGD(learning_rate=0.05),
                  loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 2.0},
                  metrics={"cls": ["accuracy"], "reg": "mae"})
        assert m.metrics_names == ["loss", "reg_loss", "cls_loss", "reg_mean_absolute_error",
                                   "cls_acc"]
        got = m.evaluate([xa, xb], [yr, yc], batch_size=16, verbose=0)
        pr, pc = np_forward(m.get_weights(), xa, xb)
        mse = ((pr - yr) ** 2).mean()
        xent = -np.log(pc[np.arange(len(yc)), yc]).mean()
        want = [0.5 * mse + 2.0 * xent, mse, xent, np.abs(pr - yr).mean(),
                (pc.argmax(1) == yc).mean()]
        np.testing.assert_allclose(got, want, rtol=2e-4)
        hist = m.fit({"a": xa, "b": xb}, {"reg": yr, "cls": yc}, batch_size=16, epochs=8,
                     verbose=0, validation_data=([xa, xb], [yr, yc]))
        assert list(hist.history) == m.metrics_names + [f"val_{k}" for k in m.metrics_names]
        loss = hist.history["loss"]
        assert loss[-1] < 0.8 * loss[0]
        assert hist.history["reg_loss"][-1] < hist.history["reg_loss"][0]
        p_reg, p_cls = m.predict({"a": xa, "b": xb}, batch_size=20)
        pr, pc = np_forward(m.get_weights(), xa, xb)
        np.testing.assert_allclose(p_reg, pr, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(p_cls, pc, rtol=1e-4, atol=1e-5)


def test_one_loss_for_all_lists_and_metrics_per_output():
    xa, xb, yr, yc = data(32)
    yc1 = np.eye(3, dtype=np.float32)[yc]
    m = two_by_two()
    m.compile("adam", loss=["mae", "categorical_crossentropy"], loss_weights=[1.0, 0.25],
              metrics=["mse"])
    assert m.metrics_names == ["loss", "reg_loss", "cls_loss", "reg_mean_squared_error",
                               "cls_mean_squared_error"]      # TF 1.15's names for 'mse'
    
    total, l_reg, l_cls = m.evaluate([xa, xb], [yr, yc1], verbose=0)[:3]
    assert total == pytest.approx(l_reg + 0.25 * l_cls, rel=1e-5)
    m2_out = KL.Dense(2, name="second")(m.outputs[1])
    m2 = K.Model(m.inputs, [m.outputs[0], m2_out])
    m2.compile("sgd", "mse")                          # one loss for every output
    assert m2.metrics_names == ["loss", "reg_loss", "second_loss"]
    y2 = np.zeros((32, 2), np.float32)
    total, l1, l2 = m2.evaluate([xa, xb], [yr, y2], verbose=0)
    assert total == pytest.approx(l1 + l2, rel=1e-5)
    pr, p2 = m2.predict([xa, xb])
    assert l2 == pytest.approx(float((p2.astype(np.float64) ** 2).mean()), rel=1e-4)


def test_output_without_a_loss_takes_no_target():
    xa, xb, yr, yc = data(32)
    m = two_by_two()
    m.compile("sgd", loss={"cls": "sparse_categorical_crossentropy"}, metrics=["accuracy"])
    assert m.metrics_names == ["loss", "cls_loss", "cls_acc"]
    ev = m.evaluate([xa, xb], {"cls": yc}, verbose=0)
    assert ev[0] == pytest.approx(ev[1], rel=1e-6)
    h = m.fit([xa, xb], [yc], epochs=1, verbose=0, validation_split=0.25)  # targets needed
    assert list(h.history) == ["loss", "cls_loss", "cls_acc", "val_loss", "val_cls_loss",
                               "val_cls_acc"]
    assert h.params["samples"] == 24 and h.params["do_validation"]


def test_subclassed_model_with_two_outputs():
    class TwoHeads(K.Model):
        def __init__(self):
            super().__init__()
            self.body = KL.Dense(6, activation="relu")
            self.out_a, self.out_b = KL.Dense(1), KL.Dense(2)

        def call(self, inputs):
            x, z = inputs["x"], inputs["z"]
            h = self.body(tf.concat([x, z], 1))
            return [self.out_a(h), self.out_b(h)]

    r = np.random.RandomState(3)
    x, z = r.randn(40, 3).astype(np.float32), r.randn(40, 2).astype(np.float32)
    ya, yb = x[:, :1] * 2, np.concatenate([z, z], 1)[:, :2]
    m = TwoHeads()
    m.compile(tf.train.AdamOptimizer(0.02), "mse", loss_weights=[2.0, 1.0])
    hist = m.fit({"x": x, "z": z}, [ya, yb], batch_size=10, epochs=10, verbose=0)
    assert m.output_names == ["output_1", "output_2"] and m.input_names == ["x", "z"]
    assert list(hist.history) == ["loss", "output_1_loss", "output_2_loss"]
    h = hist.history
    assert h["loss"][-1] < 0.7 * h["loss"][0]
    total, la, lb = m.evaluate({"x": x, "z": z}, [ya, yb], verbose=0)
    pa, pb = m.predict({"x": x, "z": z})
    np.testing.assert_allclose([la, lb], [((pa - ya) ** 2).mean(), ((pb - yb) ** 2).mean()],
                               rtol=1e-4)
    assert total == pytest.approx(2 * la + lb, rel=1e-5)


def test_mismatched_structures_name_what_was_expected():
    xa, xb, yr, yc = data(8)
    m = two_by_two()
    with pytest.raises(ValueError, match=r"Unknown entries in loss dictionary: \['clz'\]. "
                                         r"Only expected following keys: \['reg', 'cls'\]"):
        m.compile("sgd", loss={"reg": "mse", "clz": "mse"})
    with pytest.raises(ValueError, match=r"one entry per model outputs. The model has 2 "
                                         r"outputs \(\['reg', 'cls'\]\)"):
        m.compile("sgd", loss=["mse"])
    with pytest.raises(ValueError, match="loss_weights"):
        m.compile("sgd", "mse", loss_weights=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"Unknown entries in metrics dictionary: \['x'\]"):
        m.compile("sgd", "mse", metrics={"x": ["mae"]})
    with pytest.raises(TypeError, match="Type of `metrics` argument not understood"):
        m.compile("sgd", "mse", metrics="mae")
    m.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r'No data provided for "b". Need data for each key '
                                         r"in: \['a', 'b'\]"):
        m.evaluate({"a": xa}, [yr, yr], verbose=0)
    with pytest.raises(ValueError, match=r"The model expects 2 input arrays \(\['a', 'b'\]\), "
                                         r"but only received one array"):
        m.predict(xa)
    with pytest.raises(ValueError, match=r"Expected to see 2 array\(s\) \(\['reg', 'cls'\]\)"):
        m.fit([xa, xb], [yr], verbose=0)
    with pytest.raises(ValueError, match=r"expected b to have shape \(None, 3\)"):
        m.predict([xa, xa])
    with pytest.raises(ValueError, match="same number of samples"):
        m.fit([xa, xb[:5]], [yr, yr], verbose=0)
