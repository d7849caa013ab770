"""Small TF1 math/nn helpers composed of existing ops: swish, zero_fraction, reduce_std,
reduce_variance, div_no_nan, logical_xor, accumulate_n, scalar_mul, shape_n,
weighted_moments, image transpose/rot90/total_variation/psnr, and complex64's
complex/real/imag/conj."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

from . import math_ops as M
from .array_ops import identity, ones_like, shape, transpose, select as where, zeros_like
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op, static_ints

__all__ = ["swish", "zero_fraction", "reduce_std", "reduce_variance", "div_no_nan",
           "logical_xor", "accumulate_n", "scalar_mul", "shape_n", "weighted_moments",
           "transpose_image", "rot90", "total_variation", "psnr", "complex", "real", "imag",
           "conj"]


def swish(features: Any, name: Optional[str] = None) -> Tensor:
    """``x * sigmoid(x)``."""
    with name_scope(name, "swish") as scope:
        x = convert_to_tensor(features)
        return M.multiply(x, M.sigmoid(x), name=scope)


def zero_fraction(value: Any, name: Optional[str] = None) -> Tensor:
    """The fraction of zeros in ``value`` (float32)."""
    with name_scope(name, "zero_fraction") as scope:
        x = convert_to_tensor(value)
        zero = M.equal(x, convert_to_tensor(np.zeros((), x.dtype.np)))
        return M.reduce_mean(M.cast(zero, "float32"), name=scope)


def reduce_variance(input_tensor: Any, axis: Any = None, keepdims: bool = False,
                    name: Optional[str] = None) -> Tensor:
    """The (biased) variance ``mean((x - mean(x))**2)`` over ``axis``."""
    with name_scope(name, "reduce_variance") as scope:
        x = convert_to_tensor(input_tensor)
        mean = M.reduce_mean(x, axis, keepdims=True)
        return M.reduce_mean(M.square(M.subtract(x, mean)), axis, keepdims=keepdims,
                             name=scope)


def reduce_std(input_tensor: Any, axis: Any = None, keepdims: bool = False,
               name: Optional[str] = None) -> Tensor:
    """``sqrt(reduce_variance)``."""
    with name_scope(name, "reduce_std") as scope:
        return M.sqrt(reduce_variance(input_tensor, axis, keepdims), name=scope)


def div_no_nan(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    """``x / y``, 0 where ``y`` is 0 (with finite gradients there)."""
    with name_scope(name, "div_no_nan") as scope:
        a, b = M.binary_operands(x, y, "DivNoNan")
        zero = M.equal(b, zeros_like(b))
        safe = where(zero, ones_like(b), b)
        q = M.truediv(a, safe)
        zero_q = M.greater(M.add(M.cast(zero, q.dtype), zeros_like(q)), 0.5)  # broadcast
        return where(zero_q, zeros_like(q), q, name=scope)


def logical_xor(x: Any, y: Any, name: Optional[str] = None) -> Tensor:
    with name_scope(name, "LogicalXor") as scope:
        return M.logical_and(M.logical_or(x, y), M.logical_not(M.logical_and(x, y)), name=scope)


def accumulate_n(inputs: Sequence[Any], shape: Any = None, tensor_dtype: Any = None,
                 name: Optional[str] = None) -> Tensor:
    """The elementwise sum of the inputs (= add_n)."""
    return M.add_n(list(inputs), name=name or "AccumulateNV2")


def scalar_mul(scalar: Any, x: Any, name: Optional[str] = None) -> Tensor:
    return M.multiply(x, scalar, name=name or "Mul")


def shape_n(input: Sequence[Any], out_type: Any = "int32", name: Optional[str] = None) -> list:
    with name_scope(name, "ShapeN"):
        return [shape(t, out_type=out_type) for t in input]


def weighted_moments(x: Any, axes: Any, frequency_weights: Any, name: Optional[str] = None,
                     keep_dims: Optional[bool] = None, keepdims: Optional[bool] = None):
    """(mean, variance) of ``x`` over ``axes`` with each element weighted."""
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    with name_scope(name, "weighted_moments"):
        t = convert_to_tensor(x)
        w = convert_to_tensor(frequency_weights, dtype=None if isinstance(
            frequency_weights, Tensor) else t.dtype)
        ax = static_ints(axes, "axes")
        wsum = M.reduce_sum(M.multiply(w, ones_like(t)), ax, keepdims=True)
        mean = div_no_nan(M.reduce_sum(M.multiply(t, w), ax, keepdims=True), wsum)
        var = div_no_nan(M.reduce_sum(M.multiply(M.square(M.subtract(t, mean)), w), ax,
                                      keepdims=True), wsum)
        if not keep:
            from .array_ops import squeeze
            mean, var = squeeze(mean, ax), squeeze(var, ax)
        return mean, var


# ---------------------------------------------------------------------- image --------------

def _hwc(image: Any) -> tuple[Tensor, int]:
    x = convert_to_tensor(image)
    r = x.shape.ndims
    if r not in (3, 4):
        raise ValueError(f"expected an image of rank 3 or 4, got shape {x.shape}")
    return x, r - 3


def transpose_image(image: Any) -> Tensor:
    """Swap height and width."""
    x, b = _hwc(image)
    perm = [0, 2, 1, 3] if b else [1, 0, 2]
    return transpose(x, perm, name="transpose_image")


def rot90(image: Any, k: int = 1, name: Optional[str] = None) -> Tensor:
    """Rotate counter-clockwise by ``k`` quarter turns (k static)."""
    x, b = _hwc(image)
    k = int(k) % 4
    h = b
    with name_scope(name, "rot90") as scope:
        out = x
        for _ in range(k):           # one quarter turn: transpose then flip the height
            out = transpose_image(out)
            key = [slice(None)] * out.shape.ndims
            key[h] = slice(None, None, -1)
            out = out[tuple(key)]
        return identity(out, name=scope)


def total_variation(images: Any, name: Optional[str] = None) -> Tensor:
    """The sum of absolute differences of neighbouring pixels (per image for a batch)."""
    with name_scope(name, "total_variation") as scope:
        x, b = _hwc(images)
        h, w = b, b + 1

        def diff(a):
            lo, hi = [slice(None)] * x.shape.ndims, [slice(None)] * x.shape.ndims
            lo[a], hi[a] = slice(None, -1), slice(1, None)
            return M.abs(M.subtract(x[tuple(hi)], x[tuple(lo)]))
        axes = [1, 2, 3] if b else None
        return M.add(M.reduce_sum(diff(h), axes), M.reduce_sum(diff(w), axes), name=scope)


def psnr(a: Any, b: Any, max_val: Any, name: Optional[str] = None) -> Tensor:
    """``10 * log10(max_val**2 / mse)`` over the last three dims."""
    with name_scope(name, "PSNR") as scope:
        x, y = convert_to_tensor(a), convert_to_tensor(b)
        mse = M.reduce_mean(M.square(M.subtract(x, y)), [-3, -2, -1])
        mv = convert_to_tensor(max_val, dtype=None if isinstance(max_val, Tensor) else x.dtype)
        val = M.subtract(M.multiply(M.log(M.square(mv)), 10.0 / math.log(10.0)),
                         M.multiply(M.log(mse), 10.0 / math.log(10.0)))
        return identity(val, name=scope)


# ------------------------------------------------------------------ complex64 ----------------

def complex(real: Any, imag: Any, name: Optional[str] = None) -> Tensor:  # noqa: A001
    """``tf.complex``: float32 parts -> complex64, float64 parts -> complex128 (as TF)."""
    a, b = M.binary_operands(real, imag, "Complex", name)
    return make_op("Complex", "complex", [a, b], name=name).outputs[0]


def _part(op_type: str, ir_op: str, real_input: Any):
    def fn(input: Any, name: Optional[str] = None) -> Tensor:  # noqa: A002
        x = convert_to_tensor(input)
        if not x.dtype.is_complex:     # TF: real/conj of a real tensor is itself, imag zeros
            return real_input(x)
        return make_op(op_type, ir_op, [x], name=name).outputs[0]
    fn.__name__ = ir_op
    fn.__doc__ = f"``tf.{ir_op}`` of a complex64/complex128 tensor (TF op {op_type})."
    return fn


real = _part("Real", "real", lambda x: x)
imag = _part("Imag", "imag", zeros_like)
conj = _part("Conj", "conj", lambda x: x)
