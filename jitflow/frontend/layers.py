"""``tf.layers``: dense, conv2d, pooling, flatten, dropout, batch_normalization.

TF1's naming rules (checked against TensorFlow 2.21's ``tf.compat.v1.layers``):

* a layer opens a *variable scope* named ``name`` (explicit names are not uniquified, so a
  second ``dense(..., name="hidden1")`` raises ``ValueError: Variable hidden1/kernel already
  exists, disallowed...`` unless ``reuse=True``/``tf.AUTO_REUSE``) or, unnamed, the snake-case
  class name made unique (``dense``, ``dense_1``, ...);
* its variables (``hidden1/kernel:0``, ``hidden1/bias:0``) depend only on the variable scope, so
  they ignore an enclosing ``tf.name_scope``, while its ops do not (``dnn/hidden1/MatMul``,
  ``dnn/hidden1/BiasAdd``, ``dnn/hidden1/Relu``); a reused layer's ops go to a fresh name scope
  (``dnn/hidden1_1/MatMul``);
* kernels default to glorot_uniform (the variable scope's default), biases to zeros; a
  ``kernel_regularizer``'s loss is added to ``REGULARIZATION_LOSSES`` once, when the variable is
  created (``dnn/hidden1/kernel/Regularizer/...``).

``dropout`` and ``batch_normalization`` accept ``training`` as a Python bool or a bool tensor
(usually ``tf.placeholder_with_default(False, shape=())``); a tensor selects between both
branches with ``tf.where`` instead of ``tf.cond``. Batch normalization's moving statistics are
non-trainable variables updated only by the ops it puts in ``tf.GraphKeys.UPDATE_OPS``
(``moving -= (moving - batch_stat) * (1 - momentum)``). As in TensorFlow, 4-D inputs normalized
over channels take the "fused" path, whose moving variance is updated with the unbiased
(n/(n-1)) batch variance; other inputs use the biased one.
"""
from __future__ import annotations

from .layer_base import Layer  # noqa: F401
from .layers_core import (AveragePooling2D, Conv2D, Conv2DTranspose, Dense, Flatten,  # noqa: F401
                          MaxPooling2D, average_pooling2d, conv2d, conv2d_transpose, dense,
                          flatten, max_pooling2d)
from .layers_norm import BatchNormalization, Dropout, batch_normalization, dropout  # noqa: F401
from .regularizers import (apply_regularization, l1_l2_regularizer, l1_regularizer,  # noqa: F401
                           l2_regularizer, sum_regularizer)

__all__ = [
    "Layer", "Dense", "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
    "Flatten", "Dropout", "BatchNormalization", "dense", "conv2d", "conv2d_transpose",
    "max_pooling2d", "average_pooling2d", "flatten",
    "dropout", "batch_normalization", "l1_regularizer", "l2_regularizer", "l1_l2_regularizer",
    "sum_regularizer", "apply_regularization",
]
