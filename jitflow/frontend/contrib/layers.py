"""``tf.contrib.layers``: fully_connected, conv2d, flatten, batch_norm, dropout, max_pool2d,
avg_pool2d (TF1 contrib semantics: ``activation_fn`` defaults to relu, weights to xavier,
variables ``<scope>/weights`` and ``<scope>/biases`` with default scopes ``fully_connected``
and ``Conv`` made unique, batch_norm's ``BatchNorm/{beta,gamma,moving_mean,moving_variance}``,
``scale=False`` and ``decay=0.999`` by default)."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ...ir.dtypes import float32
from .. import math_ops as M
from ..array_ops import identity
from ..graph import GraphKeys, Tensor, get_default_graph
from ..initializers import Zeros, xavier_initializer
from ..layer_base import _bias_add, _pair, _tensordot_last
from ..layers_core import Flatten
from ..layers_norm import BatchNormalization, Dropout
from ..op_builder import convert_to_tensor
from ..variables import get_variable, variable_scope

__all__ = ["fully_connected", "linear", "conv2d", "convolution2d", "flatten", "batch_norm",
           "dropout", "max_pool2d", "avg_pool2d", "layer_norm", "one_hot_encoding"]

_DEFAULT = object()


def _relu(x: Tensor) -> Tensor:
    return M.relu(x)


def _collect(collections: Any, *items: Any) -> None:
    if collections:
        g = get_default_graph()
        for c in ([collections] if isinstance(collections, str) else list(collections)):
            for it in items:
                g.add_to_collection(c, it)


def _weights(name: str, shape: list, dtype: Any, initializer: Any, regularizer: Any,
             trainable: bool, collections: Any) -> Any:
    v = get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                     regularizer=regularizer, trainable=trainable)
    g = get_default_graph()
    if all(m is not v for m in g.get_collection(GraphKeys.MODEL_VARIABLES)):
        g.add_to_collection(GraphKeys.MODEL_VARIABLES, v)
        _collect(collections, v)
    return v


def _finish(outputs: Tensor, biases: Any, normalizer_fn: Optional[Callable],
            normalizer_params: Optional[dict], activation_fn: Optional[Callable],
            outputs_collections: Any, sc: Any) -> Tensor:
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    elif biases is not None:
        outputs = _bias_add(outputs, biases)
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    _collect(outputs_collections, outputs)
    return outputs


def fully_connected(inputs: Any, num_outputs: int, activation_fn: Any = _DEFAULT,
                    normalizer_fn: Optional[Callable] = None,
                    normalizer_params: Optional[dict] = None, weights_initializer: Any = None,
                    weights_regularizer: Any = None, biases_initializer: Any = _DEFAULT,
                    biases_regularizer: Any = None, reuse: Any = None,
                    variables_collections: Any = None, outputs_collections: Any = None,
                    trainable: bool = True, scope: Optional[str] = None) -> Tensor:
    """``activation_fn(inputs @ weights + biases)`` (rank > 2 inputs contract the last axis);
    with a ``normalizer_fn`` there are no biases."""
    if activation_fn is _DEFAULT:
        activation_fn = _relu
    if biases_initializer is _DEFAULT:
        biases_initializer = Zeros()
    x = convert_to_tensor(inputs)
    dims = x.shape.dims
    if dims is None or len(dims) < 2 or dims[-1] is None:
        raise ValueError(f"fully_connected: inputs must have rank >= 2 and a known last "
                         f"dimension, got {x.shape}")
    with variable_scope(scope, default_name="fully_connected", reuse=reuse) as sc:
        dt = x.dtype if x.dtype.is_floating else float32
        w = _weights("weights", [dims[-1], int(num_outputs)], dt,
                     weights_initializer or xavier_initializer(), weights_regularizer,
                     trainable, variables_collections)
        out = M.matmul(x, w) if len(dims) == 2 else _tensordot_last(x, w, int(num_outputs))
        b = None
        if normalizer_fn is None and biases_initializer is not None:
            b = _weights("biases", [int(num_outputs)], dt, biases_initializer,
                         biases_regularizer, trainable, variables_collections)
        return _finish(out, b, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc)


def linear(inputs: Any, num_outputs: int, **kwargs: Any) -> Tensor:
    """``fully_connected`` without an activation."""
    return fully_connected(inputs, num_outputs, activation_fn=None, **kwargs)


def conv2d(inputs: Any, num_outputs: int, kernel_size: Any, stride: Any = 1,
           padding: str = "SAME", data_format: Optional[str] = None, rate: Any = 1,
           activation_fn: Any = _DEFAULT, normalizer_fn: Optional[Callable] = None,
           normalizer_params: Optional[dict] = None, weights_initializer: Any = None,
           weights_regularizer: Any = None, biases_initializer: Any = _DEFAULT,
           biases_regularizer: Any = None, reuse: Any = None, variables_collections: Any = None,
           outputs_collections: Any = None, trainable: bool = True,
           scope: Optional[str] = None) -> Tensor:
    """NHWC convolution with variables ``Conv/weights`` [kh, kw, in, out] and ``Conv/biases``."""
    from ..nn import conv2d as nn_conv2d
    if data_format not in (None, "NHWC"):
        raise NotImplementedError(f"contrib conv2d: data_format={data_format!r}; jitflow uses "
                                  "NHWC")
    if activation_fn is _DEFAULT:
        activation_fn = _relu
    if biases_initializer is _DEFAULT:
        biases_initializer = Zeros()
    x = convert_to_tensor(inputs)
    dims = x.shape.dims
    if dims is None or len(dims) != 4 or dims[-1] is None:
        raise ValueError(f"contrib conv2d needs NHWC inputs with known channels, got {x.shape}")
    (kh, kw), (sh, sw), (rh, rw) = (_pair(kernel_size, "kernel_size"), _pair(stride, "stride"),
                                    _pair(rate, "rate"))
    with variable_scope(scope, default_name="Conv", reuse=reuse) as sc:
        w = _weights("weights", [kh, kw, dims[-1], int(num_outputs)], x.dtype,
                     weights_initializer or xavier_initializer(), weights_regularizer,
                     trainable, variables_collections)
        kwargs = {"dilations": [1, rh, rw, 1]} if (rh, rw) != (1, 1) else {}
        out = nn_conv2d(x, w, strides=[1, sh, sw, 1], padding=str(padding).upper(), **kwargs)
        b = None
        if normalizer_fn is None and biases_initializer is not None:
            b = _weights("biases", [int(num_outputs)], x.dtype, biases_initializer,
                         biases_regularizer, trainable, variables_collections)
        return _finish(out, b, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc)


convolution2d = conv2d


def flatten(inputs: Any, outputs_collections: Any = None, scope: Optional[str] = None) -> Tensor:
    """``[batch, -1]``."""
    with variable_scope(scope, default_name="Flatten"):
        out = Flatten(name="flatten_inner").call(convert_to_tensor(inputs))
    _collect(outputs_collections, out)
    return out


def _pool(kind: str, inputs: Any, kernel_size: Any, stride: Any, padding: str,
          data_format: str, outputs_collections: Any, scope: Optional[str]) -> Tensor:
    from .. import nn
    if data_format != "NHWC":
        raise NotImplementedError(f"contrib {kind}: data_format={data_format!r}")
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    fn = nn.max_pool if kind == "max_pool2d" else nn.avg_pool
    default = "MaxPool2D" if kind == "max_pool2d" else "AvgPool2D"
    with variable_scope(scope, default_name=default):
        out = fn(convert_to_tensor(inputs), ksize=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                 padding=str(padding).upper())
    _collect(outputs_collections, out)
    return out


def max_pool2d(inputs: Any, kernel_size: Any, stride: Any = 2, padding: str = "VALID",
               data_format: str = "NHWC", outputs_collections: Any = None,
               scope: Optional[str] = None) -> Tensor:
    return _pool("max_pool2d", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


def avg_pool2d(inputs: Any, kernel_size: Any, stride: Any = 2, padding: str = "VALID",
               data_format: str = "NHWC", outputs_collections: Any = None,
               scope: Optional[str] = None) -> Tensor:
    return _pool("avg_pool2d", inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


class _ContribBatchNorm(BatchNormalization):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kwargs.get("name") is None:
            self._base_name = self.name = "BatchNorm"


def batch_norm(inputs: Any, decay: float = 0.999, center: bool = True, scale: bool = False,
               epsilon: float = 0.001, activation_fn: Optional[Callable] = None,
               param_initializers: Optional[dict] = None, param_regularizers: Optional[dict] = None,
               updates_collections: Any = GraphKeys.UPDATE_OPS, is_training: Any = True,
               reuse: Any = None, variables_collections: Any = None,
               outputs_collections: Any = None, trainable: bool = True,
               data_format: str = "NHWC", zero_debias_moving_mean: bool = False,
               scope: Optional[str] = None, fused: Optional[bool] = None,
               renorm: bool = False) -> Tensor:
    """Batch normalization over all but the last axis; the moving averages are updated by ops
    in ``updates_collections`` (``None``: the output waits for the updates)."""
    if data_format != "NHWC" or zero_debias_moving_mean or renorm:
        raise NotImplementedError("contrib batch_norm: only NHWC without zero_debias/renorm")
    pi, pr = param_initializers or {}, param_regularizers or {}
    layer = _ContribBatchNorm(axis=-1, momentum=decay, epsilon=epsilon, center=center,
                              scale=scale, beta_initializer=pi.get("beta"),
                              gamma_initializer=pi.get("gamma"),
                              moving_mean_initializer=pi.get("moving_mean"),
                              moving_variance_initializer=pi.get("moving_variance"),
                              beta_regularizer=pr.get("beta"), gamma_regularizer=pr.get("gamma"),
                              fused=fused, trainable=trainable, name=scope, _reuse=reuse)
    g = get_default_graph()
    before = list(g.get_collection(GraphKeys.UPDATE_OPS))
    out = layer.apply(inputs, training=is_training)
    new_updates = [u for u in layer.updates if all(u is not b for b in before)]
    if updates_collections != GraphKeys.UPDATE_OPS and new_updates:
        ref = g.get_collection_ref(GraphKeys.UPDATE_OPS)
        for u in new_updates:
            ref.remove(u)
        if updates_collections is None:
            with g.control_dependencies(new_updates):
                out = identity(out)
        else:
            _collect(updates_collections, *new_updates)
    _collect(variables_collections, *layer.weights)
    if activation_fn is not None:
        out = activation_fn(out)
    _collect(outputs_collections, out)
    return out


def dropout(inputs: Any, keep_prob: Any = 0.5, noise_shape: Any = None, is_training: Any = True,
            outputs_collections: Any = None, scope: Optional[str] = None,
            seed: Optional[int] = None) -> Tensor:
    """Drops ``1 - keep_prob`` of the inputs (scaled by ``1/keep_prob``) when ``is_training``."""
    rate = M.subtract(1.0, keep_prob) if isinstance(keep_prob, Tensor) else 1.0 - keep_prob
    with variable_scope(scope, default_name="Dropout"):
        out = Dropout(rate, noise_shape=noise_shape, seed=seed, name="dropout").apply(
            inputs, training=is_training)
    _collect(outputs_collections, out)
    return out


def layer_norm(inputs: Any, center: bool = True, scale: bool = True,
               activation_fn: Optional[Callable] = None, reuse: Any = None,
               variables_collections: Any = None, outputs_collections: Any = None,
               trainable: bool = True, begin_norm_axis: int = 1, begin_params_axis: int = -1,
               scope: Optional[str] = None) -> Tensor:
    """Normalize over dims ``begin_norm_axis...`` (per example), then ``gamma``/``beta`` of
    shape ``inputs.shape[begin_params_axis:]`` (variables ``LayerNorm/beta``,
    ``LayerNorm/gamma``; variance epsilon 1e-12, as TF)."""
    from ..initializers import Ones
    x = convert_to_tensor(inputs)
    dims = x.shape.dims
    if dims is None:
        raise ValueError(f"layer_norm needs inputs of known rank, got {x.shape}")
    r = len(dims)
    bn, bp = begin_norm_axis % r, begin_params_axis % r
    pshape = list(dims[bp:])
    if any(d is None for d in pshape):
        raise ValueError(f"layer_norm: the parameter dims {pshape} of {x.shape} must be static")
    with variable_scope(scope, default_name="LayerNorm", reuse=reuse):
        axes = list(range(bn, r))
        mean = M.reduce_mean(x, axes, keepdims=True)
        var = M.reduce_mean(M.square(M.subtract(x, mean)), axes, keepdims=True)
        out = M.multiply(M.subtract(x, mean), M.rsqrt(M.add(var, 1e-12)))
        if scale:
            g = _weights("gamma", pshape, x.dtype, Ones(), None, trainable,
                         variables_collections)
            out = M.multiply(out, g)
        if center:
            b = _weights("beta", pshape, x.dtype, Zeros(), None, trainable,
                         variables_collections)
            out = M.add(out, b)
        if activation_fn is not None:
            out = activation_fn(out)
    _collect(outputs_collections, out)
    return out


def one_hot_encoding(labels: Any, num_classes: int, on_value: float = 1.0,
                     off_value: float = 0.0, outputs_collections: Any = None,
                     scope: Optional[str] = None) -> Tensor:
    """``tf.one_hot`` of integer labels as float32."""
    from ..extra_ops import one_hot
    with variable_scope(scope, default_name="OneHotEncoding"):
        out = one_hot(labels, num_classes, on_value=on_value, off_value=off_value)
    _collect(outputs_collections, out)
    return out
