"""``tf.keras.callbacks`` that ``Model.fit`` honours: the ``Callback`` base, ``History``
(what fit returns), ``EarlyStopping``, ``LambdaCallback`` and ``ModelCheckpoint`` (weights
saved as a NumPy ``.npz`` of the model's weights, in ``model.weights``' order).

fit calls ``on_train_begin``, then per epoch ``on_epoch_begin``, ``on_batch_begin``/
``on_batch_end`` (also as ``on_train_batch_*``) per batch and ``on_epoch_end(epoch, logs)``,
and stops after an epoch whose callbacks set ``model.stop_training``; then ``on_train_end``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Callback", "History", "EarlyStopping", "LambdaCallback", "ModelCheckpoint",
           "CallbackList"]


class Callback:
    """A no-op callback: subclasses override the ``on_*`` hooks."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: Optional[dict] = None) -> None: ...
    def on_train_end(self, logs: Optional[dict] = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Optional[dict] = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: Optional[dict] = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        self.on_batch_end(batch, logs)


class History(Callback):
    """Records each epoch's figures: ``history`` maps a figure to its per-epoch list."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch: list = []
        self.history: dict = {}

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _monitor_op(mode: str, monitor: str) -> Callable:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be one of 'auto', 'min', 'max', got {mode!r}")
    if mode == "max" or (mode == "auto" and ("acc" in monitor or
                                             monitor.startswith("fmeasure"))):
        return np.greater
    return np.less


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs; ``restore_best_weights`` loads the best epoch's weights on stopping."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False) -> None:
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.monitor_op = _monitor_op(mode, monitor)
        self.min_delta = abs(min_delta) * (1 if self.monitor_op is np.greater else -1)
        self.wait = self.stopped_epoch = 0
        self.best: float = np.inf
        self.best_weights: Optional[list] = None

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        self.wait = self.stopped_epoch = 0
        if self.baseline is not None:
            self.best = self.baseline
        else:
            self.best = -np.inf if self.monitor_op is np.greater else np.inf
        self.best_weights = None

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            print(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                  f"available. Available metrics are: {','.join(logs or {})}", file=sys.stderr)
            return
        if self.monitor_op(current - self.min_delta, self.best):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1:05d}: early stopping")


class LambdaCallback(Callback):
    """A callback made of functions: ``on_epoch_end=lambda epoch, logs: ...`` and so on."""

    def __init__(self, on_epoch_begin: Optional[Callable] = None,
                 on_epoch_end: Optional[Callable] = None,
                 on_batch_begin: Optional[Callable] = None,
                 on_batch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None,
                 on_train_end: Optional[Callable] = None, **kwargs: Any) -> None:
        super().__init__()
        noop2: Callable = lambda a, logs=None: None  # noqa: E731
        noop1: Callable = lambda logs=None: None  # noqa: E731
        self.on_epoch_begin = on_epoch_begin or noop2  # type: ignore[method-assign]
        self.on_epoch_end = on_epoch_end or noop2  # type: ignore[method-assign]
        self.on_batch_begin = on_batch_begin or noop2  # type: ignore[method-assign]
        self.on_batch_end = on_batch_end or noop2  # type: ignore[method-assign]
        self.on_train_begin = on_train_begin or noop1  # type: ignore[method-assign]
        self.on_train_end = on_train_end or noop1  # type: ignore[method-assign]


class ModelCheckpoint(Callback):
    """Saves the model's weights after each epoch to ``filepath`` (formatted with ``epoch``
    and the logs: ``'w.{epoch:02d}.npz'``), only on improvement of ``monitor`` when
    ``save_best_only``; the file is a NumPy ``.npz`` (arrays ``arr_0``, ... in
    ``model.weights``' order), readable with ``load_checkpoint_weights``."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch", period: int = 1,
                 **kwargs: Any) -> None:
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint(save_freq=<batches>) is not supported "
                                      "by jitflow; it saves per epoch")
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only, self.period = save_best_only, max(int(period), 1)
        self.monitor_op = _monitor_op(mode, monitor)
        self.best = -np.inf if self.monitor_op is np.greater else np.inf
        self._since = 0

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        logs = logs or {}
        self._since += 1
        if self._since < self.period:
            return
        self._since = 0
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                print(f"Can save best model only with {self.monitor} available, skipping.",
                      file=sys.stderr)
                return
            if not self.monitor_op(current, self.best):
                return
            self.best = current
        with open(path, "wb") as f:
            np.savez(f, *self.model.get_weights())
        if self.verbose:
            print(f"Epoch {epoch + 1:05d}: saving model to {path}")


def load_checkpoint_weights(model: Any, path: str) -> None:
    """Loads a ModelCheckpoint file into ``model`` (``set_weights``)."""
    with np.load(path) as z:
        model.set_weights([z[f"arr_{i}"] for i in range(len(z.files))])


class CallbackList:
    """fit's callbacks, called in order."""

    def __init__(self, callbacks: list, model: Any, params: dict) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit(callbacks=...): expected tf.keras.callbacks.Callback "
                                f"instances, got {cb!r}")
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook: str) -> Callable:
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call
