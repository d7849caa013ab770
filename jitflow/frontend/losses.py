"""``tf.losses``: sparse_softmax_cross_entropy, softmax_cross_entropy, mean_squared_error, ...

TF1 semantics (checked against TensorFlow 2.21's ``tf.compat.v1.losses``): each loss computes
per-element losses, multiplies them by ``weights`` (a scalar or a tensor broadcastable to the
losses), reduces them by ``reduction`` (default ``SUM_BY_NONZERO_WEIGHTS``: the weighted sum
divided by the number of non-zero weights, 0 when there are none) and adds the result to
``loss_collection`` (``tf.GraphKeys.LOSSES``), where ``get_total_loss`` finds it.
"""
from __future__ import annotations

from typing import Any, Optional

from ..ir.dtypes import float32
from . import math_ops as M
from .array_ops import ones_like, squeeze, stop_gradient, select as where, zeros_like
from .graph import GraphKeys, Tensor, get_default_graph, name_scope
from .op_builder import convert_to_tensor, make_op

__all__ = [
    "Reduction", "compute_weighted_loss", "add_loss", "get_losses", "get_regularization_losses",
    "get_regularization_loss", "get_total_loss", "sparse_softmax_cross_entropy",
    "softmax_cross_entropy", "sigmoid_cross_entropy", "mean_squared_error",
    "absolute_difference", "log_loss", "huber_loss", "hinge_loss", "cosine_distance",
    "mean_pairwise_squared_error",
]


class Reduction:
    """How a weighted loss is reduced to a scalar."""
    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def add_loss(loss: Any, loss_collection: Optional[str] = GraphKeys.LOSSES) -> None:
    """Add ``loss`` to ``loss_collection`` (nothing when the collection is None/empty)."""
    if loss_collection:
        get_default_graph().add_to_collection(loss_collection, loss)


def get_losses(scope: Optional[str] = None, loss_collection: str = GraphKeys.LOSSES) -> list:
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope: Optional[str] = None) -> list:
    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: Optional[str] = None,
                            name: str = "total_regularization_loss") -> Tensor:
    """The sum of the REGULARIZATION_LOSSES (matching ``scope``), or a constant 0.0."""
    losses = get_regularization_losses(scope)
    if losses:
        return M.add_n(losses, name=name)
    from .op_builder import constant
    return constant(0.0)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss",
                   scope: Optional[str] = None) -> Tensor:
    """The sum of the LOSSES (and, by default, the REGULARIZATION_LOSSES)."""
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise ValueError("No losses found in the graph's LOSSES / REGULARIZATION_LOSSES "
                         "collections")
    return M.add_n(losses, name=name)


# ---------------------------------------------------------------------- reduction ----------

def _num_elements(losses: Tensor) -> Tensor:
    dims = losses.shape.dims
    if dims is not None and all(d is not None for d in dims):
        n = 1
        for d in dims:
            n *= d
        return convert_to_tensor(float(n), dtype=losses.dtype, name="num_elements")
    from ..ir.dtypes import int32
    size = make_op("Size", "size", [losses], {"dtype": int32}, "Size").outputs[0]
    return M.cast(size, losses.dtype, name="num_elements")


def _safe_mean(total: Tensor, count: Tensor) -> Tensor:
    """``total / count``, or 0 where ``count`` is 0 (TF's div_no_nan), with finite gradients."""
    zero = M.equal(count, convert_to_tensor(0.0, dtype=count.dtype))
    denom = where(zero, ones_like(count), count)
    return where(zero, zeros_like(total), M.truediv(total, denom), name="value")


def compute_weighted_loss(losses: Any, weights: Any = 1.0, scope: Optional[str] = None,
                          loss_collection: Optional[str] = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weight ``losses`` and reduce them; the result is added to ``loss_collection``."""
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss"):
        losses = convert_to_tensor(losses)
        if not losses.dtype.is_floating:
            losses = M.cast(losses, float32)
        w = convert_to_tensor(weights, dtype=None if isinstance(weights, Tensor) else losses.dtype)
        if w.dtype is not losses.dtype:
            w = M.cast(w, losses.dtype)
        weighted = M.multiply(losses, w, name="Mul")
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            total = M.reduce_sum(weighted, name="Sum")
            if reduction == Reduction.SUM:
                loss = total
            elif reduction == Reduction.MEAN:
                loss = _safe_mean(total, M.reduce_sum(M.multiply(ones_like(losses), w)))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(total, _num_elements(losses))
            else:
                loss = _safe_mean(total, _num_present(losses, w, weights))
        add_loss(loss, loss_collection)
        return loss


def _num_present(losses: Tensor, w: Tensor, raw_weights: Any) -> Tensor:
    """How many of the losses have a non-zero weight (weights broadcast to the losses)."""
    if isinstance(raw_weights, (int, float)) and not isinstance(raw_weights, bool) \
            and raw_weights != 0:
        return _num_elements(losses)
    with name_scope(None, "num_present") as scope:
        zero = M.equal(w, convert_to_tensor(0.0, dtype=w.dtype))
        present = where(zero, zeros_like(w), ones_like(w))
        present = M.multiply(present, ones_like(losses))
        return M.reduce_sum(present, name=scope)


def _squeeze_labels(labels: Tensor, logits: Tensor) -> Tensor:
    """Labels of shape [..., 1] against logits [..., C]: drop the trailing 1 (TF does)."""
    lr, gr = labels.shape.ndims, logits.shape.ndims
    if lr is not None and gr is not None and lr == gr and labels.shape.dims[-1] == 1:
        return squeeze(labels, [-1])
    return labels


def _squeeze_weights(weights: Any, losses_rank: Optional[int]) -> Any:
    if isinstance(weights, Tensor) and losses_rank is not None:
        wr = weights.shape.ndims
        if wr is not None and wr == losses_rank + 1 and weights.shape.dims[-1] == 1:
            return squeeze(weights, [-1])
    return weights


def _nn(name: str):
    from . import nn as _nn_mod
    fn = getattr(_nn_mod, name, None)
    if fn is None:
        raise NotImplementedError(f"tf.losses needs tf.nn.{name}, which this build of jitflow "
                                  "does not provide")
    return fn


def _check_compatible(a: Tensor, b: Tensor, what: str) -> None:
    if not a.shape.is_compatible_with(b.shape):
        raise ValueError(f"Shapes {a.shape} and {b.shape} are incompatible ({what})")


# ---------------------------------------------------------------------- losses -------------

def sparse_softmax_cross_entropy(labels: Any, logits: Any, weights: Any = 1.0,
                                 scope: Optional[str] = None,
                                 loss_collection: Optional[str] = GraphKeys.LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross-entropy of integer class labels against logits, weighted and reduced."""
    with name_scope(scope, "sparse_softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = _squeeze_labels(convert_to_tensor(labels), logits)
        weights = _squeeze_weights(weights, labels.shape.ndims)
        losses = _nn("sparse_softmax_cross_entropy_with_logits")(labels=labels, logits=logits,
                                                                name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: Any = 1.0,
                          label_smoothing: float = 0, scope: Optional[str] = None,
                          loss_collection: Optional[str] = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross-entropy of one-hot (or soft) labels against logits; ``label_smoothing`` mixes the
    labels with the uniform distribution. No gradient flows into the labels."""
    with name_scope(scope, "softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        onehot = M.cast(convert_to_tensor(onehot_labels), logits.dtype)
        _check_compatible(logits, onehot, "logits and onehot_labels")
        if label_smoothing > 0:
            n = onehot.shape.dims[-1] if onehot.shape.dims is not None else None
            if n is None:
                raise NotImplementedError("label_smoothing needs a known number of classes")
            onehot = M.add(M.multiply(onehot, 1.0 - label_smoothing), label_smoothing / n)
        onehot = stop_gradient(onehot, name="labels_stop_gradient")
        losses = _nn("softmax_cross_entropy_with_logits_v2")(labels=onehot, logits=logits,
                                                            name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: Any = 1.0,
                          label_smoothing: float = 0, scope: Optional[str] = None,
                          loss_collection: Optional[str] = GraphKeys.LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Element-wise logistic loss; ``label_smoothing`` pulls labels towards 0.5."""
    with name_scope(scope, "sigmoid_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = M.cast(convert_to_tensor(multi_class_labels), logits.dtype)
        _check_compatible(logits, labels, "logits and multi_class_labels")
        if label_smoothing > 0:
            labels = M.add(M.multiply(labels, 1.0 - label_smoothing), 0.5 * label_smoothing)
        losses = _nn("sigmoid_cross_entropy_with_logits")(labels=labels, logits=logits,
                                                         name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def _prediction_loss(default_scope: str, labels: Any, predictions: Any, weights: Any,
                     scope: Optional[str], loss_collection: Optional[str], reduction: str,
                     per_element) -> Tensor:
    with name_scope(scope, default_scope) as sc:
        predictions = convert_to_tensor(predictions)
        if not predictions.dtype.is_floating:
            predictions = M.cast(predictions, float32)
        labels = convert_to_tensor(labels)
        if labels.dtype is not predictions.dtype:
            labels = M.cast(labels, predictions.dtype)
        _check_compatible(predictions, labels, "predictions and labels")
        losses = per_element(labels, predictions)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction)


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0,
                       scope: Optional[str] = None,
                       loss_collection: Optional[str] = GraphKeys.LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``(predictions - labels)**2``, weighted and reduced."""
    return _prediction_loss("mean_squared_error", labels, predictions, weights, scope,
                            loss_collection, reduction,
                            lambda y, p: M.square(M.subtract(p, y), name="SquaredDifference"))


def absolute_difference(labels: Any, predictions: Any, weights: Any = 1.0,
                        scope: Optional[str] = None,
                        loss_collection: Optional[str] = GraphKeys.LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``|predictions - labels|``, weighted and reduced."""
    return _prediction_loss("absolute_difference", labels, predictions, weights, scope,
                            loss_collection, reduction,
                            lambda y, p: M.abs(M.subtract(p, y)))


def log_loss(labels: Any, predictions: Any, weights: Any = 1.0, epsilon: float = 1e-7,
             scope: Optional[str] = None, loss_collection: Optional[str] = GraphKeys.LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``-y*log(p+eps) - (1-y)*log(1-p+eps)``, weighted and reduced."""
    def per_element(y: Tensor, p: Tensor) -> Tensor:
        a = M.multiply(y, M.log(M.add(p, epsilon)))
        b = M.multiply(M.subtract(1.0, y), M.log(M.add(M.subtract(1.0, p), epsilon)))
        return M.subtract(M.negative(a), b)
    return _prediction_loss("log_loss", labels, predictions, weights, scope, loss_collection,
                            reduction, per_element)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0,
               scope: Optional[str] = None, loss_collection: Optional[str] = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Quadratic within ``delta`` of the label, linear beyond."""
    def per_element(y: Tensor, p: Tensor) -> Tensor:
        abs_err = M.abs(M.subtract(p, y))
        quad = M.minimum(abs_err, convert_to_tensor(delta, dtype=abs_err.dtype))
        lin = M.subtract(abs_err, quad)
        return M.add(M.multiply(M.square(quad), 0.5), M.multiply(lin, delta))
    return _prediction_loss("huber_loss", labels, predictions, weights, scope, loss_collection,
                            reduction, per_element)


def hinge_loss(labels: Any, logits: Any, weights: Any = 1.0, scope: Optional[str] = None,
               loss_collection: Optional[str] = GraphKeys.LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``relu(1 - (2*labels - 1) * logits)`` for labels in {0, 1}."""
    def per_element(y: Tensor, z: Tensor) -> Tensor:
        signed = M.subtract(M.multiply(y, 2.0), 1.0)
        return M.relu(M.subtract(1.0, M.multiply(signed, z)))
    return _prediction_loss("hinge_loss", labels, logits, weights, scope, loss_collection,
                            reduction, per_element)


def cosine_distance(labels: Any, predictions: Any, axis: Optional[int] = None, weights: Any = 1.0,
                    scope: Optional[str] = None,
                    loss_collection: Optional[str] = GraphKeys.LOSSES,
                    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
                    dim: Optional[int] = None) -> Tensor:
    """``1 - sum(labels * predictions, axis)`` per example (inputs already unit-normalized),
    weighted and reduced."""
    if axis is None:
        axis = dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")

    def per_element(y: Tensor, p: Tensor) -> Tensor:
        return M.subtract(1.0, M.reduce_sum(M.multiply(p, y), [axis], keepdims=True))
    return _prediction_loss("cosine_distance_loss", labels, predictions, weights, scope,
                            loss_collection, reduction, per_element)


def mean_pairwise_squared_error(labels: Any, predictions: Any, weights: Any = 1.0,
                                scope: Optional[str] = None,
                                loss_collection: Optional[str] = GraphKeys.LOSSES) -> Tensor:
    """Per example, the mean over pairs of its elements of ``((p_i - p_j) - (y_i - y_j))**2``
    (``2*sum(d^2)/(n-1) - 2*sum(d)^2/(n*(n-1))`` with d = p - y and n the elements with non-zero
    weight), times the example's weight, summed over the batch. ``weights`` is a scalar or has
    one value per example (shape [batch] or [batch, 1, ...])."""
    with name_scope(scope, "mean_pairwise_squared_error"):
        p = convert_to_tensor(predictions)
        if not p.dtype.is_floating:
            p = M.cast(p, float32)
        y = convert_to_tensor(labels)
        y = M.cast(y, p.dtype) if y.dtype is not p.dtype else y
        _check_compatible(p, y, "predictions and labels")
        rank = p.shape.ndims
        if rank is None or rank < 2:
            raise ValueError(f"mean_pairwise_squared_error needs inputs of rank >= 2 "
                             f"([batch, ...]), got {p.shape}")
        axes = list(range(1, rank))
        w = convert_to_tensor(weights, dtype=None if isinstance(weights, Tensor) else p.dtype)
        w = M.cast(w, p.dtype) if w.dtype is not p.dtype else w
        if w.shape.ndims == 1:
            from .array_ops import reshape
            w = reshape(w, [-1] + [1] * (rank - 1))
        diffs = M.subtract(p, y)
        present = where(M.equal(w, convert_to_tensor(0.0, dtype=w.dtype)), zeros_like(w),
                        ones_like(w))
        n = M.reduce_sum(M.multiply(present, ones_like(diffs)), axes, keepdims=True)
        s2 = M.reduce_sum(M.square(diffs), axes, keepdims=True)
        term1 = M.multiply(_safe_mean(s2, M.subtract(n, 1.0)), 2.0)
        s1 = M.reduce_sum(diffs, axes, keepdims=True)
        term2 = M.multiply(_safe_mean(M.square(s1), M.multiply(n, M.subtract(n, 1.0))), 2.0)
        loss = M.reduce_sum(M.multiply(M.subtract(term1, term2), w))
        mean_loss = where(M.greater(M.reduce_sum(n), 0.0), loss, zeros_like(loss),
                          name="value")
        add_loss(mean_loss, loss_collection)
        return mean_loss
