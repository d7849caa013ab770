"""Numbers to strings and strings to pieces, on the host: ``tf.as_string`` (TF's printf
formats: precision, scientific, shortest, width, fill), TF1's ``tf.string_split`` and
``tf.strings.split``, whose result is a ``SparseTensor`` (indices, values, dense_shape) as in
TF1. A numeric input is computed by a nested run with the same feeds (``GraphValue``)."""
from __future__ import annotations

import collections
from typing import Any, Optional

import numpy as np

from ...errors import InvalidArgumentError
from ...ir.dtypes import int64
from ..graph import Tensor
from ..op_builder import convert_to_tensor
from .hostfeed import FEEDS, HostNode, StringTensor, registry_for
from .strings import _strings
from .structure import string

SparseTensorValue = collections.namedtuple("SparseTensorValue", ["indices", "values",
                                                                 "dense_shape"])


class SparseTensor:
    """TF1's ``SparseTensor`` of host tensors: ``indices`` (int64 [N, rank]), ``values``
    ([N]) and ``dense_shape`` (int64 [rank]); fetching it gives a ``SparseTensorValue``."""

    def __init__(self, indices: Any, values: Any, dense_shape: Any) -> None:
        self.indices, self.values, self.dense_shape = indices, values, dense_shape

    @property
    def dtype(self) -> Any:
        return self.values.dtype

    @property
    def graph(self) -> Any:
        return self.indices.graph

    def _fetch_parts(self):
        return [self.indices, self.values, self.dense_shape], lambda v: SparseTensorValue(*v)

    def __repr__(self) -> str:
        return (f"SparseTensor(indices={self.indices!r}, values={self.values!r}, "
                f"dense_shape={self.dense_shape!r})")


class GraphValue:
    """A numeric graph tensor read by a host node: run once per host evaluation, with the
    run's feeds."""

    def __init__(self, t: Tensor) -> None:
        self.t = t
        self.graph = t.graph

    def evaluate(self, session: Any, ctx: dict) -> Any:
        key = ("graph value", id(self.t))
        if key not in ctx:
            ctx[key] = np.asarray(session.run(self.t, ctx.get(FEEDS)))
        return ctx[key]


# ------------------------------------------------------------------ as_string ----------------

_FILLS = " +-0#"


def _format(dt: Any, precision: int, scientific: bool, shortest: bool, width: int,
            fill: str) -> str:
    """The printf format TF's AsString builds (as_string_op.cc), with its checks."""
    if scientific and shortest:
        raise InvalidArgumentError("Cannot select both scientific and shortest notation")
    if len(fill) > 1:
        raise InvalidArgumentError(f"Fill string must be one or fewer characters: {fill!r}")
    if fill and fill not in _FILLS:
        raise InvalidArgumentError(f"Fill argument not supported: {fill!r}")
    if not (dt.is_floating or dt.is_complex):
        if scientific:
            raise InvalidArgumentError(f"scientific not supported for type {dt.name}")
        if shortest:
            raise InvalidArgumentError(f"shortest not supported for type {dt.name}")
        if precision > -1:
            raise InvalidArgumentError(f"precision not supported for type {dt.name}")
    fmt = "%" + fill + (str(width) if width > -1 else "")
    if dt.is_floating or dt.is_complex:
        fmt += (f".{precision}" if precision > -1 else "") + \
            ("g" if shortest else "e" if scientific else "f")
    else:
        fmt += "d"
    return fmt


def as_string(input: Any, precision: int = -1, scientific: bool = False,  # noqa: A002
              shortest: bool = False, width: int = -1, fill: str = "",
              name: Optional[str] = None) -> StringTensor:
    """``tf.as_string``: each number as text, in TF's formats (floats ``%f``, ``%e`` with
    ``scientific``, ``%g`` with ``shortest``; ``precision`` digits; ``width`` padded with
    ``fill``, one of ' +-0#'); bools as ``true``/``false``; complex as ``(re,im)``."""
    x = convert_to_tensor(input)
    dt = x.dtype
    fmt = None if dt.is_bool else _format(dt, precision, scientific, shortest, width, fill)

    def one(v: Any) -> bytes:
        if fmt is None:
            return b"true" if v else b"false"
        if dt.is_complex:
            return f"({fmt % float(v.real)},{fmt % float(v.imag)})".encode()
        return (fmt % (float(v) if dt.is_floating else int(v))).encode()

    def fn(session: Any, v: Any) -> tuple:
        v = np.asarray(v)
        out = np.empty(v.shape, dtype=object)
        for idx in np.ndindex(v.shape):
            out[idx] = one(v[idx])
        return (out,)
    node = HostNode(fn, [GraphValue(x)], name=name or "AsString")
    return registry_for(x.graph).output(node, 0, string, x.shape.dims, name or "AsString")


# ------------------------------------------------------------------ split -------------------

def _split_node(source: Any, split: Any, what: str, name: str) -> SparseTensor:
    s = _strings(source, what)
    if s.shape.ndims not in (None, 1):
        raise ValueError(f"{what}: the input must be a vector (rank 1), got shape {s.shape}")

    def fn(session: Any, v: Any) -> tuple:
        v = np.asarray(v, dtype=object).reshape(-1)
        idx, vals, width = [], [], 0
        for i, e in enumerate(v):
            parts = split(e if isinstance(e, bytes) else str(e).encode())
            width = max(width, len(parts))
            idx.extend([i, j] for j in range(len(parts)))
            vals.extend(parts)
        return (np.asarray(idx, np.int64).reshape(-1, 2), np.asarray(vals, dtype=object),
                np.asarray([len(v), width], np.int64))
    node = HostNode(fn, [s], name=name)
    reg = registry_for(s.graph)
    return SparseTensor(reg.output(node, 0, int64, [None, 2], name + "_indices"),
                        reg.output(node, 1, string, [None], name + "_values"),
                        reg.output(node, 2, int64, [2], name + "_shape"))


def string_split(source: Any, delimiter: Any = " ", skip_empty: bool = True,
                 name: Optional[str] = None) -> SparseTensor:
    """TF1's ``tf.string_split``: every character of ``delimiter`` splits (an empty
    delimiter splits into characters); empty pieces dropped with ``skip_empty``."""
    d = delimiter if isinstance(delimiter, bytes) else str(delimiter).encode()

    def split(b: bytes) -> list:
        if not d:
            return [b[i:i + 1] for i in range(len(b))]
        parts, cur = [], bytearray()
        for ch in b:
            if ch in d:
                parts.append(bytes(cur))
                cur = bytearray()
            else:
                cur.append(ch)
        parts.append(bytes(cur))
        return [p for p in parts if p] if skip_empty else parts
    return _split_node(source, split, "tf.string_split", name or "StringSplit")


def split(input: Any = None, sep: Any = None, maxsplit: int = -1,  # noqa: A002
          result_type: str = "SparseTensor", source: Any = None,
          name: Optional[str] = None) -> SparseTensor:
    """TF1's ``tf.strings.split`` (StringSplitV2): Python's ``bytes.split(sep, maxsplit)``
    per string (``sep=None``: runs of whitespace), as a SparseTensor. ``result_type=
    "RaggedTensor"`` is not available: jitflow has no RaggedTensor."""
    if result_type != "SparseTensor":
        raise NotImplementedError("tf.strings.split(result_type='RaggedTensor'): jitflow has no "
                                  "RaggedTensor; use the SparseTensor result")
    x = source if input is None else input
    s = None if sep is None else (sep if isinstance(sep, bytes) else str(sep).encode())
    if s == b"":
        raise InvalidArgumentError("tf.strings.split: sep must not be empty (None splits on "
                                   "whitespace)")
    return _split_node(x, lambda b: b.split(s, maxsplit), "tf.strings.split",
                       name or "StringSplitV2")
