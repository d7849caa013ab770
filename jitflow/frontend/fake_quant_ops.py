"""``tf.quantization.fake_quant_with_min_max_*`` (TF 1.15's names, also at the top of ``tf``):
one IR op each (``ops/quant.py``). float32 only, as TF's kernels."""
from __future__ import annotations

import collections
import numbers
from typing import Any, Optional

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import float32
from ..ops.quant import attr_error
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op

__all__ = ["fake_quant_with_min_max_args", "fake_quant_with_min_max_args_gradient",
           "fake_quant_with_min_max_vars", "fake_quant_with_min_max_vars_gradient",
           "fake_quant_with_min_max_vars_per_channel",
           "fake_quant_with_min_max_vars_per_channel_gradient"]

FakeQuantWithMinMaxVarsGradient = collections.namedtuple(
    "FakeQuantWithMinMaxVarsGradient",
    ["backprops_wrt_input", "backprop_wrt_min", "backprop_wrt_max"])
FakeQuantWithMinMaxVarsPerChannelGradient = collections.namedtuple(
    "FakeQuantWithMinMaxVarsPerChannelGradient",
    ["backprops_wrt_input", "backprop_wrt_min", "backprop_wrt_max"])


def _float(v: Any, what: str) -> float:
    if isinstance(v, Tensor):
        raise TypeError(f"Expected float for argument '{what}' not {v!r} (a Tensor: "
                        f"fake_quant_with_min_max_vars takes min and max computed in the graph)")
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"Expected float for argument '{what}' not {v!r}.")
    return float(v)


def _checked(attrs: dict) -> dict:
    msg = attr_error(attrs)
    if msg:
        raise InvalidArgumentError(msg)
    return attrs


def _quant_attrs(num_bits: Any, narrow_range: Any) -> dict:
    if isinstance(num_bits, bool) or not isinstance(num_bits, numbers.Integral):
        raise TypeError(f"Expected int for argument 'num_bits' not {num_bits!r}.")
    if not isinstance(narrow_range, (bool, np.bool_)):
        raise TypeError(f"Expected bool for argument 'narrow_range' not {narrow_range!r}.")
    return _checked({"num_bits": int(num_bits), "narrow_range": bool(narrow_range)})


def _args_attrs(min: Any, max: Any, num_bits: Any, narrow_range: Any) -> dict:
    return _checked({"min": _float(min, "min"), "max": _float(max, "max"),
                     **_quant_attrs(num_bits, narrow_range)})


def _f32(x: Any, what: str) -> Tensor:
    return convert_to_tensor(x, dtype=None if isinstance(x, Tensor) else float32, name=what)


def fake_quant_with_min_max_args(inputs: Any, min: float = -6, max: float = 6,
                                 num_bits: int = 8, narrow_range: bool = False,
                                 name: Optional[str] = None) -> Tensor:
    """``inputs`` (float32) clamped to the nudged ``[min, max]`` and rounded to one of
    ``2^num_bits`` levels (``2^num_bits - 1`` with ``narrow_range``); 0.0 is exactly a level."""
    attrs = _args_attrs(min, max, num_bits, narrow_range)
    with name_scope(name, "FakeQuantWithMinMaxArgs") as scope:
        return make_op("FakeQuantWithMinMaxArgs", "fake_quant_with_min_max_args",
                       [_f32(inputs, "inputs")], attrs, scope).outputs[0]


def fake_quant_with_min_max_args_gradient(gradients: Any, inputs: Any, min: float = -6,
                                          max: float = 6, num_bits: int = 8,
                                          narrow_range: bool = False,
                                          name: Optional[str] = None) -> Tensor:
    """``gradients`` where ``nudged_min <= inputs <= nudged_max``, else 0."""
    attrs = _args_attrs(min, max, num_bits, narrow_range)
    with name_scope(name, "FakeQuantWithMinMaxArgsGradient") as scope:
        ins = [_f32(gradients, "gradients"), _f32(inputs, "inputs")]
        return make_op("FakeQuantWithMinMaxArgsGradient", "fake_quant_with_min_max_args_gradient",
                       ins, attrs, scope).outputs[0]


def _vars(op_type: str, ir_op: str, inputs: Any, min: Any, max: Any, num_bits: Any,
          narrow_range: Any, name: Optional[str]) -> Tensor:
    attrs = _quant_attrs(num_bits, narrow_range)
    with name_scope(name, op_type) as scope:     # TF names converted inputs "<op>/min"
        ins = [_f32(inputs, "inputs"), _f32(min, "min"), _f32(max, "max")]
        return make_op(op_type, ir_op, ins, attrs, scope).outputs[0]


def _vars_gradient(op_type: str, ir_op: str, result: type, gradients: Any, inputs: Any,
                   min: Any, max: Any, num_bits: Any, narrow_range: Any,
                   name: Optional[str]) -> tuple:
    attrs = _quant_attrs(num_bits, narrow_range)
    with name_scope(name, op_type) as scope:
        ins = [_f32(gradients, "gradients"), _f32(inputs, "inputs"), _f32(min, "min"),
               _f32(max, "max")]
        return result(*make_op(op_type, ir_op, ins, attrs, scope).outputs)


def fake_quant_with_min_max_vars(inputs: Any, min: Any, max: Any, num_bits: int = 8,
                                 narrow_range: bool = False,
                                 name: Optional[str] = None) -> Tensor:
    """As ``fake_quant_with_min_max_args`` with ``min`` and ``max`` float32 scalar tensors
    (read at run time; both 0 gives zeros)."""
    return _vars("FakeQuantWithMinMaxVars", "fake_quant_with_min_max_vars", inputs, min, max,
                 num_bits, narrow_range, name)


def fake_quant_with_min_max_vars_gradient(gradients: Any, inputs: Any, min: Any, max: Any,
                                          num_bits: int = 8, narrow_range: bool = False,
                                          name: Optional[str] = None) -> tuple:
    """``(backprops_wrt_input, backprop_wrt_min, backprop_wrt_max)``: ``gradients`` inside
    the nudged range, and the sums of ``gradients`` below it and above it."""
    return _vars_gradient("FakeQuantWithMinMaxVarsGradient",
                          "fake_quant_with_min_max_vars_gradient",
                          FakeQuantWithMinMaxVarsGradient, gradients, inputs, min, max,
                          num_bits, narrow_range, name)


def fake_quant_with_min_max_vars_per_channel(inputs: Any, min: Any, max: Any,
                                             num_bits: int = 8, narrow_range: bool = False,
                                             name: Optional[str] = None) -> Tensor:
    """As ``fake_quant_with_min_max_vars`` with ``min`` and ``max`` of shape ``[d]``, one
    range per element of the inputs' last axis (``[d]``, ``[b, d]``, ``[b, h, w, d]``)."""
    return _vars("FakeQuantWithMinMaxVarsPerChannel", "fake_quant_with_min_max_vars_per_channel",
                 inputs, min, max, num_bits, narrow_range, name)


def fake_quant_with_min_max_vars_per_channel_gradient(gradients: Any, inputs: Any, min: Any,
                                                      max: Any, num_bits: int = 8,
                                                      narrow_range: bool = False,
                                                      name: Optional[str] = None) -> tuple:
    """Per channel: ``(backprops_wrt_input, backprop_wrt_min [d], backprop_wrt_max [d])``."""
    return _vars_gradient("FakeQuantWithMinMaxVarsPerChannelGradient",
                          "fake_quant_with_min_max_vars_per_channel_gradient",
                          FakeQuantWithMinMaxVarsPerChannelGradient, gradients, inputs, min,
                          max, num_bits, narrow_range, name)
