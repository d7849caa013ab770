"""``tf.metrics``: streaming metrics over local variables.

Each metric ``m(labels, predictions, weights=None, ...)`` returns ``(value, update_op)``: its
accumulators are non-trainable variables in the ``LOCAL_VARIABLES`` and ``METRIC_VARIABLES``
collections (initialize them with ``tf.local_variables_initializer()``; re-running it resets
the metric), ``update_op`` adds a batch to them and returns the updated value, ``value``
reads them. As in TF1, predictions are cast to the labels' dtype where TF does, ratios with a
zero denominator are 0, and ``weights`` (broadcastable to the values) weight each element.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import bool_, float32, float64
from . import math_ops as M
from .array_ops import ones_like, reshape, select as where, zeros
from .graph import GraphKeys, Tensor, get_default_graph, name_scope
from .op_builder import convert_to_tensor
from .variables import Variable, assign_add

METRIC_VARIABLES = "metric_variables"

__all__ = ["accuracy", "mean", "mean_squared_error", "root_mean_squared_error",
           "mean_absolute_error", "precision", "recall", "true_positives", "false_positives",
           "false_negatives", "true_negatives", "mean_iou", "auc", "METRIC_VARIABLES"]


def metric_variable(shape: list, dtype: Any, name: str) -> Variable:
    """A zero-initialized local accumulator."""
    return Variable(lambda: zeros(shape, dtype), trainable=False, name=name, dtype=dtype,
                    collections=[GraphKeys.LOCAL_VARIABLES, METRIC_VARIABLES])


def _div_no_nan(x: Tensor, y: Tensor, name: Optional[str] = None) -> Tensor:
    zero = M.equal(y, convert_to_tensor(0.0, dtype=y.dtype))
    safe = where(zero, ones_like(y), y)
    return where(zero, M.multiply(x, 0.0), M.truediv(x, safe), name=name)


def _collect(metrics_collections: Any, updates_collections: Any, value: Tensor,
             update: Tensor) -> None:
    g = get_default_graph()
    if metrics_collections:
        g.add_to_collections(list(metrics_collections), value)
    if updates_collections:
        g.add_to_collections(list(updates_collections), update)


def _floats(values: Any, weights: Any) -> tuple[Tensor, Tensor]:
    """values as float (TF casts to float32 unless float64) and weights broadcast to them."""
    v = convert_to_tensor(values)
    if v.dtype is not float64 and v.dtype is not float32:
        v = M.cast(v, float32)
    if weights is None:
        w = ones_like(v)
    else:
        w = convert_to_tensor(weights)
        w = M.cast(w, v.dtype) if w.dtype is not v.dtype else w
        w = M.multiply(w, ones_like(v))
    return v, w


def mean(values: Any, weights: Any = None, metrics_collections: Any = None,
         updates_collections: Any = None, name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """The (weighted) mean of all values seen: ``total / count``."""
    with name_scope(name, "mean"):
        v, w = _floats(values, weights)
        total = metric_variable([], v.dtype, "total")
        count = metric_variable([], v.dtype, "count")
        up_total = assign_add(total, M.reduce_sum(M.multiply(v, w)))
        up_count = assign_add(count, M.reduce_sum(w))
        value = _div_no_nan(total.value(), count.value(), name="value")
        update = _div_no_nan(up_total, up_count, name="update_op")
    _collect(metrics_collections, updates_collections, value, update)
    return value, update


def _same_dtype(labels: Any, predictions: Any) -> tuple[Tensor, Tensor]:
    lab, pred = convert_to_tensor(labels), convert_to_tensor(predictions)
    if pred.dtype is not lab.dtype:
        pred = M.cast(pred, lab.dtype)
    if not lab.shape.is_compatible_with(pred.shape):
        raise ValueError(f"labels and predictions must have the same shape: {lab.shape} vs "
                         f"{pred.shape}")
    return lab, pred


def accuracy(labels: Any, predictions: Any, weights: Any = None,
             metrics_collections: Any = None, updates_collections: Any = None,
             name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """How often ``predictions`` equals ``labels`` (predictions cast to labels' dtype)."""
    lab, pred = _same_dtype(labels, predictions)
    is_correct = M.cast(M.equal(pred, lab), float32)
    return mean(is_correct, weights, metrics_collections, updates_collections,
                name or "accuracy")


def mean_squared_error(labels: Any, predictions: Any, weights: Any = None,
                       metrics_collections: Any = None, updates_collections: Any = None,
                       name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    lab, pred = _same_dtype(labels, predictions)
    return mean(M.square(M.subtract(pred, lab)), weights, metrics_collections,
                updates_collections, name or "mean_squared_error")


def root_mean_squared_error(labels: Any, predictions: Any, weights: Any = None,
                            metrics_collections: Any = None, updates_collections: Any = None,
                            name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    mse, up = mean_squared_error(labels, predictions, weights,
                                 name=name or "root_mean_squared_error")
    value, update = M.sqrt(mse), M.sqrt(up)
    _collect(metrics_collections, updates_collections, value, update)
    return value, update


def mean_absolute_error(labels: Any, predictions: Any, weights: Any = None,
                        metrics_collections: Any = None, updates_collections: Any = None,
                        name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    lab, pred = _same_dtype(labels, predictions)
    return mean(M.abs(M.subtract(pred, lab)), weights, metrics_collections,
                updates_collections, name or "mean_absolute_error")


# ---------------------------------------------------------------------- confusion counts ---

def _bools(labels: Any, predictions: Any) -> tuple[Tensor, Tensor]:
    lab, pred = convert_to_tensor(labels), convert_to_tensor(predictions)
    lab = lab if lab.dtype is bool_ else M.cast(lab, bool_)
    pred = pred if pred.dtype is bool_ else M.cast(pred, bool_)
    if not lab.shape.is_compatible_with(pred.shape):
        raise ValueError(f"labels and predictions must have the same shape: {lab.shape} vs "
                         f"{pred.shape}")
    return lab, pred


def _count(cond: Tensor, weights: Any, name: str) -> tuple[Tensor, Tensor]:
    """A float32 counter ``count`` of ``cond`` (weighted): (value, update)."""
    c, w = _floats(M.cast(cond, float32), weights)
    var = metric_variable([], float32, "count")
    up = assign_add(var, M.reduce_sum(M.multiply(c, w)))
    return var.value(), up


def _counter(kind: str):
    def fn(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
           updates_collections: Any = None, name: Optional[str] = None) -> tuple[Tensor, Tensor]:
        with name_scope(name, kind):
            lab, pred = _bools(labels, predictions)
            nl, np_ = M.logical_not(lab), M.logical_not(pred)
            cond = {"true_positives": M.logical_and(lab, pred),
                    "false_positives": M.logical_and(nl, pred),
                    "false_negatives": M.logical_and(lab, np_),
                    "true_negatives": M.logical_and(nl, np_)}[kind]
            value, update = _count(cond, weights, kind)
        _collect(metrics_collections, updates_collections, value, update)
        return value, update
    fn.__name__ = kind
    fn.__doc__ = (f"The (weighted) number of {kind.replace('_', ' ')} (labels and predictions "
                  "cast to bool).")
    return fn


true_positives = _counter("true_positives")
false_positives = _counter("false_positives")
false_negatives = _counter("false_negatives")
true_negatives = _counter("true_negatives")


def _ratio(kind: str, other: Any, labels: Any, predictions: Any, weights: Any,
           metrics_collections: Any, updates_collections: Any, name: Optional[str]):
    with name_scope(name, kind):
        tp, tp_up = true_positives(labels, predictions, weights)
        o, o_up = other(labels, predictions, weights)

        def ratio(a: Tensor, b: Tensor, nm: str) -> Tensor:
            denom = M.add(a, b)
            return where(M.greater(denom, 0.0), _div_no_nan(a, denom), M.multiply(a, 0.0),
                         name=nm)
        value, update = ratio(tp, o, "value"), ratio(tp_up, o_up, "update_op")
    _collect(metrics_collections, updates_collections, value, update)
    return value, update


def precision(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
              updates_collections: Any = None, name: Optional[str] = None):
    """``tp / (tp + fp)`` over all batches seen (0 when nothing was predicted positive)."""
    return _ratio("precision", false_positives, labels, predictions, weights,
                  metrics_collections, updates_collections, name)


def recall(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
           updates_collections: Any = None, name: Optional[str] = None):
    """``tp / (tp + fn)`` over all batches seen (0 when no label was positive)."""
    return _ratio("recall", false_negatives, labels, predictions, weights,
                  metrics_collections, updates_collections, name)


# ---------------------------------------------------------------------- mean_iou / auc -----

def _flat(t: Any) -> Tensor:
    return reshape(convert_to_tensor(t), [-1])


def mean_iou(labels: Any, predictions: Any, num_classes: int, weights: Any = None,
             metrics_collections: Any = None, updates_collections: Any = None,
             name: Optional[str] = None) -> tuple[Tensor, Tensor]:
    """Mean over classes (those present in labels or predictions) of
    ``tp / (tp + fp + fn)``, from a float64 confusion matrix ``total_confusion_matrix``."""
    from .extra_ops import one_hot
    n = int(num_classes)
    with name_scope(name, "mean_iou"):
        lab, pred = _flat(labels), _flat(predictions)
        if pred.dtype is not lab.dtype:
            pred = M.cast(pred, lab.dtype)
        if not lab.dtype.is_integer:
            lab, pred = M.cast(lab, "int64"), M.cast(pred, "int64")
        total_cm = metric_variable([n, n], float64, "total_confusion_matrix")
        rows = one_hot(lab, n, dtype=float64)
        if weights is not None:
            w = M.cast(M.multiply(convert_to_tensor(weights), ones_like(
                M.cast(convert_to_tensor(labels), float32))), float64)
            rows = M.multiply(rows, reshape(w, [-1, 1]))
        cols = one_hot(pred, n, dtype=float64)
        batch_cm = M.matmul(rows, cols, transpose_a=True)
        up_cm = assign_add(total_cm, batch_cm)

        def compute(cm: Tensor, nm: str) -> Tensor:
            diag = M.reduce_sum(M.multiply(cm, convert_to_tensor(np.eye(n), dtype=float64)), 1)
            denom = M.subtract(M.add(M.reduce_sum(cm, 0), M.reduce_sum(cm, 1)), diag)
            valid = M.greater(denom, 0.0)
            num_valid = M.reduce_sum(M.cast(valid, float32))
            iou = M.cast(_div_no_nan(diag, denom), float32)
            return where(M.greater(num_valid, 0.0), _div_no_nan(M.reduce_sum(iou), num_valid),
                         M.multiply(num_valid, 0.0), name=nm)
        value, update = compute(total_cm.value(), "mean_iou"), compute(up_cm, "update_op")
    _collect(metrics_collections, updates_collections, value, update)
    return value, update


def auc(labels: Any, predictions: Any, weights: Any = None, num_thresholds: int = 200,
        metrics_collections: Any = None, updates_collections: Any = None, curve: str = "ROC",
        name: Optional[str] = None, summation_method: str = "trapezoidal",
        thresholds: Any = None) -> tuple[Tensor, Tensor]:
    """Area under the ROC or PR curve by a Riemann sum over ``num_thresholds`` thresholds
    (TF's: ``i / (num_thresholds - 1)`` for the inner ones, ``-eps`` and ``1 + eps`` at the
    ends), from true/false positive/negative counts per threshold (local variables)."""
    if curve not in ("ROC", "PR"):
        raise ValueError(f"curve must be either ROC or PR, {curve} unknown")
    if summation_method not in ("trapezoidal", "minoring", "majoring"):
        raise ValueError(f"Invalid summation_method: {summation_method}")
    eps = 1e-7
    if thresholds is None:
        inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        thr = [0.0 - eps] + inner + [1.0 + eps]
    else:
        thr = [0.0 - eps] + list(thresholds) + [1.0 + eps]
    t = len(thr)
    with name_scope(name, "auc"):
        lab = M.cast(_flat(labels), bool_)
        pred = M.cast(_flat(predictions), float32)
        thr_t = convert_to_tensor(np.asarray(thr, np.float32).reshape(t, 1), name="thresholds")
        above = M.greater(reshape(pred, [1, -1]), thr_t)               # [T, N]
        lab_row = M.add(M.cast(reshape(lab, [1, -1]), float32), M.multiply(thr_t, 0.0))
        pos = M.greater(lab_row, 0.5)
        w = None if weights is None else M.multiply(
            reshape(M.cast(convert_to_tensor(weights), float32), [1, -1]),
            M.cast(ones_like(above), float32))
        counts = {}
        for key, cond in (("true_positives", M.logical_and(pos, above)),
                          ("false_negatives", M.logical_and(pos, M.logical_not(above))),
                          ("true_negatives", M.logical_and(M.logical_not(pos),
                                                           M.logical_not(above))),
                          ("false_positives", M.logical_and(M.logical_not(pos), above))):
            c = M.cast(cond, float32)
            if w is not None:
                c = M.multiply(c, w)
            var = metric_variable([t], float32, key)
            counts[key] = (var.value(), assign_add(var, M.reduce_sum(c, 1)))

        def area(tp, fn, tn, fp, nm: str) -> Tensor:
            rec = M.truediv(M.add(tp, eps), M.add(M.add(tp, fn), eps))
            if curve == "ROC":
                x, y = M.truediv(fp, M.add(M.add(fp, tn), eps)), rec
            else:
                x, y = rec, M.truediv(M.add(tp, eps), M.add(M.add(tp, fp), eps))
            dx = M.subtract(x[:t - 1], x[1:])
            if summation_method == "trapezoidal":
                h = M.multiply(M.add(y[:t - 1], y[1:]), 0.5)
            elif summation_method == "minoring":
                h = M.minimum(y[:t - 1], y[1:])
            else:
                h = M.maximum(y[:t - 1], y[1:])
            return M.reduce_sum(M.multiply(dx, h), name=nm)
        k = ("true_positives", "false_negatives", "true_negatives", "false_positives")
        value = area(*(counts[x][0] for x in k), "value")
        update = area(*(counts[x][1] for x in k), "update_op")
    _collect(metrics_collections, updates_collections, value, update)
    return value, update
