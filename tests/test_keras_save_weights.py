"""tf.keras Model.save_weights / load_weights (frontend/keras_saving.py): a TensorFlow
checkpoint with TF's object-based keys and the state file, restored into a fresh model of the
same architecture in a new graph (identical predictions, on reference and llvm), and the
errors: another architecture (naming the layer and the shapes), HDF5 without h5py, formats,
by_name, an unbuilt model."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import jitflow.compat.v1 as tf

K = tf.keras
ATTR = "/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(autouse=True)
def fresh_graph():
    K.backend.clear_session()
    yield
    K.backend.clear_session()


def cnn_like(hidden=6):
    return K.Sequential([K.layers.Dense(hidden, activation="relu", input_shape=(4,)),
                         K.layers.Dropout(0.3), K.layers.BatchNormalization(),
                         K.layers.Dense(3)])


def trained(model, seed=0):
    """Weights moved away from their initial values (BatchNormalization's moving stats too)."""
    r = np.random.RandomState(seed)
    x = r.randn(64, 4).astype(np.float32) * 3 + 1
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, r.randint(0, 3, 64), batch_size=16, epochs=2, verbose=0)
    return model


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_save_then_load_in_a_new_graph_predicts_the_same(tmp_path, backend):
    x = np.random.RandomState(1).randn(10, 4).astype(np.float32)
    with tf.Session(backend=backend).as_default():
        m = trained(cnn_like())
        want = m.predict(x)
        weights = m.get_weights()
        m.save_weights(str(tmp_path / "ckpts" / "weights"))
    assert sorted(os.listdir(tmp_path / "ckpts")) == [
        "checkpoint", "weights.data-00000-of-00001", "weights.index"]
    state = (tmp_path / "ckpts" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "weights"' in state         # relative, as TF writes it
    keys = dict(tf.train.list_variables(str(tmp_path / "ckpts")))
    assert keys == {
        f"layer_with_weights-0/kernel{ATTR}": [4, 6], f"layer_with_weights-0/bias{ATTR}": [6],
        f"layer_with_weights-1/gamma{ATTR}": [6], f"layer_with_weights-1/beta{ATTR}": [6],
        f"layer_with_weights-1/moving_mean{ATTR}": [6],
        f"layer_with_weights-1/moving_variance{ATTR}": [6],
        f"layer_with_weights-2/kernel{ATTR}": [6, 3], f"layer_with_weights-2/bias{ATTR}": [3]}
    np.testing.assert_array_equal(
        tf.train.load_variable(str(tmp_path / "ckpts"), f"layer_with_weights-1/moving_mean{ATTR}"),
        weights[4])

    K.backend.clear_session()                               # a new graph, new layer names
    K.layers.Dense(2)                                       # (dense_2, ... from here on)
    with tf.Session(backend=backend).as_default():
        fresh = cnn_like()
        assert (m.layers[0].name, fresh.layers[0].name) == ("dense", "dense_1")
        before = fresh.predict(x)
        status = fresh.load_weights(tf.train.latest_checkpoint(str(tmp_path / "ckpts")))
        status.assert_consumed()
        got = fresh.predict(x)
        for a, b in zip(fresh.get_weights(), weights):
            np.testing.assert_array_equal(a, b)
    assert not np.allclose(before, want)
    np.testing.assert_array_equal(got, want)


def test_functional_nested_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def build():
        inner = K.Sequential([K.layers.Dense(5, activation="tanh", input_shape=(3,)),
                              K.layers.Dense(4)])
        inp = K.Input(shape=(3,))
        emb_in = K.Input(shape=(2,), dtype="int32")
        e = K.layers.Flatten()(K.layers.Embedding(7, 2)(emb_in))
        out = K.layers.Dense(2)(K.layers.concatenate([inner(inp), e]))
        return K.Model([inp, emb_in], out)

    r = np.random.RandomState(2)
    xs = [r.randn(6, 3).astype(np.float32), r.randint(0, 7, (6, 2)).astype(np.int32)]
    m = build()
    m.set_weights([r.randn(*w.shape).astype(np.float32) for w in m.get_weights()])
    want = m.predict(xs)
    m.save_weights("w")                                     # in the working directory
    keys = dict(tf.train.list_variables("."))
    assert f"layer_with_weights-0/layer_with_weights-1/kernel{ATTR}" in keys   # nested model
    assert tf.train.latest_checkpoint(".") == os.path.join(".", "w")

    K.backend.clear_session()
    fresh = build()
    fresh.load_weights(tf.train.latest_checkpoint("."))
    np.testing.assert_array_equal(fresh.predict(xs), want)


def test_architecture_mismatch_names_the_layer_and_shapes(tmp_path):
    path = str(tmp_path / "w")
    cnn_like().save_weights(path)
    K.backend.clear_session()
    wider = cnn_like(hidden=7)
    with pytest.raises(ValueError, match=r"layer 'dense[_0-9]*' \(Dense\) has weight "
                                         r"\S*kernel:0 of shape \(4, 7\), but .* of shape "
                                         r"\(4, 6\)"):
        wider.load_weights(path)
    K.backend.clear_session()
    shorter = K.Sequential([K.layers.Dense(6, activation="relu", input_shape=(4,))])
    with pytest.raises(ValueError, match="the model has 1 layers with weights, the checkpoint 3"):
        shorter.load_weights(path)
    K.backend.clear_session()
    longer = K.Sequential([K.layers.Dense(6, input_shape=(4,)), K.layers.BatchNormalization(),
                           K.layers.Dense(3), K.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"has no value for weight .* of layer 'dense[_0-9]*' "
                                         r"\(Dense, shape \(3, 2\)\); expected the key "
                                         r"'layer_with_weights-3/kernel"):
        longer.load_weights(path)
    # nothing was assigned by the failed loads
    K.backend.clear_session()
    m = K.Sequential([K.layers.Dense(6, input_shape=(4,)), K.layers.Dense(5)])
    first = m.get_weights()
    with pytest.raises(ValueError, match=r"has no value for weight dense_1/kernel:0"):
        m.load_weights(path)
    for a, b in zip(m.get_weights(), first):
        np.testing.assert_array_equal(a, b)


def test_formats_and_errors(tmp_path, monkeypatch):
    m = cnn_like()
    monkeypatch.setitem(sys.modules, "h5py", None)           # h5py absent (it is not a dep)
    for p in ("w.h5", "w.hdf5", "w.keras"):
        with pytest.raises(ImportError, match="requires h5py"):
            m.save_weights(str(tmp_path / p))
        with pytest.raises(ImportError, match="requires h5py"):
            m.load_weights(str(tmp_path / p))
    with pytest.raises(ImportError, match="requires h5py"):
        m.save_weights(str(tmp_path / "w"), save_format="h5")
    with pytest.raises(ValueError, match="looks like an HDF5 file"):
        m.save_weights(str(tmp_path / "w.h5"), save_format="tf")
    with pytest.raises(ValueError, match='Unknown format "pickle"'):
        m.save_weights(str(tmp_path / "w"), save_format="pickle")
    m.save_weights(str(tmp_path / "w"), save_format="tensorflow")
    with pytest.raises(NotImplementedError, match="by_name=True"):
        m.load_weights(str(tmp_path / "w"), by_name=True)
    with pytest.raises(tf.errors.NotFoundError):
        m.load_weights(str(tmp_path / "missing"))
    unbuilt = K.Sequential([K.layers.Dense(2)])
    with pytest.raises(ValueError, match="has not yet been built"):
        unbuilt.save_weights(str(tmp_path / "u"))
    with pytest.raises(ValueError, match="has not yet been built"):
        unbuilt.load_weights(str(tmp_path / "w"))


def test_overwrite_false_asks(tmp_path, monkeypatch):
    path = str(tmp_path / "w")
    m = cnn_like()
    m.save_weights(path)
    saved = m.get_weights()
    m.set_weights([w + 1 for w in saved])
    answers = iter(["maybe", "n"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    m.save_weights(path, overwrite=False)                   # declined: the old values stay
    np.testing.assert_array_equal(
        tf.train.load_variable(path, f"layer_with_weights-0/bias{ATTR}"), saved[1])
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    m.save_weights(path, overwrite=False)
    np.testing.assert_array_equal(
        tf.train.load_variable(path, f"layer_with_weights-0/bias{ATTR}"), saved[1] + 1)
