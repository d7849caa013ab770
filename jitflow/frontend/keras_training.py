"""``Model.compile/fit/evaluate/predict`` (and the ``*_on_batch`` forms) of tf.keras models in
TF1 graph mode. ``compile`` only records its arguments; the first ``fit``/``evaluate``/
``predict`` adds the graph once (the training output with ``training=True`` for Dropout and
BatchNormalization, the loss with the layers' regularization losses, the metrics, the train
op with the layers' updates) and runs it batch by batch in Keras's session
(tf.keras.backend.get_session), so each signature compiles once. Epoch figures are means
over the samples, as Keras's; ``metrics=['accuracy']`` is reported as ``acc``, as TF 1.15
names it. ``fit(callbacks=[...])`` calls tf.keras.callbacks hooks (keras_callbacks.py) and
stops after an epoch that set ``model.stop_training``; a model of several inputs takes a
list of arrays."""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

import numpy as np

from .keras_callbacks import CallbackList, History

__all__ = ["History", "TrainingMixin"]


class _Compiled:
    """compile's arguments and, once built, the graph pieces they need."""

    def __init__(self, optimizer: Any, loss: Any, metrics: Any) -> None:
        from .keras_losses import get_loss, get_metric, get_optimizer
        if loss is None:
            raise ValueError("compile(loss=None): jitflow needs a loss to train or evaluate")
        self.optimizer = get_optimizer(optimizer)
        self.loss_name, self.loss_fn = get_loss(loss)
        self.metric_specs = list(metrics or [])
        self.metrics = [get_metric(m, self.loss_fn) for m in self.metric_specs]  # (checked)
        self.sparse = self.loss_name == "sparse_categorical_crossentropy"
        self.x = self.y = self.pred = self.train_op = None
        self.train_fetches: list = []
        self.eval_fetches: list = []

    @property
    def names(self) -> list:
        return ["loss"] + [n for n, _ in self.metrics]


def _as_array(x: Any, what: str) -> Any:
    """A NumPy array, or a list of them for a model of several inputs."""
    if x is None:
        raise ValueError(f"{what}: expected a NumPy array, got None")
    if isinstance(x, (list, tuple)) and x and all(isinstance(e, np.ndarray) for e in x):
        return [np.asarray(e) for e in x]
    return np.asarray(x)


def _count(x: Any) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _take(x: Any, idx: Any) -> Any:
    return [e[idx] for e in x] if isinstance(x, list) else x[idx]


def _feed(ph: Any, x: Any) -> dict:
    """{placeholder: array} for one input or a list of them."""
    if isinstance(ph, list):
        if not isinstance(x, list) or len(x) != len(ph):
            raise ValueError(f"The model has {len(ph)} inputs: expected a list of {len(ph)} "
                             f"arrays, got {type(x).__name__}")
        return dict(zip(ph, x))
    if isinstance(x, list):
        raise ValueError(f"The model has one input: expected one array, got a list of "
                         f"{len(x)}")
    return {ph: x}


def _masked_mean(values: Any, out: Any, metric: bool) -> Any:
    """The mean of per-example ``values``; with a Keras mask on the output ``out``
    (keras_mask.py) weighted by it as TF 1.15 does: the loss ``sum(v * m) / size(v)``
    (SUM_OVER_BATCH_SIZE), a metric ``sum(v * m) / sum(m)``."""
    from . import math_ops as M
    mask = getattr(out, "_keras_mask", None)
    if mask is None:
        return M.reduce_mean(values)
    from .array_ops import expand_dims
    m = M.cast(mask, values.dtype)
    while m.shape.ndims is not None and values.shape.ndims is not None and \
            m.shape.ndims < values.shape.ndims:
        m = expand_dims(m, -1)
    weighted = M.multiply(values, m)
    if not metric:
        return M.reduce_mean(weighted)
    from .math_extra import div_no_nan
    return div_no_nan(M.reduce_sum(weighted), M.reduce_sum(M.add(M.multiply(values, 0.0), m)))


class TrainingMixin:
    """compile/fit/evaluate/predict for Model and Sequential (keras_models.py)."""

    _compiled: Optional[_Compiled]

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, sample_weight_mode: Any = None,
                weighted_metrics: Any = None, target_tensors: Any = None, **kwargs: Any) -> None:
        for k, v in (("loss_weights", loss_weights), ("sample_weight_mode", sample_weight_mode),
                     ("weighted_metrics", weighted_metrics), ("target_tensors", target_tensors)):
            if v is not None:
                raise NotImplementedError(f"Model.compile({k}=...) is not supported by jitflow")
        self._compiled = _Compiled(optimizer, loss, metrics)

    @property
    def metrics_names(self) -> list:
        """``['loss', 'acc', ...]``: what evaluate's list holds (after compile)."""
        return [] if self._compiled is None else self._compiled.names

    # ------------------------------------------------------------ graph -------------------
    def _need_compiled(self, what: str) -> _Compiled:
        if self._compiled is None:
            raise RuntimeError(f"You must compile your model before {what}. Use "
                               f"`model.compile(optimizer, loss)`.")
        return self._compiled

    def _prediction_graph(self, x: np.ndarray) -> Any:
        """The input placeholder and inference output (building the model on a placeholder
        shaped like ``x`` when it has no input yet)."""
        from .array_ops import placeholder
        if self._output is None:
            if isinstance(x, list):
                raise ValueError("An unbuilt model takes one input array, got a list")
            ph = placeholder("float32", [None] + list(x.shape[1:]),     # Keras's floatx
                             name=f"{self.name}_input")
            self(ph)
        if isinstance(self._output, list):
            raise NotImplementedError("compile/fit/evaluate/predict of a model with several "
                                      "outputs is not supported by jitflow")
        return self._input, self._output

    def _target(self, c: _Compiled, y: np.ndarray) -> np.ndarray:
        out_rank = self._output.shape.ndims
        if c.sparse:
            return y.reshape(-1)
        if out_rank is not None and y.ndim == out_rank - 1:
            return y[..., None]
        return y

    def _build_training(self, c: _Compiled, x: np.ndarray, y: np.ndarray) -> None:
        from . import math_ops as M
        from .array_ops import placeholder
        from .graph import get_default_graph
        from .variables import group
        if c.train_op is not None:
            return
        from .keras_losses import get_metric
        xin, out = self._prediction_graph(x)
        y = self._target(c, y)
        units = out.shape.as_list()[-1] if out.shape.ndims else None
        c.metrics = [get_metric(m, c.loss_fn, units) for m in c.metric_specs]
        g = get_default_graph()
        with g.name_scope(None):
            with g.name_scope("training"):
                ydt = "int64" if c.sparse else (y.dtype if y.dtype.kind == "f" else "float32")
                c.y = placeholder(ydt, [None] + list(y.shape[1:]), name=f"{self.name}_target")
                c.x, c.pred = xin, out
                train_out = self(xin, training=True)

                def figures(o: Any) -> list:
                    loss = _masked_mean(c.loss_fn(c.y, o), o, False)
                    reg = self.losses
                    if reg:
                        loss = M.add(loss, M.add_n(list(reg)) if len(reg) > 1 else reg[0])
                    return [loss] + [_masked_mean(fn(c.y, o), o, True) for _, fn in c.metrics]
                c.train_fetches = figures(train_out)
                c.eval_fetches = figures(out)
                minimize = c.optimizer.minimize(c.train_fetches[0],
                                                var_list=self.trainable_weights)
                ups = self.updates
                c.train_op = group(minimize, *ups) if ups else minimize

    def _session(self) -> Any:
        from .keras_backend import get_session
        ins = self._input[0] if isinstance(self._input, list) else self._input
        return get_session(ins.graph if ins is not None else None)

    # ------------------------------------------------------------ loops -------------------
    def _batches(self, n: int, batch_size: int, order: Optional[np.ndarray] = None):
        idx = np.arange(n) if order is None else order
        for s in range(0, n, batch_size):
            yield idx[s:s + batch_size]

    def _run_epoch(self, sess: Any, fetches: list, op: Any, x: np.ndarray, y: np.ndarray,
                   batch_size: int, order: Optional[np.ndarray] = None,
                   callbacks: Optional[CallbackList] = None) -> list:
        c = self._compiled
        sums = np.zeros(len(fetches))
        for i, b in enumerate(self._batches(_count(x), batch_size, order)):
            if callbacks is not None:
                callbacks.on_train_batch_begin(i, {"batch": i, "size": len(b)})
            got = sess.run(([op] if op is not None else []) + fetches,
                           {**_feed(c.x, _take(x, b)), c.y: y[b]})
            vals = np.asarray(got[1 if op is not None else 0:], np.float64)
            sums += vals * len(b)
            if callbacks is not None:
                callbacks.on_train_batch_end(i, {"batch": i, "size": len(b),
                                                 **dict(zip(c.names, map(float, vals)))})
        return [float(v) for v in sums / max(_count(x), 1)]

    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
            epochs: int = 1, verbose: int = 1, callbacks: Any = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            class_weight: Any = None, sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: Any = None, validation_steps: Any = None,
            **kwargs: Any) -> History:
        """Trains ``epochs`` epochs of mini-batches (32 by default), shuffled each epoch."""
        c = self._need_compiled("training/testing")
        for k, v in (("class_weight", class_weight), ("sample_weight", sample_weight),
                     ("steps_per_epoch", steps_per_epoch)):
            if v:
                raise NotImplementedError(f"Model.fit({k}=...) is not supported by jitflow")
        x, y = _as_array(x, "fit(x)"), _as_array(y, "fit(y)")
        if _count(x) != len(y):
            raise ValueError(f"Input arrays should have the same number of samples as target "
                             f"arrays. Found {_count(x)} input samples and {len(y)} target "
                             f"samples.")
        if validation_data is None and validation_split:
            cut = int(_count(x) * (1.0 - validation_split))
            validation_data = (_take(x, slice(cut, None)), y[cut:])
            x, y = _take(x, slice(None, cut)), y[:cut]
        batch_size = int(batch_size or 32)
        self._build_training(c, x, y)
        y = self._target(c, y)
        if validation_data is not None:
            vx, vy = _as_array(validation_data[0], "validation x"), \
                _as_array(validation_data[1], "validation y")
            vy = self._target(c, vy)
        sess = self._session()
        n = _count(x)
        hist = History()
        params = {"batch_size": batch_size, "epochs": epochs, "samples": n,
                  "verbose": verbose, "do_validation": validation_data is not None,
                  "metrics": c.names + ([f"val_{k}" for k in c.names]
                                        if validation_data is not None else [])}
        cbs = CallbackList([hist] + list(callbacks or []), self, params)
        hist.params = params
        self.stop_training = False
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            t0 = time.perf_counter()
            order = np.random.permutation(n) if shuffle else None
            vals = self._run_epoch(sess, c.train_fetches, c.train_op, x, y, batch_size, order,
                                   cbs)
            logs = dict(zip(c.names, vals))
            if validation_data is not None:
                vvals = self._run_epoch(sess, c.eval_fetches, None, vx, vy, batch_size)
                logs.update({f"val_{k}": v for k, v in zip(c.names, vvals)})
            if verbose:
                figs = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                print(f"Epoch {epoch + 1}/{epochs}\n{n}/{n} - "
                      f"{time.perf_counter() - t0:.0f}s - {figs}", file=sys.stdout)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end({})
        return hist

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: int = 1, sample_weight: Any = None, steps: Any = None,
                 **kwargs: Any) -> Any:
        """The loss (a float), or [loss, metrics...] when compiled with metrics."""
        c = self._need_compiled("training/testing")
        x, y = _as_array(x, "evaluate(x)"), _as_array(y, "evaluate(y)")
        self._build_training(c, x, y)
        vals = self._run_epoch(self._session(), c.eval_fetches, None, x, self._target(c, y),
                               int(batch_size or 32))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(c.names, vals)))
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: int = 0,
                steps: Any = None, **kwargs: Any) -> np.ndarray:
        """The model's (inference) output for ``x``, in batches of ``batch_size`` (32)."""
        x = _as_array(x, "predict(x)")
        xin, out = self._prediction_graph(x)
        sess = self._session()
        parts = [sess.run(out, _feed(xin, _take(x, b)))
                 for b in self._batches(_count(x), int(batch_size or 32))]
        return np.concatenate(parts) if parts else np.zeros((0,) + tuple(out.shape.as_list()[1:]))

    def _on_batch(self, x: Any, y: Any, train: bool) -> Any:
        c = self._need_compiled("training/testing")
        x, y = _as_array(x, "x"), _as_array(y, "y")
        self._build_training(c, x, y)
        fetches: list = c.train_fetches if train else c.eval_fetches
        vals = self._run_epoch(self._session(), fetches, c.train_op if train else None, x,
                               self._target(c, y), max(_count(x), 1))
        return vals[0] if len(vals) == 1 else vals

    def train_on_batch(self, x: Any, y: Any, **kwargs: Any) -> Any:
        return self._on_batch(x, y, True)

    def test_on_batch(self, x: Any, y: Any, **kwargs: Any) -> Any:
        return self._on_batch(x, y, False)

    def reset_states(self) -> None:
        """Keras's ``Model.reset_states``: every stateful layer's states to zeros."""
        for layer in self.layers:
            if getattr(layer, "stateful", False) and hasattr(layer, "reset_states"):
                layer.reset_states()

    def predict_on_batch(self, x: Any) -> np.ndarray:
        return self.predict(x, batch_size=max(_count(_as_array(x, "x")), 1))
