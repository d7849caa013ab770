"""``Model.compile/fit/evaluate/predict`` (and the ``*_on_batch`` forms) of tf.keras models in
TF1 graph mode. ``compile`` records its arguments; the first ``fit``/``evaluate``/``predict``
adds the graph once (the training outputs with ``training=True`` for Dropout and
BatchNormalization, the loss with the layers' regularization losses, the metrics, the train
op with the layers' updates) and runs it batch by batch in Keras's session
(tf.keras.backend.get_session), so each signature compiles once. An unbuilt model (a
Sequential without ``input_shape``, a subclassed model) is built on placeholders shaped like
the data: ``input_1``, ... (a dict's keys), float32 for float data.

Several inputs and outputs (keras_data.py: lists in the model's order or dicts keyed by the
inputs' and outputs' names: input placeholders' names, the output layers' names, a subclassed
model's ``output_1``, ...): ``loss`` is one loss for every output, a list or a dict (an output
missing from the dict has no loss and takes no target), ``loss_weights`` a list or dict, the
total loss ``sum(w_i * loss_i)`` plus the regularization losses; ``metrics`` a list for every
output or a dict of them per output. The figures are named as TF 1.15 names them: ``loss``,
then for several outputs ``<output>_loss`` each, then the metrics (``acc`` for 'accuracy';
``<output>_acc`` for several outputs). Epoch figures are means over the samples.
``fit(callbacks=[...])`` calls tf.keras.callbacks hooks (keras_callbacks.py) and stops after
an epoch that set ``model.stop_training``; ``predict`` returns a list for several outputs."""
from __future__ import annotations

import sys
import time
from typing import Any, Optional

import numpy as np

from .keras_callbacks import CallbackList, History
from .keras_data import check_lengths, count, standardize, take

__all__ = ["History", "TrainingMixin"]


def _per_output(spec: Any, names: list, what: str, default: Any) -> list:
    """``spec`` (one value, a list or a dict keyed by output name) as one entry per output."""
    if isinstance(spec, dict):
        unknown = sorted(str(k) for k in spec if k not in names)
        if unknown:
            raise ValueError(f"Unknown entries in {what} dictionary: {unknown}. Only expected "
                             f"following keys: {names}")
        return [spec.get(n, default) for n in names]
    if isinstance(spec, (list, tuple)) and what != "metrics":
        if len(spec) != len(names):
            raise ValueError(f"When passing a list as {what}, it should have one entry per "
                             f"model outputs. The model has {len(names)} outputs "
                             f"({names}), but you passed {what}={list(spec)}")
        return list(spec)
    return [spec] * len(names)


class _Head:
    """One output's loss, weight, metrics and (once built) its target placeholder."""

    def __init__(self, name: str, loss: Any, weight: Any, metrics: Any) -> None:
        from .keras_losses import get_loss, get_metric
        self.name = name
        self.loss_name, self.loss_fn = get_loss(loss) if loss is not None else (None, None)
        self.weight = 1.0 if weight is None else float(weight)
        self.metric_specs = list(metrics) if isinstance(metrics, (list, tuple)) else \
            ([] if metrics is None else [metrics])
        self.metrics = [get_metric(m, self.loss_fn) for m in self.metric_specs]  # (checked)
        self.sparse = self.loss_name == "sparse_categorical_crossentropy"
        self.y = self.out = None

    def target(self, y: np.ndarray) -> np.ndarray:
        """``y`` as the loss takes it: class ids flat, a missing last axis of 1 added."""
        if self.sparse:
            return y.reshape(-1)
        rank = self.out.shape.ndims if self.out is not None else None
        if rank is not None and y.ndim == rank - 1:
            return y[..., None]
        return y


class _Compiled:
    """compile's arguments and, once built, the graph pieces they need."""

    def __init__(self, optimizer: Any, loss: Any, metrics: Any, loss_weights: Any) -> None:
        from .keras_losses import get_loss, get_optimizer
        if loss is None:
            raise ValueError("compile(loss=None): jitflow needs a loss to train or evaluate")
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(f"Type of `metrics` argument not understood. Expected a list or "
                            f"dictionary, found: {metrics!r}")
        self.optimizer = get_optimizer(optimizer)
        for spec in (loss.values() if isinstance(loss, dict) else
                     loss if isinstance(loss, (list, tuple)) else [loss]):
            if spec is not None:
                get_loss(spec)                     # unknown names fail at compile
        self.loss, self.metric_spec, self.loss_weights = loss, metrics, loss_weights
        self.heads: Optional[list] = None
        self.multi = False
        self.x: list = []
        self.train_op = None
        self.train_fetches: list = []
        self.eval_fetches: list = []

    def resolve(self, out_names: list) -> None:
        """One head per output, the specs checked against the output names."""
        if self.heads is not None:
            return
        losses = _per_output(self.loss, out_names, "loss", None)
        weights = _per_output(self.loss_weights, out_names, "loss_weights", 1.0)
        metrics = _per_output(self.metric_spec, out_names, "metrics", None)
        self.heads = [_Head(n, l, w, m) for n, l, w, m in zip(out_names, losses, weights,
                                                               metrics)]
        self.multi = len(out_names) > 1
        if not self.active:
            raise ValueError(f"compile: no output has a loss (outputs {out_names}, "
                             f"loss={self.loss!r})")

    @property
    def active(self) -> list:
        return [h for h in (self.heads or []) if h.loss_fn is not None]

    @property
    def names(self) -> list:
        """``loss``, ``<output>_loss`` for several outputs, then the metrics."""
        if self.heads is None:           # not built: as for one output
            from .keras_losses import get_loss, get_metric
            fn = get_loss(self.loss)[1] if not isinstance(self.loss, (list, dict)) else None
            specs = self.metric_spec if isinstance(self.metric_spec, (list, tuple)) else []
            return ["loss"] + [get_metric(m, fn)[0] for m in specs]
        pre = (lambda h: f"{h.name}_") if self.multi else (lambda h: "")
        out = ["loss"] + ([f"{h.name}_loss" for h in self.active] if self.multi else [])
        return out + [f"{pre(h)}{n}" for h in self.active for n, _ in h.metrics]


def _fetches(c: _Compiled, outs: list, reg: list) -> list:
    """[total loss, per-output losses (several outputs), metrics] for the outputs ``outs``."""
    from . import math_ops as M
    by_name = dict(zip([h.name for h in c.heads], outs))
    losses = [_masked_mean(h.loss_fn(h.y, by_name[h.name]), by_name[h.name], False)
              for h in c.active]
    terms = [l if h.weight == 1.0 else M.multiply(l, h.weight) for h, l in zip(c.active, losses)]
    terms += list(reg)
    total = terms[0] if len(terms) == 1 else (M.add(terms[0], terms[1]) if len(terms) == 2
                                              else M.add_n(terms))
    mets = [_masked_mean(fn(h.y, by_name[h.name]), by_name[h.name], True)
            for h in c.active for _, fn in h.metrics]
    return [total] + (losses if c.multi else []) + mets


def _as_list(t: Any) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


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
        for k, v in (("sample_weight_mode", sample_weight_mode),
                     ("weighted_metrics", weighted_metrics), ("target_tensors", target_tensors)):
            if v is not None:
                raise NotImplementedError(f"Model.compile({k}=...) is not supported by jitflow")
        self._compiled = _Compiled(optimizer, loss, metrics, loss_weights)
        if self._output is not None:
            self._compiled.resolve(self.output_names)

    @property
    def metrics_names(self) -> list:
        """``['loss', 'acc', ...]``: what evaluate's list holds (after compile)."""
        return [] if self._compiled is None else self._compiled.names

    # ------------------------------------------------------------ names -------------------
    @property
    def input_names(self) -> list:
        """The inputs' names: their placeholders' (``input_1``, ...), a dict input's keys."""
        if isinstance(self._input_struct, dict):
            return sorted(self._input_struct)
        return [t.op.name for t in self.inputs]

    @property
    def output_names(self) -> list:
        """The outputs' names: the layers that made them (``dense_1``; a second output of
        the same layer ``dense_1_1``), a subclassed model's ``output_1``, ..."""
        outs = self.outputs
        if getattr(self, "_subclassed", False):
            return [f"output_{i + 1}" for i in range(len(outs))]
        calls = outs[0].graph.__dict__.get("_layer_calls", {}) if outs else {}
        names: list = []
        for t in outs:
            rec = calls.get(id(t))
            base = rec[0].name if rec is not None else t.op.name.split("/")[0]
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return names

    # ------------------------------------------------------------ graph -------------------
    def _need_compiled(self, what: str) -> _Compiled:
        if self._compiled is None:
            raise RuntimeError(f"You must compile your model before {what}. Use "
                               f"`model.compile(optimizer, loss)`.")
        return self._compiled

    def _build_from_data(self, x: Any) -> None:
        """An unbuilt model is called on placeholders shaped (and typed) like ``x``."""
        from .array_ops import placeholder
        if self._output is not None:
            return
        if x is None:
            raise ValueError("An unbuilt model needs input data to be built: got x=None")

        def ph(a: Any, name: str) -> Any:
            a = np.asarray(a)
            shape = [None] + list(a.shape[1:]) if a.ndim > 1 else [None, 1]
            dt = "float32" if a.dtype.kind == "f" else a.dtype.name    # Keras's floatx
            return placeholder(dt, shape, name=name)
        if isinstance(x, dict):
            struct: Any = {k: ph(x[k], str(k)) for k in sorted(x)}
        elif isinstance(x, (list, tuple)) and len(x) > 1 and all(hasattr(e, "shape")
                                                                  for e in x):
            struct = [ph(e, f"input_{i + 1}") for i, e in enumerate(x)]
        else:
            struct = ph(x[0] if isinstance(x, (list, tuple)) and len(x) == 1 and
                        hasattr(x[0], "shape") else x, "input_1")
        if not getattr(self, "_subclassed", False):
            if isinstance(struct, (list, dict)):
                raise ValueError(f"An unbuilt Sequential model takes one input array, got "
                                 f"{type(x).__name__}")
            self(struct)
            return
        out = self(struct)
        self._build_call_token = self.last_call_token
        if isinstance(out, dict):
            raise NotImplementedError("fit/evaluate/predict of a subclassed model whose call "
                                      "returns a dict is not supported by jitflow; return a "
                                      "list")
        self._input_struct = struct
        flat = [struct[k] for k in sorted(struct)] if isinstance(struct, dict) else \
            _as_list(struct)
        self._input = flat if len(flat) > 1 else flat[0]
        self._output = list(out) if isinstance(out, (list, tuple)) else out

    def _call_input(self) -> Any:
        return self._input_struct if self._input_struct is not None else self._input

    def _x_arrays(self, x: Any) -> list:
        self._build_from_data(x)
        shapes = [t.shape.as_list() if t.shape.ndims is not None else None
                  for t in self.inputs]
        return standardize(x, self.input_names, "input", shapes)

    def _y_arrays(self, c: _Compiled, y: Any) -> list:
        names = [h.name for h in c.active]
        return [h.target(a) for h, a in zip(c.active, standardize(y, names, "target"))]

    def _build_training(self, c: _Compiled, x: Any, y: Any) -> tuple:
        """The standardized (x arrays, y arrays), adding the training graph the first time."""
        from .array_ops import placeholder
        from .graph import get_default_graph
        from .keras_losses import get_metric
        from .variables import group
        xs = self._x_arrays(x)
        c.resolve(self.output_names)
        for h, out in zip(c.heads, self.outputs):
            h.out = out
        ys = self._y_arrays(c, y)
        check_lengths(xs, ys)
        if c.train_op is not None:
            return xs, ys
        g = get_default_graph()
        with g.name_scope(None):
            for h, a in zip(c.active, ys):
                units = h.out.shape.as_list()[-1] if h.out.shape.ndims else None
                h.metrics = [get_metric(m, h.loss_fn, units) for m in h.metric_specs]
                ydt = "int64" if h.sparse else (a.dtype if a.dtype.kind == "f" else "float32")
                h.y = placeholder(ydt, [None] + list(a.shape[1:]), name=f"{h.name}_target")
            with g.name_scope("training"):
                c.x = self.inputs
                train_out = _as_list(self(self._call_input(), training=True))
                from .keras_base import losses_of_call
                reg = self.losses
                c.train_fetches = _fetches(c, train_out, losses_of_call(
                    reg, getattr(self, "last_call_token", None)))
                c.eval_fetches = _fetches(c, self.outputs, losses_of_call(
                    reg, getattr(self, "_build_call_token", None)))
                minimize = c.optimizer.minimize(c.train_fetches[0],
                                                var_list=self.trainable_weights)
                ups = self.updates
                c.train_op = group(minimize, *ups) if ups else minimize
        return xs, ys

    def _session(self) -> Any:
        from .keras_backend import get_session
        ins = self.inputs
        return get_session(ins[0].graph if ins else None)

    # ------------------------------------------------------------ loops -------------------
    def _batches(self, n: int, batch_size: int, order: Optional[np.ndarray] = None):
        idx = np.arange(n) if order is None else order
        for s in range(0, n, batch_size):
            yield idx[s:s + batch_size]

    def _run_epoch(self, sess: Any, fetches: list, op: Any, xs: list, ys: list,
                   batch_size: int, order: Optional[np.ndarray] = None,
                   callbacks: Optional[CallbackList] = None) -> list:
        c = self._compiled
        sums = np.zeros(len(fetches))
        phs = list(c.x) + [h.y for h in c.active]
        for i, b in enumerate(self._batches(count(xs), batch_size, order)):
            if callbacks is not None:
                callbacks.on_train_batch_begin(i, {"batch": i, "size": len(b)})
            got = sess.run(([op] if op is not None else []) + fetches,
                           dict(zip(phs, take(xs + ys, b))))
            vals = np.asarray(got[1 if op is not None else 0:], np.float64)
            sums += vals * len(b)
            if callbacks is not None:
                callbacks.on_train_batch_end(i, {"batch": i, "size": len(b),
                                                 **dict(zip(c.names, map(float, vals)))})
        return [float(v) for v in sums / max(count(xs), 1)]

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
        xs, ys = self._build_training(c, x, y)
        if validation_data is None and validation_split:
            cut = int(count(xs) * (1.0 - validation_split))
            vxs, vys = take(xs, slice(cut, None)), take(ys, slice(cut, None))
            xs, ys = take(xs, slice(None, cut)), take(ys, slice(None, cut))
        elif validation_data is not None:
            if len(validation_data) == 3 and validation_data[2] is not None:
                raise NotImplementedError("fit(validation_data=(x, y, sample_weights)): sample "
                                          "weights are not supported by jitflow")
            if len(validation_data) not in (2, 3):
                raise ValueError(f"When passing validation_data, it must contain 2 (x_val, "
                                 f"y_val) or 3 (x_val, y_val, val_sample_weights) items, "
                                 f"however it contains {len(validation_data)} items")
            vxs, vys = self._build_training(c, validation_data[0], validation_data[1])
        batch_size = int(batch_size or 32)
        sess = self._session()
        n = count(xs)
        hist = History()
        validate = validation_data is not None or bool(validation_split)
        params = {"batch_size": batch_size, "epochs": epochs, "samples": n,
                  "verbose": verbose, "do_validation": validate,
                  "metrics": c.names + ([f"val_{k}" for k in c.names] if validate else [])}
        cbs = CallbackList([hist] + list(callbacks or []), self, params)
        hist.params = params
        self.stop_training = False
        cbs.on_train_begin({})
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch, {})
            t0 = time.perf_counter()
            order = np.random.permutation(n) if shuffle else None
            vals = self._run_epoch(sess, c.train_fetches, c.train_op, xs, ys, batch_size,
                                   order, cbs)
            logs = dict(zip(c.names, vals))
            if validate:
                vvals = self._run_epoch(sess, c.eval_fetches, None, vxs, vys, batch_size)
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
        """The loss (a float), or [loss, per-output losses..., metrics...]."""
        c = self._need_compiled("training/testing")
        xs, ys = self._build_training(c, x, y)
        vals = self._run_epoch(self._session(), c.eval_fetches, None, xs, ys,
                               int(batch_size or 32))
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(c.names, vals)))
        return vals[0] if len(vals) == 1 else vals

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: int = 0,
                steps: Any = None, **kwargs: Any) -> Any:
        """The model's (inference) outputs for ``x``, in batches of ``batch_size`` (32): an
        array, or a list of them for several outputs."""
        xs = self._x_arrays(x)
        outs, ins = self.outputs, self.inputs
        sess = self._session()
        parts = [sess.run(outs, dict(zip(ins, take(xs, b))))
                 for b in self._batches(count(xs), int(batch_size or 32))]
        res = [np.concatenate([p[i] for p in parts]) if parts else
               np.zeros((0,) + tuple(o.shape.as_list()[1:]), o.dtype.name)
               for i, o in enumerate(outs)]
        return res if isinstance(self._output, list) else res[0]

    def _on_batch(self, x: Any, y: Any, train: bool) -> Any:
        c = self._need_compiled("training/testing")
        xs, ys = self._build_training(c, x, y)
        fetches: list = c.train_fetches if train else c.eval_fetches
        vals = self._run_epoch(self._session(), fetches, c.train_op if train else None, xs,
                               ys, max(count(xs), 1))
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

    def predict_on_batch(self, x: Any) -> Any:
        xs = self._x_arrays(x)
        return self.predict(x, batch_size=max(count(xs), 1))
