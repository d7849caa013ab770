"""``tf.strings`` (and TF1's ``tf.string_join``, ``tf.substr``, ``tf.regex_replace``,
``tf.reduce_join``) on host string tensors: elementwise over NumPy object arrays of bytes,
with TF's broadcasting; numeric results (``length``) are host-fed tensors that compiled ops
consume. ``regex_replace`` uses Python's ``re`` (TF uses RE2: the common syntax is the same).
"""
from __future__ import annotations

import builtins
import re
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ...errors import InvalidArgumentError
from ...ir.dtypes import int32
from ...ir.types import ShapeMismatch, broadcast_shapes
from ..graph import TensorShape
from .hostfeed import HostNode, StringTensor, registry_for
from .string_ops import _string_input, string_constant
from .structure import string


def _bytes(x: Any) -> bytes:
    return x if isinstance(x, bytes) else str(x).encode()


def _host(fn: Callable, inputs: Sequence[StringTensor], shape: Any, name: str,
          dtype: Any = string) -> Any:
    node = HostNode(lambda sess, *vals: (fn(*[np.asarray(v, dtype=object) for v in vals]),),
                    list(inputs), name=name)
    return registry_for(inputs[0].graph).output(node, 0, dtype, shape, name)


def _strings(x: Any, what: str) -> StringTensor:
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], (str, bytes)):
        return string_constant(list(x))
    return _string_input(x, what)


def _broadcast_shape(shapes: Sequence[TensorShape]) -> TensorShape:
    try:
        return TensorShape(broadcast_shapes(*[s.dims for s in shapes]))
    except ShapeMismatch:
        raise ValueError(f"shapes {[str(s) for s in shapes]} do not broadcast") from None


def join(inputs: Sequence[Any], separator: str = "", name: Optional[str] = None) -> StringTensor:
    """Elementwise concatenation of the (broadcast) string tensors, with ``separator``."""
    ts = [_strings(x, "tf.strings.join") for x in inputs]
    if not ts:
        raise ValueError("tf.strings.join needs at least one input")
    sep = _bytes(separator)

    def fn(*vals):
        b = np.broadcast_arrays(*vals)
        out = np.empty(b[0].shape, dtype=object)
        for idx in np.ndindex(out.shape):
            out[idx] = sep.join(_bytes(v[idx]) for v in b)
        return out
    return _host(fn, ts, _broadcast_shape([t.shape for t in ts]), name or "StringJoin")


def _elementwise(x: Any, f: Callable[[bytes], Any], what: str, name: str,
                 dtype: Any = string) -> Any:
    s = _strings(x, what)
    otype = object if dtype is string else dtype.np
    return _host(lambda v: np.vectorize(lambda e: f(_bytes(e)), otypes=[otype])(v)
                 if v.size else np.empty(v.shape, otype), [s], s.shape, name, dtype)


def length(input: Any, name: Optional[str] = None, unit: str = "BYTE") -> Any:
    """The length of each string in bytes, or in Unicode characters (``unit="UTF8_CHAR"``)."""
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"unit must be BYTE or UTF8_CHAR, got {unit!r}")
    count = (lambda b: len(b)) if unit == "BYTE" else (lambda b: len(b.decode("utf-8")))
    return _elementwise(input, count, "tf.strings.length", name or "StringLength", int32)


def lower(input: Any, encoding: str = "", name: Optional[str] = None) -> StringTensor:
    return _elementwise(input, lambda b: b.lower() if not encoding else
                        b.decode(encoding).lower().encode(encoding), "tf.strings.lower",
                        name or "StringLower")


def upper(input: Any, encoding: str = "", name: Optional[str] = None) -> StringTensor:
    return _elementwise(input, lambda b: b.upper() if not encoding else
                        b.decode(encoding).upper().encode(encoding), "tf.strings.upper",
                        name or "StringUpper")


def strip(input: Any, name: Optional[str] = None) -> StringTensor:
    return _elementwise(input, lambda b: b.strip(), "tf.strings.strip", name or "StringStrip")


def regex_replace(input: Any, pattern: str, rewrite: str, replace_global: bool = True,
                  name: Optional[str] = None) -> StringTensor:
    try:
        rx = re.compile(_bytes(pattern))
    except re.error as e:
        raise InvalidArgumentError(f"Invalid pattern: {pattern!r}: {e}") from None
    rw = _bytes(rewrite)
    return _elementwise(input, lambda b: rx.sub(rw, b, count=0 if replace_global else 1),
                        "tf.strings.regex_replace", name or "RegexReplace")


def substr(input: Any, pos: int, len: int, name: Optional[str] = None,  # noqa: A002
           unit: str = "BYTE") -> StringTensor:  # (TF's argument names)
    """``len`` bytes (or characters) from ``pos`` of each string (TF: a pos past the end is
    an error)."""
    p, n = int(pos), int(len)

    def cut(b: bytes) -> bytes:
        s = b if unit == "BYTE" else b.decode("utf-8")
        if p > builtins.len(s) or p < -builtins.len(s):
            raise InvalidArgumentError(f"pos {p} out of range for string {b!r}")
        out = s[p:p + n] if p >= 0 else s[p:][:n]
        return out if unit == "BYTE" else out.encode("utf-8")
    return _elementwise(input, cut, "tf.strings.substr", name or "Substr")



def reduce_join(inputs: Any, axis: Any = None, keep_dims: bool = False, separator: str = "",
                name: Optional[str] = None, keepdims: Optional[bool] = None) -> StringTensor:
    """Joins the strings along ``axis`` (all axes when None)."""
    s = _strings(inputs, "tf.strings.reduce_join")
    keep = bool(keepdims if keepdims is not None else keep_dims)
    sep = _bytes(separator)
    rank = s.shape.ndims
    if rank is None:
        raise ValueError("tf.strings.reduce_join needs an input of known rank")
    axes = tuple(range(rank)) if axis is None else tuple(
        a % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis]))

    def fn(v):
        moved = np.moveaxis(v, axes, tuple(range(v.ndim - len(axes), v.ndim)))
        lead = moved.shape[:v.ndim - len(axes)]
        flat = moved.reshape(lead + (-1,))
        out = np.empty(lead, dtype=object)
        for idx in np.ndindex(lead):
            out[idx] = sep.join(_bytes(e) for e in flat[idx])
        return out.reshape([1 if i in axes else d for i, d in enumerate(v.shape)]) if keep else out
    dims = s.shape.dims
    shape = [1 if i in axes else d for i, d in enumerate(dims)] if keep else [
        d for i, d in enumerate(dims) if i not in axes]
    return _host(fn, [s], shape, name or "ReduceJoin")
