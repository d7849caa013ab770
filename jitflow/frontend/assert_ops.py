"""``tf.Assert`` and ``tf.debugging.assert_*`` from jitflow's one run-time check, the
``check_numerics`` op: the assertion is ``check_numerics(where(condition, 0, NaN))``, so a
false condition fails the run with ``InvalidArgumentError`` carrying the assertion's message
(followed by check_numerics' own " : Tensor had NaN values"). As in TF, an assertion whose
operands are constants is decided at graph build (it raises there, or is a no-op).

The failure message names the ``data`` tensors but does not show their values (the check
runs inside the compiled code; ``tf.Print`` / ``tf.print`` print values from the host).
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import as_dtype, float32
from . import math_ops as M
from .array_ops import reshape, select as where
from .debug_ops import check_numerics
from .extra_ops import reduce_all
from .graph import Operation, Tensor, name_scope
from .op_builder import constant, convert_to_tensor, static_value
from .variables import no_op

__all__ = ["Assert", "assert_equal", "assert_none_equal", "assert_less", "assert_less_equal",
           "assert_greater", "assert_greater_equal", "assert_positive", "assert_negative",
           "assert_non_negative", "assert_non_positive", "assert_rank", "assert_type",
           "assert_integer", "assert_scalar", "ensure_shape"]


def _describe(data: Optional[Sequence[Any]]) -> str:
    if not data:
        return ""
    parts = []
    for d in data:
        if isinstance(d, str):
            parts.append(d)
        elif isinstance(d, Tensor) or hasattr(d, "_as_tensor"):
            parts.append(f"<{convert_to_tensor(d).name}>")
        else:
            parts.append(repr(d))
    return " [" + ", ".join(parts) + "]"


def Assert(condition: Any, data: Optional[Sequence[Any]] = None, summarize: Any = None,
           name: Optional[str] = None) -> Operation:
    """An op failing the run with ``InvalidArgumentError`` when the scalar bool ``condition``
    is false; make other ops depend on it with ``tf.control_dependencies``."""
    with name_scope(name, "Assert") as scope:
        cond = convert_to_tensor(condition, name="condition")
        if cond.dtype.name != "bool":
            raise TypeError(f"tf.Assert: condition must be a bool tensor, got {cond.dtype.name}")
        if cond.shape.ndims not in (None, 0):
            raise ValueError(f"tf.Assert: condition must be a scalar, got shape {cond.shape}")
        message = f"assertion failed: {scope.rstrip('/')}{_describe(data)}"
        sv = static_value(cond)
        if sv is not None:
            if not bool(np.asarray(sv).reshape(())):
                raise InvalidArgumentError(message + " (decided at graph build)")
            return no_op(name="NoOp")
        if cond.shape.ndims is None:
            cond = reshape(cond, [])
        flag = where(cond, constant(0.0, float32), constant(np.nan, float32))
        return check_numerics(flag, message, name="AssertGuard").op


def _assert_compare(default: str, cmp: Callable, np_cmp: Callable, what: str):
    def fn(x: Any, y: Any, data: Optional[Sequence[Any]] = None, summarize: Any = None,
           message: Optional[str] = None, name: Optional[str] = None) -> Operation:
        with name_scope(name, default) as scope:
            xt = convert_to_tensor(x, name="x")
            yt = convert_to_tensor(y, dtype=None if isinstance(y, Tensor) else xt.dtype,
                                   name="y")
            if data is None:
                data = [message or f"Condition x {what} y did not hold element-wise:",
                        xt, yt]
            elif message:
                data = [message] + list(data)
            sx, sy = static_value(xt), static_value(yt)
            if sx is not None and sy is not None:
                if not np.all(np_cmp(sx, sy)):
                    raise InvalidArgumentError(f"assertion failed: {scope.rstrip('/')}"
                                               f"{_describe(data)} (decided at graph build: "
                                               f"x={np.asarray(sx).tolist()}, "
                                               f"y={np.asarray(sy).tolist()})")
                return no_op(name="NoOp")
            return Assert(reduce_all(cmp(xt, yt)), data, name="Assert")
    fn.__name__ = default
    fn.__doc__ = f"Fails the run unless ``x {what} y`` holds for every element."
    return fn


assert_equal = _assert_compare("assert_equal", M.equal, np.equal, "==")
assert_none_equal = _assert_compare("assert_none_equal", M.not_equal, np.not_equal, "!=")
assert_less = _assert_compare("assert_less", M.less, np.less, "<")
assert_less_equal = _assert_compare("assert_less_equal", M.less_equal, np.less_equal, "<=")
assert_greater = _assert_compare("assert_greater", M.greater, np.greater, ">")
assert_greater_equal = _assert_compare("assert_greater_equal", M.greater_equal,
                                       np.greater_equal, ">=")


def _assert_sign(default: str, compare: Callable, what: str):
    def fn(x: Any, data: Optional[Sequence[Any]] = None, summarize: Any = None,
           message: Optional[str] = None, name: Optional[str] = None) -> Operation:
        with name_scope(name, default):
            xt = convert_to_tensor(x, name="x")
            zero = constant(np.zeros((), xt.dtype.np), name="zero")
            if data is None:
                data = [message or f"Condition x {what} did not hold element-wise:", xt]
            return compare(xt, zero, data=data, name=None)
    fn.__name__ = default
    fn.__doc__ = f"Fails the run unless every element of x is {what}."
    return fn


assert_positive = _assert_sign("assert_positive", assert_greater, "> 0")
assert_negative = _assert_sign("assert_negative", assert_less, "< 0")
assert_non_negative = _assert_sign("assert_non_negative", assert_greater_equal, ">= 0")
assert_non_positive = _assert_sign("assert_non_positive", assert_less_equal, "<= 0")


def assert_rank(x: Any, rank: int, data: Any = None, summarize: Any = None,
                message: Optional[str] = None, name: Optional[str] = None) -> Operation:
    """Checked at graph build where the rank is static (a ValueError, as TF); for a tensor of
    unknown rank (a placeholder without a shape) a run-time check of ``tf.rank``."""
    xt = convert_to_tensor(x)
    if xt.shape.ndims is None:
        from .array_extra import rank as _rank
        with name_scope(name, "assert_rank"):
            text = f"{message + ' ' if message else ''}Tensor {xt.name} must have rank {int(rank)}"
            return Assert(M.equal(_rank(xt), constant(int(rank))), [text] + list(data or []))
    if xt.shape.ndims != int(rank):
        raise ValueError(f"{message + ' ' if message else ''}Tensor {xt.name} must have rank "
                         f"{int(rank)}. Received rank {xt.shape.ndims}, shape {xt.shape}")
    return no_op(name=name or "assert_rank")


def ensure_shape(x: Any, shape: Any, name: Optional[str] = None) -> Tensor:
    """``x``, with its static shape merged with ``shape`` (None dims and an unknown rank are
    wildcards), checked at run time where the static shape cannot decide: a run whose value
    has another rank or dim fails with InvalidArgumentError. Statically incompatible shapes
    are a ValueError at graph build."""
    from .array_extra import rank as _rank
    from .array_ops import identity, shape as _shape
    from .extra_ops import concat
    from .graph import TensorShape, control_dependencies
    xt = convert_to_tensor(x)
    want = TensorShape(shape)
    if not xt.shape.is_compatible_with(want):
        raise ValueError(f"tf.ensure_shape: {xt.name} has shape {xt.shape}, which is not "
                         f"compatible with the expected shape {want}")
    if want.dims is None:
        return identity(xt, name=name or "EnsureShape")
    have = xt.shape.dims
    open_dims = [i for i, d in enumerate(want.dims)
                 if d is not None and (have is None or have[i] is None)]
    with name_scope(name, "EnsureShape") as scope:
        checks = []
        text = f"Shape of tensor {xt.name} is not compatible with expected shape {want}"
        if have is None:
            checks.append(M.equal(_rank(xt), constant(len(want.dims))))
        if open_dims:
            # the run-time shape padded to the expected rank, so a wrong rank cannot index past it
            dims = concat([_shape(xt), constant(np.zeros(len(want.dims), np.int32))], 0)
            got = [dims[i] for i in open_dims]
            for g, i in zip(got, open_dims):
                checks.append(M.equal(g, constant(int(want.dims[i]))))
        deps = [Assert(c, [text]) for c in checks]
        with control_dependencies(deps):
            out = identity(xt, name=scope.rstrip("/").split("/")[-1])
    out.set_shape(xt.shape.merge_with(want) if have is not None else want)
    return out


def assert_scalar(tensor: Any, name: Optional[str] = None, message: Optional[str] = None) -> Any:
    xt = convert_to_tensor(tensor)
    assert_rank(xt, 0, message=message)
    return xt


def assert_type(tensor: Any, tf_type: Any, message: Optional[str] = None,
                name: Optional[str] = None) -> Operation:
    xt = convert_to_tensor(tensor)
    if xt.dtype is not as_dtype(tf_type):
        raise TypeError(f"{message + ' ' if message else ''}{xt.name} must be of type "
                        f"{as_dtype(tf_type).name}; got {xt.dtype.name}")
    return no_op(name=name or "assert_type")


def assert_integer(x: Any, message: Optional[str] = None, name: Optional[str] = None) -> Operation:
    xt = convert_to_tensor(x)
    if not xt.dtype.is_integer:
        raise TypeError(f"{message + ' ' if message else ''}Expected integer type for "
                        f"{xt.name}, got {xt.dtype.name}")
    return no_op(name=name or "assert_integer")
