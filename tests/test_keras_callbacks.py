"""tf.keras.callbacks honoured by Model.fit (frontend/keras_callbacks.py, keras_training.py):
History, EarlyStopping (patience, min_delta, mode, baseline, restore_best_weights; the
epochs run), LambdaCallback's hooks and their counts, a Callback subclass stopping training,
ModelCheckpoint(save_best_only) files read back, and the errors."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf

CB = tf.keras.callbacks
KL = tf.keras.layers


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.keras.backend.clear_session()
    tf.set_random_seed(0)
    np.random.seed(0)                    # fit's shuffling
    yield


def regression(n=64, seed=0):
    r = np.random.RandomState(seed)
    x = r.randn(n, 4).astype(np.float32)
    return x, (x @ r.randn(4, 1)).astype(np.float32)


def linear(lr=0.05):
    m = tf.keras.Sequential([KL.Dense(1, input_shape=(4,))])
    m.compile(tf.keras.optimizers.SGD(lr), "mse")
    return m


def test_history_is_a_callback():
    x, y = regression()
    hist = linear().fit(x, y, epochs=3, verbose=0)
    assert isinstance(hist, CB.History) and isinstance(hist, CB.Callback)
    assert hist.epoch == [0, 1, 2] and len(hist.history["loss"]) == 3
    assert hist.params["epochs"] == 3 and hist.params["samples"] == 64


@pytest.mark.parametrize("patience", [0, 1, 3])
def test_early_stopping_stops_after_patience(patience):
    x, y = regression()
    es = CB.EarlyStopping(monitor="loss", patience=patience, min_delta=1e6)
    hist = linear().fit(x, y, epochs=20, verbose=0, callbacks=[es])
    # a min_delta larger than any change: only the first epoch counts as an improvement
    ran = max(patience, 1) + 1
    assert len(hist.epoch) == ran and es.stopped_epoch == ran - 1


def test_early_stopping_does_not_stop_while_improving():
    x, y = regression()
    es = CB.EarlyStopping(monitor="loss", patience=0)
    hist = linear(0.02).fit(x, y, epochs=8, verbose=0, shuffle=False, batch_size=64,
                            callbacks=[es])
    assert len(hist.epoch) == 8 and es.stopped_epoch == 0
    assert all(np.diff(hist.history["loss"]) < 0)


def test_early_stopping_val_loss_and_baseline():
    x, y = regression()
    es = CB.EarlyStopping(patience=1, baseline=-1.0)      # val_loss can never beat -1
    hist = linear().fit(x, y, epochs=10, verbose=0, validation_split=0.25, callbacks=[es])
    assert len(hist.epoch) == 1 and "val_loss" in hist.history
    missing = CB.EarlyStopping(monitor="val_acc", patience=0)
    hist = linear().fit(x, y, epochs=3, verbose=0, callbacks=[missing])
    assert len(hist.epoch) == 3


def test_early_stopping_restores_best_weights():
    x, y = regression()
    m = linear()
    seen = []
    rec = CB.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(m.get_weights()))
    # mode="max" on a falling loss: epoch 0 is the best and epoch 1 is worse, so stop there
    es = CB.EarlyStopping(monitor="loss", mode="max", patience=1, restore_best_weights=True)
    hist = m.fit(x, y, epochs=10, verbose=0, callbacks=[rec, es])
    assert len(hist.epoch) == 2 and es.stopped_epoch == 1
    for got, best, last in zip(m.get_weights(), seen[0], seen[1]):
        np.testing.assert_array_equal(got, best)
        assert not np.array_equal(got, last)
    with pytest.raises(ValueError, match="mode"):
        CB.EarlyStopping(mode="up")


def test_lambda_callback_hooks_and_counts():
    x, y = regression(n=50)
    events: dict = {}

    def note(name):
        def f(*args):
            events.setdefault(name, []).append(args)
        return f
    cb = CB.LambdaCallback(**{k: note(k) for k in (
        "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
        "on_batch_end")})
    linear().fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    assert len(events["on_train_begin"]) == len(events["on_train_end"]) == 1
    assert [a[0] for a in events["on_epoch_end"]] == [0, 1, 2]
    assert len(events["on_epoch_begin"]) == 3
    assert len(events["on_batch_begin"]) == len(events["on_batch_end"]) == 3 * 4
    assert [a[0] for a in events["on_batch_end"][:4]] == [0, 1, 2, 3]
    assert events["on_batch_end"][3][1]["size"] == 2 and "loss" in events["on_batch_end"][0][1]
    assert set(events["on_epoch_end"][0][1]) == {"loss"}


def test_callback_subclass_stops_training():
    class StopAt(CB.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True
    x, y = regression()
    m = linear()
    cb = StopAt()
    hist = m.fit(x, y, epochs=10, verbose=0, callbacks=[cb])
    assert len(hist.epoch) == 3 and cb.model is m and cb.params["epochs"] == 10
    hist = m.fit(x, y, epochs=2, verbose=0)        # a later fit starts afresh
    assert len(hist.epoch) == 2


def test_model_checkpoint_save_best_only(tmp_path):
    from jitflow.frontend.keras_callbacks import load_checkpoint_weights
    x, y = regression()
    m = linear()
    path = str(tmp_path / "w{epoch:02d}.npz")
    weights = []
    rec = CB.LambdaCallback(on_epoch_end=lambda e, logs: weights.append(m.get_weights()))
    ck = CB.ModelCheckpoint(path, monitor="loss", mode="max", save_best_only=True)
    hist = m.fit(x, y, epochs=4, verbose=0, callbacks=[rec, ck])
    assert all(np.diff(hist.history["loss"]) < 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w01.npz"]   # only epoch 1 was max
    every = CB.ModelCheckpoint(str(tmp_path / "all{epoch}.npz"))
    m.fit(x, y, epochs=2, verbose=0, callbacks=[every])
    assert {p.name for p in tmp_path.iterdir()} == {"w01.npz", "all1.npz", "all2.npz"}
    load_checkpoint_weights(m, path.format(epoch=1))
    for got, want in zip(m.get_weights(), weights[0]):
        np.testing.assert_array_equal(got, want)


def test_fit_rejects_non_callbacks():
    x, y = regression()
    with pytest.raises(TypeError, match="Callback"):
        linear().fit(x, y, epochs=1, verbose=0, callbacks=[lambda: None])
