"""Shared pieces for op family modules: type-rule helpers and gradient helpers."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..ir.builder import Builder
from ..ir.core import Value
from ..ir.dtypes import DType, bool_
from ..ir.types import ShapeMismatch, TensorType, broadcast_shapes


def require_same_dtype(types: Sequence[TensorType], what: str = "operands") -> DType:
    if not types:
        raise ShapeMismatch(f"{what}: at least one operand is needed")
    d0 = types[0].dtype
    for i, t in enumerate(types[1:], 1):
        if t.dtype is not d0:
            raise TypeError(f"{what} must have the same dtype, but operand {i} is {t.dtype.name} "
                            f"and operand 0 is {d0.name}")
    return d0


def require_dtype(t: TensorType, ok: str, what: str = "operand") -> None:
    """``ok`` is a set of kinds: 'f' float, 'i' int, 'b' bool, 'c' complex."""
    if t.dtype.kind not in ok:
        names = {"f": "floating", "i": "integer", "b": "bool", "c": "complex"}
        raise TypeError(f"{what} must be {' or '.join(names[k] for k in ok)}, got {t.dtype.name}")


def require_static_shape(shape: Sequence[int], what: str) -> tuple:
    """A shape attribute: non-negative ints."""
    if any(d < 0 for d in shape):
        raise ShapeMismatch(f"{what}: dims must be non-negative, got {list(shape)}")
    return tuple(shape)


def unary_rule(kinds: str = "fi"):
    def infer(types, attrs):
        require_dtype(types[0], kinds)
        return types[0]
    return infer


def binary_rule(kinds: str = "fi", result: Optional[DType] = None):
    def infer(types, attrs):
        dt = require_same_dtype(types)
        require_dtype(types[0], kinds)
        return TensorType(result or dt, broadcast_shapes(types[0].shape, types[1].shape))
    return infer


def static_broadcast_axes(src: tuple, dst: tuple) -> Optional[tuple[tuple, bool]]:
    """Axes of ``dst`` to sum so a broadcast of ``src`` reduces back to it, if decidable
    statically; returns (axes, needs_reshape) or None when only run time can tell."""
    lead = len(dst) - len(src)
    axes = list(range(lead))
    for i, d in enumerate(src):
        o = dst[lead + i]
        if d == o and d is not None:   # two unknown (None) dims may differ at run time
            continue
        if d == 1:
            axes.append(lead + i)
            continue
        return None
    return tuple(axes), lead > 0


def unbroadcast(b: Builder, g: Value, like: Value) -> Value:
    """Sum ``g`` (shaped like a broadcast result) back to the shape of ``like``."""
    src, dst = like.type.shape, g.type.shape
    if src == dst and (src is None or None not in src):   # unknown (None) dims may differ
        return g
    plan = static_broadcast_axes(src, dst)
    if plan is None:
        return b.sum_to(g, like)
    axes, _ = plan
    if axes:
        g = b.reduce_sum(g, axes=axes, keepdims=True)
    if g.type.shape != src:
        g = b.reshape_like(g, like)
    return g


def zeros_of(b: Builder, like: Value) -> Value:
    return b.zeros_like(like)


def np_result(x, dtype: DType) -> np.ndarray:
    return np.asarray(x, dtype=dtype.np)


def is_bool(t: TensorType) -> bool:
    return t.dtype is bool_
