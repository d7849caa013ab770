"""``tf.keras.losses`` / ``tf.keras.metrics`` functions and ``tf.keras.optimizers`` as TF 1.15
Keras computes them in graph mode, for ``Model.compile``.

Without ``from_logits`` the cross-entropies read ``y_pred`` as probabilities, as Keras's
backend does: the logits of a softmax (sigmoid) output are taken from its op; any other
output is clipped to [1e-7, 1 - 1e-7] and its log used (categorical: normalized first).
"""
from __future__ import annotations

from typing import Any, Callable

from . import math_ops as M
from .array_ops import reshape
from .extra_ops import argmax, clip_by_value
from .graph import Tensor
from .op_builder import convert_to_tensor

__all__ = ["sparse_categorical_crossentropy", "categorical_crossentropy",
           "binary_crossentropy", "mean_squared_error", "mean_absolute_error",
           "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "get_loss", "get_metric", "get_optimizer",
           "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
           "to_categorical"]

EPSILON = 1e-7


def _logits_of(y_pred: Tensor, op_type: str) -> Any:
    op = y_pred.op
    return op.inputs[0] if op.type == op_type else None


def _nn():
    from . import nn
    return nn


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """Per-example -log p[label]; ``y_true`` holds class ids ([N] or [N, 1])."""
    y_pred = convert_to_tensor(y_pred)
    logits = y_pred if from_logits else _logits_of(y_pred, "Softmax")
    if logits is None:
        logits = M.log(clip_by_value(y_pred, EPSILON, 1 - EPSILON))
    labels = M.cast(reshape(convert_to_tensor(y_true), [-1]), "int64")
    return _nn().sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Per-example -sum(y_true * log p); ``y_true`` one-hot."""
    y_pred = convert_to_tensor(y_pred)
    y_true = M.cast(convert_to_tensor(y_true), y_pred.dtype)
    logits = y_pred if from_logits else _logits_of(y_pred, "Softmax")
    if logits is not None:
        return _nn().softmax_cross_entropy_with_logits_v2(labels=y_true, logits=logits)
    p = M.divide(y_pred, M.reduce_sum(y_pred, axis=axis, keepdims=True))
    p = clip_by_value(p, EPSILON, 1 - EPSILON)
    return M.negative(M.reduce_sum(M.multiply(y_true, M.log(p)), axis=axis))


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> Tensor:
    """Per-example mean over the last axis of the sigmoid cross-entropy."""
    y_pred = convert_to_tensor(y_pred)
    y_true = M.cast(convert_to_tensor(y_true), y_pred.dtype)
    logits = y_pred if from_logits else _logits_of(y_pred, "Sigmoid")
    if logits is None:
        p = clip_by_value(y_pred, EPSILON, 1 - EPSILON)
        logits = M.log(M.divide(p, M.subtract(1.0, p)))
    xent = _nn().sigmoid_cross_entropy_with_logits(labels=y_true, logits=logits)
    return M.reduce_mean(xent, axis=-1)


def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    y_pred = convert_to_tensor(y_pred)
    return M.reduce_mean(M.squared_difference(y_pred, M.cast(y_true, y_pred.dtype)), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    y_pred = convert_to_tensor(y_pred)
    return M.reduce_mean(M.abs(M.subtract(y_pred, M.cast(y_true, y_pred.dtype))), axis=-1)


class _LossClass:
    fn: Callable = staticmethod(mean_squared_error)

    def __init__(self, from_logits: bool = False, name: Any = None, **kwargs: Any) -> None:
        self.from_logits, self.name = from_logits, name

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        if sample_weight is not None:
            raise NotImplementedError("keras loss objects: sample_weight is not supported")
        return M.reduce_mean(self.per_example(y_true, y_pred))

    def per_example(self, y_true: Any, y_pred: Any) -> Tensor:
        return type(self).fn(y_true, y_pred, from_logits=self.from_logits)


class SparseCategoricalCrossentropy(_LossClass):
    fn = staticmethod(sparse_categorical_crossentropy)


class CategoricalCrossentropy(_LossClass):
    fn = staticmethod(categorical_crossentropy)


class BinaryCrossentropy(_LossClass):
    fn = staticmethod(binary_crossentropy)


class MeanSquaredError(_LossClass):
    def per_example(self, y_true: Any, y_pred: Any) -> Tensor:
        return mean_squared_error(y_true, y_pred)


_LOSSES = {"sparse_categorical_crossentropy": sparse_categorical_crossentropy,
           "categorical_crossentropy": categorical_crossentropy,
           "binary_crossentropy": binary_crossentropy,
           "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
           "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error}


def get_loss(loss: Any) -> tuple[str, Callable]:
    """(its name, a per-example ``fn(y_true, y_pred)``) for a name, loss object or function."""
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(f"Unknown loss function: {loss!r}; jitflow knows {sorted(_LOSSES)}")
        return loss, _LOSSES[loss]
    if isinstance(loss, _LossClass):
        return type(loss).fn.__name__, loss.per_example
    if callable(loss):
        return getattr(loss, "__name__", "loss"), loss
    raise TypeError(f"compile(loss=...): expected a loss name or callable, got {loss!r}")


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    labels = M.cast(reshape(convert_to_tensor(y_true), [-1]), "int64")
    return M.cast(M.equal(argmax(y_pred, axis=-1), labels), "float32")


def categorical_accuracy(y_true: Any, y_pred: Any) -> Tensor:
    return M.cast(M.equal(argmax(y_pred, axis=-1), argmax(y_true, axis=-1)), "float32")


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Tensor:
    y_pred = convert_to_tensor(y_pred)
    hit = M.equal(M.cast(M.greater(y_pred, threshold), y_pred.dtype),
                  M.cast(y_true, y_pred.dtype))
    return M.reduce_mean(M.cast(hit, "float32"), axis=-1)


_METRICS = {"sparse_categorical_accuracy": sparse_categorical_accuracy,
            "categorical_accuracy": categorical_accuracy, "binary_accuracy": binary_accuracy,
            "mse": mean_squared_error, "mean_squared_error": mean_squared_error,
            "mae": mean_absolute_error, "mean_absolute_error": mean_absolute_error}


def get_metric(metric: Any, loss_fn: Callable, units: Any = None) -> tuple[str, Callable]:
    """(the History key TF 1.15 uses, a per-example fn): a named metric's function name
    (``mae`` is ``mean_absolute_error``); 'accuracy'/'acc' become ``acc``,
    chosen as Keras does: binary for one output unit (``units``) or a binary cross-entropy,
    sparse categorical for the sparse cross-entropy, else categorical."""
    if metric in ("accuracy", "acc"):
        owner = getattr(loss_fn, "__self__", None)
        target = type(owner).fn if isinstance(owner, _LossClass) else loss_fn
        if units == 1 or target is binary_crossentropy:
            return "acc", binary_accuracy
        if target is sparse_categorical_crossentropy:
            return "acc", sparse_categorical_accuracy
        return "acc", categorical_accuracy
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(f"Unknown metric function: {metric!r}; jitflow knows "
                             f"{sorted(_METRICS) + ['accuracy']}")
        fn = _METRICS[metric]
        return fn.__name__, fn        # TF 1.15: metrics=['mae'] is 'mean_absolute_error'
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    raise TypeError(f"compile(metrics=[...]): expected names or callables, got {metric!r}")


# ------------------------------------------------------------------ optimizers -------------

def _opt(kind: str, learning_rate: float, **kw: Any) -> Any:
    from . import train as T
    if kind == "sgd":
        momentum = kw.get("momentum", 0.0)
        if momentum or kw.get("nesterov"):
            return T.MomentumOptimizer(learning_rate, momentum,
                                       use_nesterov=bool(kw.get("nesterov")))
        return T.GradientDescentOptimizer(learning_rate)
    if kind == "adam":
        return T.AdamOptimizer(learning_rate, kw.get("beta_1", 0.9), kw.get("beta_2", 0.999),
                               kw.get("epsilon", EPSILON))
    if kind == "rmsprop":
        return T.RMSPropOptimizer(learning_rate, decay=kw.get("rho", 0.9),
                                  momentum=kw.get("momentum", 0.0),
                                  epsilon=kw.get("epsilon", EPSILON))
    if kind == "adagrad":
        return T.AdagradOptimizer(learning_rate)
    if kind == "adadelta":
        return T.AdadeltaOptimizer(learning_rate, rho=kw.get("rho", 0.95),
                                   epsilon=kw.get("epsilon", EPSILON))
    raise ValueError(f"Unknown optimizer: {kind!r}; jitflow knows "
                     f"{sorted(_DEFAULT_LR)}")


_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001, "adagrad": 0.01, "adadelta": 1.0}


def _keras_optimizer(kind: str) -> Callable:
    def make(learning_rate: Any = None, **kwargs: Any) -> Any:
        lr = kwargs.pop("lr", None)
        lr = learning_rate if learning_rate is not None else lr
        if kwargs.pop("decay", 0.0):
            raise NotImplementedError(f"tf.keras.optimizers {kind}(decay=...) is not supported")
        return _opt(kind, _DEFAULT_LR[kind] if lr is None else lr, **kwargs)
    make.__name__ = {"sgd": "SGD", "rmsprop": "RMSprop"}.get(kind, kind.capitalize())
    make.__doc__ = (f"``tf.keras.optimizers.{make.__name__}``: a tf.train optimizer with "
                    f"Keras's defaults")
    return make


SGD, Adam, RMSprop = _keras_optimizer("sgd"), _keras_optimizer("adam"), _keras_optimizer("rmsprop")
Adagrad, Adadelta = _keras_optimizer("adagrad"), _keras_optimizer("adadelta")


def get_optimizer(optimizer: Any) -> Any:
    """A tf.train optimizer from a Keras name ('adam', 'sgd', ...) or an optimizer object."""
    from .train import Optimizer
    if isinstance(optimizer, str):
        kind = optimizer.lower()
        if kind not in _DEFAULT_LR:
            raise ValueError(f"Unknown optimizer: {optimizer!r}; jitflow knows "
                             f"{sorted(_DEFAULT_LR)}")
        return _opt(kind, _DEFAULT_LR[kind])
    if isinstance(optimizer, Optimizer):
        return optimizer
    raise TypeError(f"compile(optimizer=...): expected a name or a tf.train / "
                    f"tf.keras.optimizers optimizer, got {optimizer!r}")


def to_categorical(y: Any, num_classes: Any = None, dtype: str = "float32") -> Any:
    """``tf.keras.utils.to_categorical``: class ids -> one-hot rows (NumPy), a trailing
    axis of size 1 dropped first, as Keras does."""
    import numpy as np
    y = np.asarray(y, dtype="int64")
    shape = y.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    y = y.reshape(-1)
    n = int(num_classes) if num_classes is not None else int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= n):
        raise ValueError(f"to_categorical: class ids must be in [0, {n}), got "
                         f"[{y.min()}, {y.max()}]")
    out = np.zeros((y.size, n), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out.reshape(shape + (n,))
