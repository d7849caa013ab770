"""Nested element structures (tuples, lists, dicts, namedtuples of components) and the
per-component specs of tf.data, plus the host-only dtype ``tf.string``."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...ir.dtypes import DType, as_dtype
from ..graph import TensorShape


class HostDType:
    """A dtype jitflow's compiled code does not have: strings. Their values live on the host
    (tf.data parsing, decode_raw, queues, the string ops)."""

    def __init__(self, name: str, np_dtype: Any) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating = False
        self.is_integer = False
        self.is_bool = False

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    @property
    def base_dtype(self) -> "HostDType":
        return self

    @property
    def dtype(self):   # NumPy asks for this when a graph op converts the object to a dtype
        raise TypeError(f"dtype {self.name} is not supported by jitflow in compiled graph "
                        "tensors; it exists for host-side input pipelines (tf.data parsing, "
                        "decode_raw, queues) and the string ops")

    def __repr__(self) -> str:
        return f"tf.{self.name}"


string = HostDType("string", object)
HOST_DTYPES = {"string": string}


def is_string(dtype: Any) -> bool:
    return getattr(dtype, "name", dtype) == "string" or dtype is str or dtype is bytes


def to_dtype(x: Any) -> Any:
    """A jitflow DType, or ``string``."""
    if is_string(x):
        return string
    if isinstance(x, DType):
        return x
    try:
        npd = np.dtype(getattr(x, "np", x))
    except TypeError:
        return as_dtype(x)
    if npd.kind in "SUO":
        return string
    return as_dtype(npd)


def array_of(value: Any, dtype: Any = None) -> np.ndarray:
    """``value`` as a component array: strings as object arrays of bytes, numbers in a
    jitflow dtype (``dtype`` when given)."""
    if dtype is not None and is_string(dtype) or dtype is None and _looks_stringy(value):
        arr = np.asarray(value, dtype=object)
        if arr.ndim == 0:
            return np.asarray(_as_bytes(arr[()]), dtype=object)
        return np.vectorize(_as_bytes, otypes=[object])(arr) if arr.size else arr
    arr = np.asarray(value)
    target = to_dtype(arr.dtype if dtype is None else dtype)
    if is_string(target):
        return array_of(value, string)
    return arr if arr.dtype == target.np else arr.astype(target.np)


def _looks_stringy(value: Any) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "SUO"
    if isinstance(value, (list, tuple)) and value:
        return _looks_stringy(value[0])
    return False


def _as_bytes(s: Any) -> bytes:
    return s.encode() if isinstance(s, str) else bytes(s)


class Spec:
    """One component: its dtype (a jitflow DType or ``string``) and static shape."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: Any, shape: Any) -> None:
        self.dtype = dtype
        self.shape = shape if isinstance(shape, TensorShape) else TensorShape(shape)

    def __repr__(self) -> str:
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Spec) and self.dtype is other.dtype and \
            self.shape.dims == other.shape.dims

    __hash__ = object.__hash__


# ------------------------------------------------------------------ nesting ----------------

def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def is_nested(x: Any) -> bool:
    return isinstance(x, (tuple, dict))


def flatten(x: Any) -> list:
    """Leaves in order (dict keys sorted, as tf.nest does). As in tf.data, a Python *list* is
    one component (a tensor), not a structure; tuples, namedtuples and dicts nest."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, tuple):
        return [leaf for e in x for leaf in flatten(e)]
    return [x]


def pack_as(structure: Any, leaves: list) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s) if type(s) is not dict else \
                {k: built[k] for k in s}
        if _is_namedtuple(s):
            return type(s)(*[build(e) for e in s])
        if isinstance(s, tuple):
            return tuple(build(e) for e in s)
        return next(it)
    return build(structure)


def map_structure(fn: Callable, structure: Any) -> Any:
    return pack_as(structure, [fn(x) for x in flatten(structure)])


def same_structure(a: Any, b: Any) -> bool:
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b) and \
            all(same_structure(a[k], b[k]) for k in a)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and \
            len(a) == len(b) and all(same_structure(x, y) for x, y in zip(a, b))
    return True
