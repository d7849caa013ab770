"""``tf.nn``: convolution, pooling, activations, softmax and the cross-entropy losses, dropout,
in_top_k, l2_loss, bias_add, embedding_lookup, moments, batch_normalization.

TF1 signatures, TF op type names and TF's argument checks (keyword-only cross-entropy
arguments, exact-case padding strings, 4-element strides/ksize). Each function creates the IR
ops of the nn families in ``jitflow/ops/`` (conv, pool, activations, softmax, ...; or a
few generic ones) through ``make_op``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .array_ops import stop_gradient, transpose
from .graph import Tensor, name_scope
from .math_ops import (add, cast, greater_equal, matmul, multiply, negative, reciprocal,
                       reduce_mean, rsqrt, squared_difference, subtract)
from .math_ops import relu, sigmoid, tanh  # noqa: F401  (tf.nn.relu, tf.nn.sigmoid, tf.nn.tanh)
from .op_builder import convert_to_tensor, make_op, static_ints, static_value

__all__ = [
    "avg_pool", "avg_pool2d", "batch_normalization", "bias_add", "conv2d", "conv2d_transpose",
    "dropout", "elu",
    "embedding_lookup", "in_top_k", "l2_loss", "leaky_relu", "log_softmax", "max_pool",
    "max_pool2d", "moments", "relu", "relu6", "sigmoid", "sigmoid_cross_entropy_with_logits",
    "softmax", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
    "softplus", "sparse_softmax_cross_entropy_with_logits", "tanh", "xw_plus_b",
]


def _out(op):
    return op.outputs[0]


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor) or hasattr(x, "_as_tensor")


def _like(x: Tensor, value: Any, name: Optional[str] = None) -> Tensor:
    """``value`` as a tensor of x's dtype (Python values are converted, tensors kept)."""
    return convert_to_tensor(value, dtype=None if _is_tensor(value) else x.dtype, name=name)


# ------------------------------------------------------------------ argument checks -------

def _nchw(data_format: Optional[str]) -> bool:
    if data_format in (None, "NHWC", "NWC", "NDHWC"):
        return False
    if data_format in ("NCHW", "NCW", "NCDHW"):
        return True
    raise ValueError(f"data_format must be NHWC or NCHW, got {data_format!r}")


def _padding(padding: Any) -> str:
    if isinstance(padding, (list, tuple)):
        raise NotImplementedError("explicit padding lists are not supported; pad with tf.pad and "
                                  "use padding='VALID'")
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"Value for attr 'padding' of \"{padding}\" is not in the list of "
                         f"allowed values: \"SAME\", \"VALID\"")
    return padding


def _spatial(v: Any, what: str, nchw: bool) -> tuple[int, int]:
    """TF's 1-, 2- or 4-element strides/ksize/dilations -> the (height, width) pair."""
    vals = static_ints(v, what)
    if vals is None:
        raise ValueError(f"{what} is required")
    if len(vals) == 1:
        return vals[0], vals[0]
    if len(vals) == 2:
        return vals
    if len(vals) == 4:
        n, c = (vals[0], vals[1]) if nchw else (vals[0], vals[3])
        if n != 1 or c != 1:
            raise ValueError(f"{what} in the batch and depth dimensions must be 1 (the current "
                             f"implementation does not support them), got {list(vals)}")
        return (vals[2], vals[3]) if nchw else (vals[1], vals[2])
    raise ValueError(f"{what} should be of length 1, 2 or 4 but was {len(vals)}")


def _to_nhwc(x: Tensor) -> Tensor:
    return transpose(x, [0, 2, 3, 1])


def _from_nhwc(x: Tensor, name: Optional[str]) -> Tensor:
    return transpose(x, [0, 3, 1, 2], name=name)


# ------------------------------------------------------------------ convolution -----------

def conv2d(input: Any, filter: Any = None, strides: Any = None, padding: Any = None,
           use_cudnn_on_gpu: bool = True, data_format: str = "NHWC", dilations: Any = None,
           name: Optional[str] = None, filters: Any = None) -> Tensor:
    """2-D convolution: NHWC input, HWIO filter, TF's SAME/VALID arithmetic."""
    if filter is not None and filters is not None:
        raise ValueError("Cannot specify both 'filter' and 'filters'.")
    filter = filters if filter is None else filter
    if filter is None:
        raise ValueError("conv2d requires a filter")
    x = convert_to_tensor(input, name="input")
    w = _like(x, filter, "filter")
    nchw = _nchw(data_format)
    attrs = {"strides": _spatial(strides, "strides", nchw), "padding": _padding(padding),
             "dilations": _spatial(1 if dilations is None else dilations, "dilations", nchw)}
    if not nchw:
        return _out(make_op("Conv2D", "conv2d", [x, w], attrs, name))
    with name_scope(name, "Conv2D") as scope:
        y = _out(make_op("Conv2D", "conv2d", [_to_nhwc(x), w], attrs, "Conv2D"))
        return _from_nhwc(y, scope)


def conv2d_transpose(value: Any = None, filter: Any = None, output_shape: Any = None,
                     strides: Any = None, padding: str = "SAME", data_format: str = "NHWC",
                     name: Optional[str] = None, input: Any = None, filters: Any = None,
                     dilations: Any = None) -> Tensor:
    """The gradient of ``conv2d`` with respect to its input, as a layer: ``filter`` is
    ``[kh, kw, output_channels, input_channels]`` and ``output_shape`` the NHWC shape of the
    result (a list, or built from ``tf.shape``); ``value`` must be what ``conv2d`` of a tensor of
    that shape with these strides and padding would give."""
    from .dynamic_shape import is_dynamic, shape_like
    value = input if value is None else value
    filter = filters if filter is None else filter
    if value is None or filter is None or output_shape is None:
        raise ValueError("conv2d_transpose needs value, filter and output_shape")
    nchw = _nchw(data_format)
    if nchw:
        raise NotImplementedError("conv2d_transpose: data_format='NCHW' is not supported; "
                                  "use NHWC")
    x = convert_to_tensor(value, name="value")
    w = _like(x, filter, "filter")
    attrs = {"strides": _spatial(strides, "strides", False), "padding": _padding(padding),
             "dilations": _spatial(1 if dilations is None else dilations, "dilations", False)}
    with name_scope(name, "conv2d_transpose") as scope:
        if is_dynamic(output_shape):
            like = shape_like(output_shape, "conv2d_transpose output_shape")
        else:
            from .array_ops import zeros
            like = zeros(static_ints(output_shape, "output_shape"), dtype=x.dtype)
        return _out(make_op("Conv2DBackpropInput", "conv2d_backprop_input", [x, w, like], attrs,
                            scope))


def _pool(op_type: str, ir_op: str, value: Any, ksize: Any, strides: Any, padding: Any,
          data_format: Optional[str], name: Optional[str]) -> Tensor:
    x = convert_to_tensor(value, name="input")
    nchw = _nchw(data_format)
    attrs = {"ksize": _spatial(ksize, "ksize", nchw), "strides": _spatial(strides, "strides", nchw),
             "padding": _padding(padding)}
    if not nchw:
        return _out(make_op(op_type, ir_op, [x], attrs, name))
    with name_scope(name, op_type) as scope:
        return _from_nhwc(_out(make_op(op_type, ir_op, [_to_nhwc(x)], attrs, op_type)), scope)


def max_pool(value: Any = None, ksize: Any = None, strides: Any = None, padding: Any = None,
             data_format: str = "NHWC", name: Optional[str] = None, input: Any = None) -> Tensor:
    """Max pooling; SAME pads with -inf; the gradient goes to each window's first maximum."""
    return _pool("MaxPool", "max_pool", value if value is not None else input, ksize, strides,
                 padding, data_format, name)


def avg_pool(value: Any = None, ksize: Any = None, strides: Any = None, padding: Any = None,
             data_format: str = "NHWC", name: Optional[str] = None, input: Any = None) -> Tensor:
    """Average pooling; SAME divides by the number of real (non-padded) elements."""
    return _pool("AvgPool", "avg_pool", value if value is not None else input, ksize, strides,
                 padding, data_format, name)


def max_pool2d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC",
               name: Optional[str] = None) -> Tensor:
    return max_pool(input, ksize, strides, padding, data_format, name)


def avg_pool2d(input: Any, ksize: Any, strides: Any, padding: Any, data_format: str = "NHWC",
               name: Optional[str] = None) -> Tensor:
    return avg_pool(input, ksize, strides, padding, data_format, name)


def bias_add(value: Any, bias: Any, data_format: Optional[str] = None,
             name: Optional[str] = None) -> Tensor:
    x = convert_to_tensor(value, name="input")
    b = _like(x, bias, "bias")
    axis = 1 if data_format is not None and data_format.startswith("NC") else -1
    if data_format is not None and axis == -1 and not data_format.startswith("N"):
        raise ValueError(f"data_format must be NHWC or NCHW, got {data_format!r}")
    return _out(make_op("BiasAdd", "bias_add", [x, b], {"axis": axis}, name))


def xw_plus_b(x: Any, weights: Any, biases: Any, name: Optional[str] = None) -> Tensor:
    with name_scope(name, "xw_plus_b") as scope:
        return bias_add(matmul(x, weights), biases, name=scope)


# ------------------------------------------------------------------ activations -----------

def _unary(op_type: str, ir_op: str, x: Any, name: Optional[str], attrs: Optional[dict] = None):
    return _out(make_op(op_type, ir_op, [convert_to_tensor(x, name="features")], attrs, name))


def elu(features: Any, name: Optional[str] = None) -> Tensor:
    return _unary("Elu", "elu", features, name)


def softplus(features: Any, name: Optional[str] = None) -> Tensor:
    return _unary("Softplus", "softplus", features, name)


def relu6(features: Any, name: Optional[str] = None) -> Tensor:
    return _unary("Relu6", "relu6", features, name)


def leaky_relu(features: Any, alpha: Any = 0.2, name: Optional[str] = None) -> Tensor:
    a = static_value(alpha)
    if a is None:
        raise NotImplementedError("leaky_relu's alpha must be known at graph build")
    return _unary("LeakyRelu", "leaky_relu", features, name, {"alpha": float(a)})


def l2_loss(t: Any, name: Optional[str] = None) -> Tensor:
    """sum(t ** 2) / 2."""
    return _out(make_op("L2Loss", "l2_loss", [convert_to_tensor(t, name="t")], name=name))


# ------------------------------------------------------------------ softmax family --------

def _axis(axis: Any, dim: Any, default: int = -1) -> int:
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'.")
    v = axis if axis is not None else dim
    return default if v is None else int(static_ints(v, "axis")[0])


def softmax(logits: Any, axis: Any = None, name: Optional[str] = None, dim: Any = None) -> Tensor:
    x = convert_to_tensor(logits, name="logits")
    return _out(make_op("Softmax", "softmax", [x], {"axis": _axis(axis, dim)}, name))


def log_softmax(logits: Any, axis: Any = None, name: Optional[str] = None,
                dim: Any = None) -> Tensor:
    x = convert_to_tensor(logits, name="logits")
    return _out(make_op("LogSoftmax", "log_softmax", [x], {"axis": _axis(axis, dim)}, name))


def _ensure_xent_args(fn_name: str, sentinel: Any, labels: Any, logits: Any) -> None:
    if sentinel is not None:
        raise ValueError(f"Only call `{fn_name}` with named arguments (labels=..., logits=..., ...)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                             logits: Any = None,
                                             name: Optional[str] = None) -> Tensor:
    """loss[i] = logsumexp(logits[i]) - logits[i, labels[i]]; the gradient wrt logits is
    softmax - onehot (none wrt labels); an out-of-range label fails at run time."""
    _ensure_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits"):
        z = convert_to_tensor(logits)
        y = convert_to_tensor(labels)
        if y.dtype.is_floating or y.dtype.is_bool:
            raise TypeError(f"labels must be int32 or int64, got {y.dtype.name}")
        zr, yr = z.shape.ndims, y.shape.ndims
        if zr == 0:
            raise ValueError(f"Logits cannot be scalars - received shape {z.shape}.")
        if zr is not None and yr is not None:
            if yr != zr - 1:
                raise ValueError(f"Rank mismatch: Rank of labels (received {yr}) should equal "
                                 f"rank of logits minus 1 (received {zr}).")
            if not y.shape.is_compatible_with(z.shape.as_list()[:-1]):
                raise ValueError(f"Shape mismatch: The shape of labels (received {y.shape}) "
                                 f"should equal the shape of logits except for the last "
                                 f"dimension (received {z.shape}).")
        op = make_op("SparseSoftmaxCrossEntropyWithLogits", "sparse_softmax_cross_entropy",
                     [z, y], name=name or "SparseSoftmaxCrossEntropyWithLogits")
        return op.outputs[0]


def _softmax_xent(labels: Any, logits: Any, axis: int, scope: str) -> Tensor:
    z = convert_to_tensor(logits, name="logits")
    y = _like(z, labels, "labels")
    zr, yr = z.shape.ndims, y.shape.ndims
    if zr == 0:
        raise ValueError(f"Logits cannot be scalars - received shape {z.shape}.")
    if zr is not None and yr is not None and zr != yr:
        # TF flattens the outer dims of both, so e.g. labels [1, N, C] fit logits [N, C]
        y = _out(make_op("Reshape", "reshape_like", [y, z], name="Reshape"))
    if axis != -1 and zr is not None and axis % zr != zr - 1:
        ax = axis % zr
        perm = [i for i in range(zr) if i != ax] + [ax]
        z, y = transpose(z, perm), transpose(y, perm)
    op = make_op("SoftmaxCrossEntropyWithLogits", "softmax_cross_entropy", [z, y], name=scope)
    return op.outputs[0]


def softmax_cross_entropy_with_logits_v2(labels: Any = None, logits: Any = None, axis: Any = None,
                                         name: Optional[str] = None, dim: Any = None) -> Tensor:
    """-sum(labels * log_softmax(logits), axis); gradients flow into logits and labels."""
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")
    with name_scope(name, "softmax_cross_entropy_with_logits") as scope:
        return _softmax_xent(labels, logits, _axis(axis, dim), scope)


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, dim: Any = -1,
                                      name: Optional[str] = None, axis: Any = None) -> Tensor:
    """TF1's (deprecated) version: no gradient flows into labels."""
    _ensure_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    ax = _axis(axis, None if axis is not None else dim)
    with name_scope(name, "softmax_cross_entropy_with_logits_sg") as scope:
        z = convert_to_tensor(logits, name="logits")
        lab = stop_gradient(_like(z, labels), name="labels_stop_gradient")
        return _softmax_xent(lab, z, ax, scope)


def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None,
                                      logits: Any = None, name: Optional[str] = None) -> Tensor:
    """max(x, 0) - x * z + log(1 + exp(-|x|)) for logits x and labels z."""
    _ensure_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "logistic_loss") as scope:
        x = convert_to_tensor(logits, name="logits")
        z = _like(x, labels, "labels")
        if not x.shape.is_compatible_with(z.shape):
            raise ValueError(f"logits and labels must have the same shape ({x.shape} vs "
                             f"{z.shape})")
        return _out(make_op("SigmoidCrossEntropyWithLogits", "sigmoid_cross_entropy", [x, z],
                            name=scope))


def in_top_k(predictions: Any, targets: Any, k: Any, name: Optional[str] = None) -> Tensor:
    """Whether targets[i] is among the k largest predictions[i] (ties count as in); a row with
    a non-finite prediction or an out-of-range target gives False."""
    p = convert_to_tensor(predictions, name="predictions")
    t = convert_to_tensor(targets, name="targets")
    kk = static_ints(k, "k")
    if kk is None or len(kk) != 1:
        raise ValueError(f"k must be a scalar, got {k!r}")
    return _out(make_op("InTopKV2", "in_top_k", [p, t], {"k": kk[0]}, name))


# ------------------------------------------------------------------ dropout ---------------

def dropout(x: Any, keep_prob: Any = None, noise_shape: Any = None, seed: Optional[int] = None,
            name: Optional[str] = None, rate: Any = None) -> Tensor:
    """Keeps each element with probability ``keep_prob`` (= 1 - ``rate``), scaled by
    1 / keep_prob; zeroes the others. Always on (``tf.layers.dropout`` adds ``training``)."""
    from .random_ops import get_seed
    if keep_prob is not None and rate is not None:
        raise ValueError("Cannot specify both 'rate' and 'keep_prob'.")
    if keep_prob is None and rate is None:
        raise ValueError("You must provide a rate to dropout.")
    with name_scope(name, "dropout") as scope:
        x = convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError(f"x has to be a floating point tensor since it's going to be "
                             f"scaled. Got a {x.dtype.name} tensor instead.")
        given = keep_prob if keep_prob is not None else rate
        fixed = static_value(given)
        if fixed is not None:
            fixed = float(np.asarray(fixed).reshape(()))
            keep = fixed if keep_prob is not None else 1.0 - fixed
            if keep_prob is not None and not 0 < keep <= 1:
                raise ValueError(f"keep_prob must be a scalar tensor or a float in the range "
                                 f"(0, 1], got {fixed:g}")
            if rate is not None and not 0 <= fixed < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), "
                                 f"got {fixed:g}")
            if keep == 1:
                return x
            drop_t = convert_to_tensor(1.0 - keep if keep_prob is not None else fixed,
                                       dtype=x.dtype, name="rate")
            scale_t = convert_to_tensor(1.0 / keep, dtype=x.dtype, name="scale")
        else:
            given_t = convert_to_tensor(given, dtype=x.dtype)
            if keep_prob is not None:
                drop_t = subtract(convert_to_tensor(1, dtype=x.dtype), given_t, name="rate")
                scale_t = reciprocal(given_t, name="scale")
            else:
                drop_t = given_t
                scale_t = reciprocal(subtract(convert_to_tensor(1, dtype=x.dtype), given_t),
                                     name="scale")
        s1, s2 = get_seed(seed)
        attrs = {"dtype": x.dtype, "seed": s1, "seed2": s2}
        if noise_shape is None:
            u = _out(make_op("RandomUniform", "random_uniform", [x], attrs, "random_uniform",
                             rng=True))
        else:
            attrs["shape"] = static_ints(noise_shape, "noise_shape")
            u = _out(make_op("RandomUniform", "random_uniform", [], attrs, "random_uniform",
                             rng=True, graph=x.graph))
        keep_mask = greater_equal(u, drop_t)
        return multiply(multiply(x, scale_t), cast(keep_mask, x.dtype), name=scope)


# ------------------------------------------------------------------ misc ------------------

def embedding_lookup(params: Any, ids: Any, partition_strategy: str = "mod",
                     name: Optional[str] = None, validate_indices: bool = True,
                     max_norm: Any = None) -> Tensor:
    """The rows ``ids`` of ``params``: one table, or a list of shards partitioned by
    ``partition_strategy`` ("mod" or "div"); with ``max_norm`` each embedding is clipped to
    that l2 norm (frontend/embedding_ops.py)."""
    from .embedding_ops import lookup
    return lookup(params, ids, partition_strategy=partition_strategy, max_norm=max_norm,
                  name=name)


def moments(x: Any, axes: Any, shift: Any = None, name: Optional[str] = None,
            keep_dims: Optional[bool] = None, keepdims: Optional[bool] = None):
    """(mean, variance) over axes, as tf.nn.moments computes them."""
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    with name_scope(name, "moments"):
        y = convert_to_tensor(x)
        mean = reduce_mean(y, axes, keepdims=True, name="mean")
        variance = reduce_mean(squared_difference(y, stop_gradient(mean)), axes, keepdims=True,
                               name="variance")
        if not keep:
            ax = static_ints(axes, "axes")
            from .array_ops import squeeze
            mean = squeeze(mean, ax)
            variance = squeeze(variance, ax)
        return mean, variance


def batch_normalization(x: Any, mean: Any, variance: Any, offset: Any, scale: Any,
                        variance_epsilon: Any, name: Optional[str] = None) -> Tensor:
    """(x - mean) * scale / sqrt(variance + epsilon) + offset, as TF computes it."""
    with name_scope(name, "batchnorm") as scope:
        x = convert_to_tensor(x)
        inv = rsqrt(add(_like(x, variance), _like(x, variance_epsilon)))
        if scale is not None:
            inv = multiply(inv, _like(x, scale))
        shift = (subtract(_like(x, offset), multiply(_like(x, mean), inv)) if offset is not None
                 else negative(multiply(_like(x, mean), inv)))
        return add(multiply(x, inv), shift, name=scope)

