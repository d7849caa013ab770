"""TF's fake quantization ops: ``FakeQuantWithMinMaxArgs`` / ``...Vars`` / ``...VarsPerChannel``
and their gradients (TF 1.15's ``fake_quant_ops_functor.h``).

A float32 tensor is clamped to a *nudged* range and rounded to one of the levels
``quant_min..quant_max`` (``[0 or 1, 2^num_bits - 1]``, 1 with ``narrow_range``). Nudging
moves ``[min, max]`` so that 0.0 is exactly a level:

    scale = (max - min) / (quant_max - quant_min)
    zero_point_from_min = quant_min - min / scale
    zero_point = quant_min if zero_point_from_min < quant_min, quant_max if it is above
                 quant_max, else round(zero_point_from_min)   (half away from zero)
    nudged_min = (quant_min - zero_point) * scale, nudged_max = (quant_max - zero_point) * scale

    clamped = max(min(x, nudged_max), nudged_min)
    out = floor((clamped - nudged_min) * (1 / scale) + 0.5) * scale + nudged_min      (Args)
    out = floor((clamped - nudged_min) / scale + 0.5) * scale + nudged_min            (Vars)

all in float32, in that order (the backends spell the same operations). Vars with
``min == max == 0`` give zeros (and pass the whole gradient to the inputs). The gradients
are straight through: ``g`` where ``nudged_min <= x <= nudged_max``; for Vars the gradient
wrt ``min`` is the sum of ``g`` where ``x < nudged_min``, wrt ``max`` where ``x > nudged_max``
(per channel: summed over all axes but the last).

The ``...Vars...Gradient`` records have three results (TF's op) and decompose into the
elementwise ``fake_quant_vars_backprop`` (one per result) and the sums, so both native
backends lower them from the elementwise entries.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import float32
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType, broadcast_shapes
from .common import unbroadcast

F32 = np.float32
QUANT_ATTRS = {"num_bits": Attr("int", 8), "narrow_range": Attr("bool", False)}
ARGS_ATTRS = {"min": Attr("float", -6.0), "max": Attr("float", 6.0), **QUANT_ATTRS}
WRT = ("inputs", "min", "max")


def quant_range(num_bits: int, narrow_range: bool) -> tuple[int, int]:
    """(quant_min, quant_max): the integer levels."""
    return (1 if narrow_range else 0), (1 << num_bits) - 1


def attr_error(a: dict) -> Optional[str]:
    """What is wrong with the attributes (TF's kernel-construction messages), or None."""
    if not 2 <= a["num_bits"] <= 16:
        return f"num_bits must be between 2 and 16, inclusive (got {a['num_bits']})"
    if "min" in a and not F32(a["min"]) < F32(a["max"]):
        return f"min has to be smaller than max, was: {a['min']:g} >= {a['max']:g}"
    return None


def check_attrs(a: dict) -> None:
    """A type rule's check: ValueError (the frontend raises TF's InvalidArgumentError first)."""
    msg = attr_error(a)
    if msg:
        raise ValueError(msg)


def round_half_up(z: np.ndarray) -> np.ndarray:
    """std::round for z >= 0: floor(z) + (z - floor(z) >= 0.5), exact in float32."""
    f = np.floor(z)
    return f + ((z - f) >= F32(0.5)).astype(np.float32)


def nudge(mn, mx, num_bits: int, narrow_range: bool) -> tuple:
    """TF's Nudge() in float32, elementwise: (nudged_min, nudged_max, scale)."""
    mn, mx = np.asarray(mn, np.float32), np.asarray(mx, np.float32)
    qmin, qmax = (F32(q) for q in quant_range(num_bits, narrow_range))
    with np.errstate(all="ignore"):
        scale = (mx - mn) / (qmax - qmin)
        zp_from_min = qmin - mn / scale
        zp = np.where(zp_from_min < qmin, qmin,
                      np.where(zp_from_min > qmax, qmax, round_half_up(zp_from_min)))
        return (qmin - zp) * scale, (qmax - zp) * scale, scale


def nudge_args(a: dict) -> tuple[float, float, float, float]:
    """An Args op's (nudged_min, nudged_max, scale, 1 / scale) as float32 values."""
    nmin, nmax, scale = nudge(a["min"], a["max"], a["num_bits"], a["narrow_range"])
    return float(nmin), float(nmax), float(scale), float(F32(1) / scale)


def _clamp(x, nmin, nmax):
    return np.maximum(np.minimum(x, nmax), nmin)       # NaN stays NaN (Eigen's cwiseMin/Max)


# ------------------------------------------------------------------ references -------------

def _args_ref(x, min, max, num_bits, narrow_range):
    nmin, nmax, scale, inv = (F32(v) for v in nudge_args(
        {"min": min, "max": max, "num_bits": num_bits, "narrow_range": narrow_range}))
    with np.errstate(invalid="ignore"):
        q = np.floor((_clamp(x, nmin, nmax) - nmin) * inv + F32(0.5)) * scale + nmin
    return np.asarray(q, np.float32)


def _args_grad_ref(g, x, min, max, num_bits, narrow_range):
    if g.shape != x.shape:
        raise InvalidArgumentError(f"gradient and input must be the same size: "
                                   f"{list(g.shape)} vs {list(x.shape)}")
    nmin, nmax, _, _ = nudge_args(
        {"min": min, "max": max, "num_bits": num_bits, "narrow_range": narrow_range})
    inside = (x >= F32(nmin)) & (x <= F32(nmax))
    return np.asarray(g * inside.astype(np.float32), np.float32)


def _check_depth(x, mn, mx) -> None:
    """Per channel: min and max have one element per element of the inputs' last axis."""
    for t, what in ((mn, "min"), (mx, "max")):
        if np.ndim(t) == 1 and (x.ndim == 0 or t.shape[0] != x.shape[-1]):
            raise InvalidArgumentError(depth_message(x.shape[-1] if x.ndim else None,
                                                     t.shape[0], what))


def depth_message(depth, d, what: str) -> str:
    return (f"Dimensions must be equal, but are {depth} and {d} (the inputs' last dimension "
            f"and {what})")


def _vars_ref(x, mn, mx, num_bits, narrow_range):
    _check_depth(x, mn, mx)
    nmin, nmax, scale = nudge(mn, mx, num_bits, narrow_range)
    with np.errstate(all="ignore"):
        q = np.floor((_clamp(x, nmin, nmax) - nmin) / scale + F32(0.5)) * scale + nmin
    zero = (mn == 0) & (mx == 0)
    return np.asarray(np.broadcast_to(np.where(zero, F32(0), q), x.shape), np.float32)


def _backprop_ref(g, x, mn, mx, num_bits, narrow_range, wrt):
    _check_depth(x, mn, mx)
    nmin, nmax, _ = nudge(mn, mx, num_bits, narrow_range)
    zero = (mn == 0) & (mx == 0)
    with np.errstate(invalid="ignore"):
        if wrt == "inputs":
            out = g * (((x >= nmin) & (x <= nmax)) | zero).astype(np.float32)
        else:
            outside = (x < nmin) if wrt == "min" else (x > nmax)
            out = np.where(zero, F32(0), g * outside.astype(np.float32))
    return np.asarray(np.broadcast_to(out, x.shape), np.float32)


def _vars_grad_ref(g, x, mn, mx, num_bits, narrow_range):
    if g.shape != x.shape:
        raise InvalidArgumentError(f"gradient and input must be the same size: "
                                   f"{list(g.shape)} vs {list(x.shape)}")
    parts = [_backprop_ref(g, x, mn, mx, num_bits, narrow_range, w) for w in WRT]
    axes = tuple(range(x.ndim - np.ndim(mn)))
    return (parts[0],
            np.asarray(np.sum(parts[1], axis=axes, dtype=np.float32).reshape(np.shape(mn))),
            np.asarray(np.sum(parts[2], axis=axes, dtype=np.float32).reshape(np.shape(mx))))


# ------------------------------------------------------------------ type rules -------------

def _need_f32(t: TensorType, what: str) -> None:
    if t.dtype is not float32:
        raise TypeError(f"Value passed to parameter '{what}' has DataType {t.dtype.name} not "
                        f"in list of allowed values: float32")


def _same_shape(g: TensorType, x: TensorType) -> TensorType:
    if g.shape is not None and x.shape is not None:
        if len(g.shape) != len(x.shape) or any(
                isinstance(a, int) and isinstance(b, int) and a != b
                for a, b in zip(g.shape, x.shape)):
            raise ShapeMismatch(f"gradients and inputs must have the same shape, but are "
                                f"{list(g.shape)} and {list(x.shape)}")
    return x if x.shape is not None else g


def _args_infer(types, a):
    _need_f32(types[0], "inputs")
    check_attrs(a)
    return types[0]


def _args_grad_infer(types, a):
    _need_f32(types[0], "gradients")
    _need_f32(types[1], "inputs")
    check_attrs(a)
    return _same_shape(types[0], types[1])


def _check_min_max(x: TensorType, mn: TensorType, mx: TensorType, per_channel: bool) -> None:
    _need_f32(x, "inputs")
    _need_f32(mn, "min")
    _need_f32(mx, "max")
    rank = 1 if per_channel else 0
    for t, what in ((mn, "min"), (mx, "max")):
        if t.shape is not None and len(t.shape) != rank:
            raise ShapeMismatch(f"Shape must be rank {rank} but is rank {len(t.shape)} "
                                f"({what})")
    if not per_channel:
        return
    if x.shape is not None and len(x.shape) < 1:
        raise ShapeMismatch("Shape must be at least rank 1 but is rank 0 (inputs)")
    depth = x.shape[-1] if x.shape is not None else None
    for t, what in ((mn, "min"), (mx, "max")):
        d = t.shape[0] if t.shape is not None else None
        if isinstance(depth, int) and isinstance(d, int) and d != depth:
            raise ShapeMismatch(depth_message(depth, d, what))


def _vars_infer(per_channel: bool):
    def infer(types, a):
        check_attrs(a)
        _check_min_max(types[0], types[1], types[2], per_channel)
        return types[0]
    return infer


def _vars_grad_infer(per_channel: bool):
    def infer(types, a):
        check_attrs(a)
        _need_f32(types[0], "gradients")
        _check_min_max(types[1], types[2], types[3], per_channel)
        return [_same_shape(types[0], types[1]), types[2], types[3]]
    return infer


def _backprop_infer(types, a):
    if a["wrt"] not in WRT:
        raise ValueError(f"fake_quant_vars_backprop: wrt must be one of {WRT}, got {a['wrt']!r}")
    check_attrs(a)
    for t, what in zip(types, ("gradients", "inputs", "min", "max")):
        _need_f32(t, what)
    x = _same_shape(types[0], types[1])
    for t in types[2:]:
        broadcast_shapes(t.shape, x.shape)
    return x


# ------------------------------------------------------------------ gradients --------------

def _args_grad(b, op, g):
    return [b.fake_quant_with_min_max_args_gradient(g[0], op.operands[0], **op.attrs)]


def _vars_grad(gradient_op: str):
    def grad(b, op, g):
        return list(b.op(gradient_op, g[0], *op.operands, **op.attrs))
    return grad


def _vars_grad_decompose(b, op):
    """TF's three results: the straight-through mask, and the sums outside the range."""
    g, x, mn, mx = op.operands
    parts = [b.fake_quant_vars_backprop(g, x, mn, mx, wrt=w, **op.attrs) for w in WRT]
    return parts[0], unbroadcast(b, parts[1], mn), unbroadcast(b, parts[2], mx)


# ------------------------------------------------------------------ the records ------------

defop("fake_quant_with_min_max_args", kind="elementwise", num_inputs=1, attrs=ARGS_ATTRS,
      infer=_args_infer, reference=_args_ref, grad=_args_grad,
      doc="TF's FakeQuantWithMinMaxArgs: float32 rounded to 2^num_bits levels of the nudged "
          "[min, max] (attributes)")
defop("fake_quant_with_min_max_args_gradient", kind="elementwise", num_inputs=2,
      attrs=ARGS_ATTRS, infer=_args_grad_infer, reference=_args_grad_ref, differentiable=False,
      doc="TF's FakeQuantWithMinMaxArgsGradient: gradients where nudged_min <= inputs <= "
          "nudged_max, else 0")
for _suffix, _per_channel in (("", False), ("_per_channel", True)):
    defop(f"fake_quant_with_min_max_vars{_suffix}", kind="elementwise", num_inputs=3,
          attrs=QUANT_ATTRS, infer=_vars_infer(_per_channel), reference=_vars_ref,
          grad=_vars_grad(f"fake_quant_with_min_max_vars{_suffix}_gradient"),
          doc=f"TF's FakeQuantWithMinMaxVars{'PerChannel' if _per_channel else ''}: min and max "
              f"{'[d] along the last axis' if _per_channel else 'scalar'} tensors")
    defop(f"fake_quant_with_min_max_vars{_suffix}_gradient", kind="library", num_inputs=4,
          attrs=QUANT_ATTRS, infer=_vars_grad_infer(_per_channel), reference=_vars_grad_ref,
          decompose=_vars_grad_decompose, differentiable=False,
          doc="(backprops wrt inputs, wrt min, wrt max) of the Vars op: TF's "
              f"FakeQuantWithMinMaxVars{'PerChannel' if _per_channel else ''}Gradient")
defop("fake_quant_vars_backprop", kind="elementwise", num_inputs=4,
      attrs={**QUANT_ATTRS, "wrt": Attr("str", "inputs")}, infer=_backprop_infer,
      reference=_backprop_ref, differentiable=False,
      doc="per element of inputs, the Vars gradient's part wrt 'inputs' (g inside the nudged "
          "range), 'min' (g below it) or 'max' (g above it); min/max broadcast")
