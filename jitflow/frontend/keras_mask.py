"""Keras masks in TF1 graph mode, as TF 1.15's ``tf.keras`` keeps them: a tensor made by a
layer carries its boolean mask (``[batch, time]``) as ``tensor._keras_mask``. A layer's
``__call__`` (layer_base.Layer) passes the input's mask to ``call(..., mask=)`` when ``call``
takes one, and sets its outputs' masks from ``compute_mask(inputs, mask)``: the input mask
for a layer with ``supports_masking``, None for one without (silently, as TF 1.15's
``_set_mask_metadata``; only an explicit ``compute_mask`` call on such a layer with a mask
raises TF's TypeError); a mask the layer's ``call`` already set stays. Embedding
(``mask_zero``) and ``Masking`` make masks, the recurrent layers consume them
(keras_rnn.py), and fit/evaluate weight the loss with the output's mask
(keras_training.py)."""
from __future__ import annotations

import inspect
from typing import Any

from . import math_ops as M
from .extra_ops import reduce_any
from .graph import Tensor
from .layer_base import Layer

__all__ = ["Masking", "call_mask", "set_mask_metadata", "default_compute_mask"]

_TAKES_MASK: dict = {}


def _takes_mask(layer: Any) -> bool:
    kind = type(layer)
    if kind not in _TAKES_MASK:
        try:
            params = inspect.signature(layer.call).parameters
            _TAKES_MASK[kind] = "mask" in params
        except (TypeError, ValueError):
            _TAKES_MASK[kind] = False
    return _TAKES_MASK[kind]


def _mask_of(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        return None if all(m is None for m in masks) else masks
    return getattr(x, "_keras_mask", None)


def call_mask(layer: Any, inputs: Any, args: tuple, kwargs: dict) -> Any:
    """The mask of this call (an explicit ``mask=`` or the inputs'), added to ``kwargs`` for
    a ``call`` that takes ``mask``."""
    if "mask" in kwargs:
        return kwargs["mask"]
    mask = _mask_of(inputs)
    if mask is not None and _takes_mask(layer):
        kwargs["mask"] = mask
    return mask


def _flat(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def set_mask_metadata(layer: Any, inputs: Any, outputs: Any, mask: Any) -> None:
    """Each output's ``_keras_mask``, by TF 1.15's rule (see the module docstring)."""
    outs = _flat(outputs)
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        return
    if all(getattr(o, "_keras_mask", None) is not None for o in outs):
        return                                    # the call set them
    compute = getattr(layer, "compute_mask", None)
    if compute is None or not (layer.supports_masking or
                               not getattr(compute, "_is_default", False)):
        masks: list = [None] * len(outs)
    else:
        got = compute(inputs, mask)
        masks = [None] * len(outs) if got is None else _flat(got)
    for o, m in zip(outs, masks):
        o._keras_mask = m


def default_compute_mask(layer: Any, mask: Any) -> Any:
    """Keras's ``Layer.compute_mask``: the mask passed on, or TypeError for a layer that does
    not support masking."""
    if not layer.supports_masking:
        if any(m is not None for m in _flat(mask)):
            raise TypeError(f"Layer {layer.name} does not support masking, but was passed an "
                            f"input_mask: {mask}")
        return None
    return mask


class Masking(Layer):
    """``tf.keras.layers.Masking(mask_value=0.0)``: a timestep whose features all equal
    ``mask_value`` is masked (mask ``any(x != mask_value, -1)``) and its features zeroed."""

    supports_masking = True

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        from .keras_layers import _drop_shape_kwargs
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.mask_value = mask_value

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor:
        return reduce_any(M.not_equal(inputs, self.mask_value), axis=-1)

    def call(self, inputs: Tensor) -> Tensor:
        keep = reduce_any(M.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return M.multiply(inputs, M.cast(keep, inputs.dtype))
