"""The names ``_surface`` adds to the ``tf`` module and its namespaces."""
from __future__ import annotations

import types
from typing import Callable

from ...frontend import array_extra as A
from ...frontend import assert_ops as _asserts
from ...frontend import nn_extra as _nn_extra
from ...frontend import composite_ops as C
from ...frontend import image as _image
from ...frontend import keras_layers as _keras_layers
from ...frontend import metrics as _metrics
from ...frontend import schedules as _schedules
from ...frontend import sort_ops as S
from ...frontend import train as _train
from ...frontend.contrib import layers as _contrib_layers
from ...frontend.graph import GraphKeys as _GraphKeys
from ._namespace import wrap


class GraphKeys(_GraphKeys):
    """``tf.GraphKeys`` with the collections of metrics and moving averages."""
    METRIC_VARIABLES = _metrics.METRIC_VARIABLES
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"


def _set(ns: object, **names: object) -> None:
    """Set the names missing from ``ns``; SimpleNamespaces become TFNamespaces."""
    prefix = vars(ns).get("_tf_name", "tf")
    for k, v in names.items():
        if k not in vars(ns):
            setattr(ns, k, wrap(f"{prefix}.{k}", v) if isinstance(v, types.SimpleNamespace)
                    else v)


def install(tf: types.ModuleType, ns: Callable) -> None:
    """Add the frontend's TF1 names to ``tf``; ``ns(tf, "image")`` gives (or makes)
    the namespace ``tf.image``."""
    tf.GraphKeys = GraphKeys
    top = {n: getattr(C, n) for n in (
        "log_sigmoid", "norm", "clip_by_average_norm", "eye", "linspace", "lin_space", "range",
        "broadcast_to", "meshgrid", "sequence_mask", "tensordot", "einsum", "floor", "ceil",
        "tuple", "identity_n", "make_template")}
    _set(tf, **top, random_crop=_image.random_crop)
    asserts = {n: getattr(_asserts, n) for n in _asserts.__all__}
    _set(tf, **asserts)
    _set(ns(tf, "debugging"), **asserts)

    _set(ns(tf, "nn"), softsign=C.softsign, selu=C.selu, crelu=C.crelu,
         l2_normalize=C.l2_normalize,
         weighted_cross_entropy_with_logits=C.weighted_cross_entropy_with_logits)
    _set(ns(tf, "math"), floor=C.floor, ceil=C.ceil, log_sigmoid=C.log_sigmoid,
         softsign=C.softsign, l2_normalize=C.l2_normalize, reduce_logsumexp=tf.reduce_logsumexp,
         reduce_any=tf.reduce_any, reduce_all=tf.reduce_all, argmax=tf.argmax,
         argmin=tf.argmin)
    _set(ns(tf, "linalg"), eye=C.eye, norm=C.norm, tensordot=C.tensordot, einsum=C.einsum,
         matmul=tf.matmul, l2_normalize=C.l2_normalize, transpose=tf.transpose)
    _set(ns(tf, "random"), random_crop=_image.random_crop)
    _set(tf, **{n: getattr(A, n) for n in A.__all__}, matrix_diag_part=A.diag_part)
    _set(ns(tf, "math"), **{n: getattr(A, n) for n in (
        "confusion_matrix", "cumsum", "is_nan", "is_inf", "is_finite", "round", "rint",
        "count_nonzero")})
    _set(ns(tf, "linalg"), diag=A.matrix_diag, diag_part=A.diag_part,
         band_part=A.matrix_band_part)
    _set(ns(tf, "nn"), **{n: getattr(_nn_extra, n) for n in (
        "conv1d", "atrous_conv2d", "depthwise_conv2d", "separable_conv2d", "lrn",
        "local_response_normalization")})
    _set(ns(tf, "layers"), conv1d=_nn_extra.conv1d_layer, Conv1D=_nn_extra.Conv1D,
         MaxPooling1D=_nn_extra.MaxPooling1D, AveragePooling1D=_nn_extra.AveragePooling1D,
         max_pooling1d=_nn_extra.max_pooling1d, average_pooling1d=_nn_extra.average_pooling1d,
         SeparableConv2D=_nn_extra.SeparableConv2D,
         separable_conv2d=_nn_extra.separable_conv2d_layer)
    seg = {n: getattr(S, n) for n in S.__all__ if "segment" in n}
    _set(tf, sort=S.sort, argsort=S.argsort, random_shuffle=S.random_shuffle,
         multinomial=S.multinomial, **seg)
    _set(ns(tf, "math"), top_k=S.top_k, **seg)
    _set(ns(tf, "nn"), top_k=S.top_k)
    _set(ns(tf, "random"), shuffle=S.random_shuffle, categorical=S.categorical,
         multinomial=S.multinomial)

    metrics = ns(tf, "metrics")
    object.__setattr__(metrics, "_base", _metrics)
    image = ns(tf, "image")
    object.__setattr__(image, "_base", _image)

    train = ns(tf, "train")
    _set(train, **{n: getattr(_schedules, n) for n in _schedules.__all__})
    _set(train, AdadeltaOptimizer=_train.AdadeltaOptimizer, FtrlOptimizer=_train.FtrlOptimizer,
         ProximalGradientDescentOptimizer=_train.ProximalGradientDescentOptimizer,
         ProximalAdagradOptimizer=_train.ProximalAdagradOptimizer,
         ExponentialMovingAverage=_train.ExponentialMovingAverage)

    contrib = ns(tf, "contrib")
    if "layers" not in vars(contrib):
        contrib.layers = type(contrib)("tf.contrib.layers")
    _set(contrib.layers, **{n: getattr(_contrib_layers, n) for n in _contrib_layers.__all__})

    keras = ns(tf, "keras")
    if "layers" not in vars(keras):
        keras.layers = type(keras)("tf.keras.layers")
    _set(keras.layers, **{n: getattr(_keras_layers, n) for n in _keras_layers.__all__
                          if n[0].isupper()})
    if "backend" not in vars(keras):
        keras.backend = type(keras)("tf.keras.backend")
    _set(keras.backend, clear_session=tf.reset_default_graph)
